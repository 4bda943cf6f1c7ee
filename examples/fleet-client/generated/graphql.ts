/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** vCenter's connection to a host. */
export type HostConnectionState =
  | 'CONNECTED'
  | 'DISCONNECTED'
  | 'NOT_RESPONDING'
  /** A state added by a later vSphere release (see connectionStateRaw). */
  | 'UNKNOWN';

/** Input of hostPatchScanStart. */
export type HostPatchScanStartInput = {
  /** Hosts to scan (global IDs); repeats are scanned once. */
  hostIds: Array<string | number>;
  /** URLs of depot metadata.zip files, each on the gateway's depot allowlist. */
  metaUrls: Array<string>;
  /** Options for the host's patch tool. */
  options?: PatchScanOptions | null | undefined;
};

/** Why a scan ended in ERROR (PatchScanError.code). */
export type PatchScanErrorCode =
  /** The scan was cancelled (RequestCanceled). */
  | 'CANCELLED'
  /** Any other problem reading the depot (PlatformConfigFault). */
  | 'DEPOT_ERROR'
  /** The depot answered, but not with metadata at that URL (e.g. HTTP 404). */
  | 'DEPOT_NOT_FOUND'
  /** The host refused the depot's TLS certificate. */
  | 'DEPOT_TLS_ERROR'
  /** The host could not reach the depot (name resolution, connection, timeout). */
  | 'DEPOT_UNREACHABLE'
  /** The host cannot fetch a URL of that kind. */
  | 'DEPOT_UNSUPPORTED_URL'
  /** Any other fault; its type is in PatchScanError.fault. */
  | 'OTHER';

/** Options handed to the host's patch tool (HostPatchManagerPatchManagerOperationSpec). */
export type PatchScanOptions = {
  /** Extra options for the host's patch tool. Refused (OPTION_NOT_ALLOWED) unless the gateway configuration allows it (depots.allowCmdOption). */
  cmdOption?: string | null | undefined;
  /** Sent to vCenter only; never logged or returned. */
  password?: string | null | undefined;
  /** Port of the proxy. */
  port?: number | null | undefined;
  /** Proxy for reaching the depot. Refused (OPTION_NOT_ALLOWED) unless the gateway configuration allows it (depots.allowProxy). */
  proxy?: string | null | undefined;
  /** User name for the depot. */
  userName?: string | null | undefined;
};

/** The state of a scan's vCenter Task. */
export type PatchScanState =
  | 'ERROR'
  /** vCenter no longer has the scan's task (finished tasks leave after a while): its outcome is unknown. Terminal. */
  | 'EXPIRED'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCESS'
  /** A task state added by a later vSphere release (see stateRaw). Not terminal. */
  | 'UNKNOWN';

/** Kinds of UserError. */
export type UserErrorCode =
  /** The input is malformed or out of bounds. */
  | 'BAD_USER_INPUT'
  /** The depot URL is not on the gateway's depot allowlist (or is not written canonically). */
  | 'DEPOT_NOT_ALLOWED'
  /** vCenter refused the call for lack of permission. */
  | 'FORBIDDEN'
  /** The host is not connected to vCenter. */
  | 'HOST_NOT_CONNECTED'
  /** The gateway failed unexpectedly (logged for operators). */
  | 'INTERNAL_SERVER_ERROR'
  /** The scan cannot be cancelled (finished, or not cancelable). */
  | 'NOT_CANCELABLE'
  /** The object named does not exist (any more). */
  | 'NOT_FOUND'
  /** The host cannot run patch scans (vCenter lists no patch manager for it). */
  | 'NOT_SUPPORTED'
  /** The option is an operator setting the gateway configuration does not allow clients to set. */
  | 'OPTION_NOT_ALLOWED'
  /** A scan already runs on the host. */
  | 'TASK_IN_PROGRESS'
  /** The vCenter's certificate was refused. */
  | 'TLS_ERROR'
  /** Hosts × depot URLs of the call exceed the gateway's bound on depot fetches per call. */
  | 'TOO_MANY_DEPOT_FETCHES'
  /** vCenter refused the gateway's credentials. */
  | 'UNAUTHENTICATED'
  /** vCenter failed in another way; see upstreamFault. */
  | 'UPSTREAM_ERROR'
  /** vCenter did not answer in time. */
  | 'UPSTREAM_TIMEOUT'
  /** The vCenter is unavailable (circuit open or unreachable). */
  | 'VCENTER_UNAVAILABLE'
  /** The vCenter's VI/JSON API is unavailable. */
  | 'VIM_API_UNAVAILABLE';

export type FleetQueryVariables = Exact<{ [key: string]: never; }>;


export type FleetQuery = { vcenters: Array<{ name: string }>, clusters: { totalCount: number, nodes: Array<{ id: string, name: string, hosts: { nodes: Array<{ id: string, name: string, connectionState: HostConnectionState }> } | null }> } };

export type StartHostScanMutationVariables = Exact<{
  input: HostPatchScanStartInput;
}>;


export type StartHostScanMutation = { hostPatchScanStart: { scans: Array<{ id: string, state: PatchScanState }>, userErrors: Array<{ code: UserErrorCode, message: string, field: Array<string> | null }> } };

export type FollowScansSubscriptionVariables = Exact<{
  ids: Array<string | number> | string | number;
}>;


export type FollowScansSubscription = { patchScanUpdated: { id: string, state: PatchScanState, progress: number | null, cancelled: boolean, error: { code: PatchScanErrorCode } | null } };


export const FleetDocument = {"__meta__":{"hash":"sha256:cc74dafeefbaa1ce9f0c0daaf9373fda2c443ab87734bf7c3b5842011d5782c3"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Fleet"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"vcenters"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"clusters"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"hosts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"connectionState"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<FleetQuery, FleetQueryVariables>;
export const StartHostScanDocument = {"__meta__":{"hash":"sha256:894a0b696131365864186a5cb4327e8636cd5c8647ab7ea1d8821fa6577a7123"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"StartHostScan"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"HostPatchScanStartInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hostPatchScanStart"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"scans"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"state"}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<StartHostScanMutation, StartHostScanMutationVariables>;
export const FollowScansDocument = {"__meta__":{"hash":"sha256:b0a7f45a7cb8d504d50fd0563febd61eb001da73d7a9d5e970669d93e33c3e47"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"FollowScans"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"ids"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"patchScanUpdated"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"ids"},"value":{"kind":"Variable","name":{"kind":"Name","value":"ids"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"progress"}},{"kind":"Field","name":{"kind":"Name","value":"cancelled"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}}]}}]}}]}}]} as unknown as DocumentNode<FollowScansSubscription, FollowScansSubscriptionVariables>;