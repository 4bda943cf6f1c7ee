/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
export type HostConnectionState =
  | 'CONNECTED'
  | 'DISCONNECTED'
  | 'NOT_RESPONDING';

export type HostPatchScanStartInput = {
  hostIds: Array<string | number>;
  /** URLs of depot metadata.zip files. */
  metaUrls: Array<string>;
  options?: PatchScanOptions | null | undefined;
};

/** Options handed to the host's patch tool (HostPatchManagerPatchManagerOperationSpec). */
export type PatchScanOptions = {
  cmdOption?: string | null | undefined;
  /** Sent to vCenter only; never logged or returned. */
  password?: string | null | undefined;
  port?: number | null | undefined;
  /** Proxy for reaching the depot. */
  proxy?: string | null | undefined;
  userName?: string | null | undefined;
};

export type PatchScanState =
  | 'ERROR'
  | 'QUEUED'
  | 'RUNNING'
  | 'SUCCESS';

export type FleetQueryVariables = Exact<{ [key: string]: never; }>;


export type FleetQuery = { vcenters: Array<{ name: string }>, clusters: { totalCount: number, nodes: Array<{ id: string, name: string, hosts: { nodes: Array<{ id: string, name: string, connectionState: HostConnectionState }> } | null }> } };

export type StartHostScanMutationVariables = Exact<{
  input: HostPatchScanStartInput;
}>;


export type StartHostScanMutation = { hostPatchScanStart: { scans: Array<{ id: string, state: PatchScanState }>, userErrors: Array<{ code: string, message: string, field: Array<string> | null }> } };

export type FollowScansSubscriptionVariables = Exact<{
  ids: Array<string | number> | string | number;
}>;


export type FollowScansSubscription = { patchScanUpdated: { id: string, state: PatchScanState, progress: number | null, cancelled: boolean, error: { code: string } | null } };


export const FleetDocument = {"__meta__":{"hash":"sha256:cc74dafeefbaa1ce9f0c0daaf9373fda2c443ab87734bf7c3b5842011d5782c3"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Fleet"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"vcenters"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"clusters"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"hosts"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"connectionState"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<FleetQuery, FleetQueryVariables>;
export const StartHostScanDocument = {"__meta__":{"hash":"sha256:894a0b696131365864186a5cb4327e8636cd5c8647ab7ea1d8821fa6577a7123"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"StartHostScan"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"HostPatchScanStartInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hostPatchScanStart"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"scans"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"state"}}]}},{"kind":"Field","name":{"kind":"Name","value":"userErrors"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"field"}}]}}]}}]}}]} as unknown as DocumentNode<StartHostScanMutation, StartHostScanMutationVariables>;
export const FollowScansDocument = {"__meta__":{"hash":"sha256:b0a7f45a7cb8d504d50fd0563febd61eb001da73d7a9d5e970669d93e33c3e47"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"FollowScans"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"ids"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"patchScanUpdated"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"ids"},"value":{"kind":"Variable","name":{"kind":"Name","value":"ids"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"progress"}},{"kind":"Field","name":{"kind":"Name","value":"cancelled"}},{"kind":"Field","name":{"kind":"Name","value":"error"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}}]}}]}}]}}]} as unknown as DocumentNode<FollowScansSubscription, FollowScansSubscriptionVariables>;