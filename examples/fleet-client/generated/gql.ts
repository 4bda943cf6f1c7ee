/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query Fleet {\n    vcenters {\n      name\n    }\n    clusters {\n      totalCount\n      nodes {\n        id\n        name\n        hosts {\n          nodes {\n            id\n            name\n            connectionState\n          }\n        }\n      }\n    }\n  }\n": typeof types.FleetDocument,
    "\n  mutation StartHostScan($input: HostPatchScanStartInput!) {\n    hostPatchScanStart(input: $input) {\n      scans {\n        id\n        state\n      }\n      userErrors {\n        code\n        message\n        field\n      }\n    }\n  }\n": typeof types.StartHostScanDocument,
    "\n  subscription FollowScans($ids: [ID!]!) {\n    patchScanUpdated(ids: $ids) {\n      id\n      state\n      progress\n      cancelled\n      error {\n        code\n      }\n    }\n  }\n": typeof types.FollowScansDocument,
};
const documents: Documents = {
    "\n  query Fleet {\n    vcenters {\n      name\n    }\n    clusters {\n      totalCount\n      nodes {\n        id\n        name\n        hosts {\n          nodes {\n            id\n            name\n            connectionState\n          }\n        }\n      }\n    }\n  }\n": types.FleetDocument,
    "\n  mutation StartHostScan($input: HostPatchScanStartInput!) {\n    hostPatchScanStart(input: $input) {\n      scans {\n        id\n        state\n      }\n      userErrors {\n        code\n        message\n        field\n      }\n    }\n  }\n": types.StartHostScanDocument,
    "\n  subscription FollowScans($ids: [ID!]!) {\n    patchScanUpdated(ids: $ids) {\n      id\n      state\n      progress\n      cancelled\n      error {\n        code\n      }\n    }\n  }\n": types.FollowScansDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Fleet {\n    vcenters {\n      name\n    }\n    clusters {\n      totalCount\n      nodes {\n        id\n        name\n        hosts {\n          nodes {\n            id\n            name\n            connectionState\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query Fleet {\n    vcenters {\n      name\n    }\n    clusters {\n      totalCount\n      nodes {\n        id\n        name\n        hosts {\n          nodes {\n            id\n            name\n            connectionState\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation StartHostScan($input: HostPatchScanStartInput!) {\n    hostPatchScanStart(input: $input) {\n      scans {\n        id\n        state\n      }\n      userErrors {\n        code\n        message\n        field\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation StartHostScan($input: HostPatchScanStartInput!) {\n    hostPatchScanStart(input: $input) {\n      scans {\n        id\n        state\n      }\n      userErrors {\n        code\n        message\n        field\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription FollowScans($ids: [ID!]!) {\n    patchScanUpdated(ids: $ids) {\n      id\n      state\n      progress\n      cancelled\n      error {\n        code\n      }\n    }\n  }\n"): (typeof documents)["\n  subscription FollowScans($ids: [ID!]!) {\n    patchScanUpdated(ids: $ids) {\n      id\n      state\n      progress\n      cancelled\n      error {\n        code\n      }\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;