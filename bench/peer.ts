/**
 * The peer of scenario 1: what users pick instead of this gateway — GraphQL Mesh generated from
 * the vCenter REST OpenAPI spec. Built the way Mesh builds an OpenAPI source:
 * `@omnigraph/openapi`'s `loadGraphQLSchemaFromOpenAPI` over the official spec subset, used
 * as-is (`vcenter-subset.yaml` from `specDir()`, the subset the simulator validates against:
 * cluster list, host list, installed images), one source per vCenter, each prefixed (Mesh's prefix transform), stitched
 * with `@graphql-tools/stitch` (Mesh's stitching merger), and the two joins a user adds in the
 * Mesh config as `additionalTypeDefs` + `@resolveTo` (cluster → its hosts, cluster → its
 * installed images), served by graphql-yoga.
 *
 * Authentication as the spec declares it (`api_key_auth`): one `POST /api/session` with the
 * simulator's basic credentials, then `vmware-api-session-id` as an operation header. TLS
 * trusts the simulator's CA only.
 *
 * What it can fetch is a subset of the gateway's fleet query: the REST spec has no host product
 * (name/version/build) nor maintenance mode (vim25 only), and no per-host installed image other
 * than through the cluster's report. See peerQuery.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { OperationTypeNode } from 'graphql';
import type { GraphQLResolveInfo } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { loadGraphQLSchemaFromOpenAPI } from '@omnigraph/openapi';
import { stitchSchemas } from '@graphql-tools/stitch';
import { delegateToSchema } from '@graphql-tools/delegate';
import type { SubschemaConfig } from '@graphql-tools/delegate';
import { RenameRootFields, RenameTypes } from '@graphql-tools/wrap';
import { Agent, fetch as undiciFetch } from 'undici';
import { specDir } from '../src/simulator/spec-schemas.ts';


/**
 * The peer's fleet query, per vCenter: every cluster (ID, name, HA, DRS), each cluster's hosts
 * (ID, name, connection and power state) and each cluster's installed-images report with the same
 * selection as the gateway's FLEET_QUERY. Not fetched (not in the REST spec): host product and
 * maintenance mode, and each host's own installed image (the gateway derives it from the report).
 */
export function peerQuery(prefixes: readonly string[]): string {
  const images = /* GraphQL */ `
    status completion_time uniform_image
    successful_hosts failed_hosts unsupported_hosts
    image_categories {
      is_highest_and_widely_used_image_equal
      most_widely_used_image { software_info { base_image { version details { display_version } } } host_list }
      highest_versioned_image { software_info { base_image { version } } host_list }
      host_image_list { software_info { base_image { version } add_on { name version } components } host_list }
    }
    host_notifications host_info orphaned_vibs notifications`;
  const perVcenter = (p: string) => /* GraphQL */ `
    ${p}: ${p}_Vcenter_Cluster_list {
      cluster name ha_enabled drs_enabled
      hosts { host name connection_state power_state }
      installedImages { ${images} }
    }`;
  return `query PeerFleet {${prefixes.map(perVcenter).join('')}\n}`;
}

export interface PeerStart {
  vcenters: { name: string; url: string }[];
  username: string;
  password: string;
  caPem: string | undefined;
}

async function login(vcenterUrl: string, username: string, password: string, fetchFn: typeof undiciFetch): Promise<string> {
  const res = await fetchFn(`${vcenterUrl}/api/session`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`peer login to ${vcenterUrl}: HTTP ${res.status}`);
  return (await res.json()) as string;
}

/** Root fields and types omnigraph generates from the spec's operationIds and schema names. */
const CLUSTER_LIST = 'Vcenter_Cluster_list';
const HOST_LIST = 'Vcenter_Host_list';
const INSTALLED_IMAGES = 'Esx_Settings_Clusters_InstalledImages_get';
const CLUSTER_TYPE = 'Vcenter_Cluster_Summary';
const HOST_TYPE = 'Vcenter_Host_Summary';
const IMAGES_TYPE = 'Esx_Settings_Clusters_InstalledImages_InstalledImageInfo';

/** Builds the peer's schema and serves it; returns the GraphQL URL and a close function. */
export async function startPeer(opts: PeerStart): Promise<{ url: string; prefixes: string[]; close: () => Promise<void> }> {
  // At most 16 connections per vCenter, as the gateway's client: uncapped, a burst of concurrent
  // queries opens hundreds of TLS connections at once and some fail ("fetch failed").
  const dispatcher = new Agent({ connect: opts.caPem ? { ca: opts.caPem } : {}, connections: 16, keepAliveTimeout: 30_000 });
  const fetchFn = ((input: string, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher } as never)) as unknown as typeof undiciFetch;
  const prefixes = opts.vcenters.map((_, i) => `vc${i + 1}`);
  const subschemas: SubschemaConfig[] = [];
  for (const [i, vc] of opts.vcenters.entries()) {
    const prefix = prefixes[i]!;
    const session = await login(vc.url, opts.username, opts.password, fetchFn);
    const schema = await loadGraphQLSchemaFromOpenAPI(prefix, {
      // The same official subset the simulator validates against.
      source: join(specDir(), 'vcenter-subset.yaml'),
      cwd: specDir(),
      endpoint: `${vc.url}/api`,
      operationHeaders: { 'vmware-api-session-id': session },
      fetch: fetchFn as never,
      // The spec's Vapi.Std.Errors discriminator (whose mapping includes the base type itself)
      // crashes omnigraph 0.112's type composer; Mesh's own option leaves the error responses'
      // schemas out. The spec file is unchanged.
      ignoreErrorResponses: true,
    });
    for (const field of [CLUSTER_LIST, HOST_LIST, INSTALLED_IMAGES]) {
      if (!schema.getQueryType()?.getFields()[field]) throw new Error(`peer: the generated schema has no ${field}`);
    }
    subschemas.push({
      schema,
      transforms: [new RenameTypes((name) => `${prefix}_${name}`), new RenameRootFields((_op, name) => `${prefix}_${name}`)],
    });
  }
  const schema = stitchSchemas({
    subschemas,
    // The user's Mesh config: additionalTypeDefs with @resolveTo joins, one pair per vCenter source.
    typeDefs: prefixes.map((p) => `extend type ${p}_${CLUSTER_TYPE} { hosts: [${p}_${HOST_TYPE}] installedImages: ${p}_${IMAGES_TYPE} }`).join('\n'),
    resolvers: Object.fromEntries(
      prefixes.map((p, i) => {
        const subschema = subschemas[i]!;
        const join = (fieldName: string, args: (clusterId: string) => Record<string, unknown>) => ({
          selectionSet: '{ cluster }',
          resolve: (cluster: { cluster: string }, _args: unknown, context: Record<string, unknown>, info: GraphQLResolveInfo) =>
            delegateToSchema({ schema: subschema, operation: OperationTypeNode.QUERY, fieldName, args: args(cluster.cluster), context, info }),
        });
        return [`${p}_${CLUSTER_TYPE}`, { hosts: join(`${p}_${HOST_LIST}`, (id) => ({ clusters: [id] })), installedImages: join(`${p}_${INSTALLED_IMAGES}`, (id) => ({ cluster: id })) }];
      }),
    ),
  });
  // Unmasked: the report names what failed (e.g. "fetch failed"), not "Unexpected error.".
  const yoga = createYoga({ schema, graphqlEndpoint: '/graphql', landingPage: false, graphiql: false, logging: false, maskedErrors: false });
  const server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    prefixes,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await dispatcher.close();
    },
  };
}
