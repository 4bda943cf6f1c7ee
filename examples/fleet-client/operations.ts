/**
 * The operations this front end ships. `npm run codegen` turns each `graphql()` document into a
 * typed document (its result and variables types) and records it in
 * generated/persisted-documents.json, the manifest a gateway in trusted-documents mode accepts.
 */
import { graphql } from './generated/index.js';

export const FleetDocument = graphql(`
  query Fleet {
    vcenters {
      name
    }
    clusters {
      totalCount
      nodes {
        id
        name
        hosts {
          nodes {
            id
            name
            connectionState
          }
        }
      }
    }
  }
`);

export const StartHostScanDocument = graphql(`
  mutation StartHostScan($input: HostPatchScanStartInput!) {
    hostPatchScanStart(input: $input) {
      scans {
        id
        state
      }
      userErrors {
        code
        message
        field
      }
    }
  }
`);

export const FollowScansDocument = graphql(`
  subscription FollowScans($ids: [ID!]!) {
    patchScanUpdated(ids: $ids) {
      id
      state
      progress
      cancelled
      error {
        code
      }
    }
  }
`);
