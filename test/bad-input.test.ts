import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../src/graphql/ids.ts';
import { wsSubscribe } from './clients.ts';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

/** What a bad request sends over HTTP, and the code it must get back. */
interface BadInput {
  name: string;
  /** A GraphQL request, or a raw HTTP request for transport-level cases. */
  request: { query: string; variables?: Record<string, unknown> } | { raw: RequestInit };
  code: string;
  /** Where the code is: a top-level error (default) or a mutation payload's userErrors. */
  in?: 'errors' | 'userErrors';
  status?: number;
}

const HOST_SCAN = `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code field message } } }`;
const nested = (depth: number) => `{ clusters { nodes { ${'hosts { nodes { cluster { '.repeat(depth)} name ${'} } }'.repeat(depth)} } } }`;

function cases(ids: { vc: string; host: string; cluster: string }): BadInput[] {
  const json = { 'content-type': 'application/json' };
  return [
    { name: 'malformed ID', request: { query: '{ node(id: "garbage!") { id } }' }, code: 'BAD_USER_INPUT' },
    { name: 'base64 but not an ID', request: { query: `{ node(id: "${Buffer.from('hello').toString('base64url')}") { id } }` }, code: 'BAD_USER_INPUT' },
    { name: 'unknown type in ID', request: { query: `{ node(id: "${Buffer.from('v1|Datastore|vc|ds-1').toString('base64url')}") { id } }` }, code: 'BAD_USER_INPUT' },
    { name: 'unknown vCenter in ID', request: { query: `{ node(id: "${toGlobalId('Host', 'nope', 'host-1')}") { id } }` }, code: 'BAD_USER_INPUT' },
    { name: 'MoID with path characters', request: { query: `{ node(id: "${toGlobalId('Cluster', 'x', '../api/session')}") { id } }` }, code: 'BAD_USER_INPUT' },
    { name: 'empty ID', request: { query: '{ node(id: "") { id } }' }, code: 'BAD_USER_INPUT' },
    { name: 'oversized ID', request: { query: `{ node(id: "${'A'.repeat(5000)}") { id } }` }, code: 'BAD_USER_INPUT' },
    { name: 'too many IDs in nodes()', request: { query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: Array(501).fill(ids.vc) } }, code: 'BAD_USER_INPUT' },
    { name: 'wrong ID type in a filter', request: { query: `{ hosts(filter: { clusterIds: ["${ids.host}"] }) { totalCount } }` }, code: 'BAD_USER_INPUT' },
    { name: 'page size above maximum', request: { query: '{ hosts(first: 5000) { totalCount } }' }, code: 'BAD_USER_INPUT' },
    { name: 'negative page size', request: { query: '{ clusters(first: -1) { totalCount } }' }, code: 'BAD_USER_INPUT' },
    { name: 'foreign cursor', request: { query: '{ clusters(after: "not-our-cursor") { totalCount } }' }, code: 'BAD_USER_INPUT' },
    { name: 'oversized filter string', request: { query: 'query($s: String) { hosts(filter: { nameContains: $s }) { totalCount } }', variables: { s: 'x'.repeat(1000) } }, code: 'BAD_USER_INPUT' },
    { name: 'variable of the wrong type', request: { query: 'query($n: Int) { clusters(first: $n) { totalCount } }', variables: { n: 'ten' } }, code: 'BAD_USER_INPUT', status: 400 },
    { name: 'syntax error', request: { query: '{ clusters {' }, code: 'GRAPHQL_PARSE_FAILED' },
    { name: 'unknown field', request: { query: '{ clusterz { totalCount } }' }, code: 'GRAPHQL_VALIDATION_FAILED' },
    { name: 'query too deep', request: { query: nested(6) }, code: 'QUERY_TOO_DEEP', status: 400 },
    { name: 'query too costly', request: { query: '{ clusters(first: 1000) { nodes { hosts(first: 1000) { nodes { name product { build } } } } } }' }, code: 'QUERY_TOO_COMPLEX', status: 400 },
    { name: 'too many aliases', request: { query: `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: vcenters { name }`).join(' ')} }` }, code: 'TOO_MANY_ALIASES', status: 400 },
    { name: 'too many tokens', request: { query: `{ vcenters { ${'name '.repeat(4000)} } }` }, code: 'TOO_MANY_TOKENS' },
    { name: 'too many directives', request: { query: `{ vcenters { name ${'@include(if: true) '.repeat(40)} } }` }, code: 'TOO_MANY_DIRECTIVES', status: 400 },
    { name: 'no query', request: { raw: { method: 'POST', headers: json, body: '{}' } }, code: 'BAD_REQUEST' },
    { name: 'invalid JSON body', request: { raw: { method: 'POST', headers: json, body: '{"query": ' } }, code: 'BAD_REQUEST', status: 400 },
    { name: 'body too large', request: { raw: { method: 'POST', headers: json, body: JSON.stringify({ query: `{ vcenters { name } } #${'x'.repeat(300_000)}` }) } }, code: 'PAYLOAD_TOO_LARGE', status: 413 },
    { name: 'cross-site simple POST (CSRF)', request: { raw: { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ query: '{ vcenters { name } }' }) } }, code: 'CSRF_PREVENTED', status: 400 },
    { name: 'mutation over GET', request: { raw: { method: 'GET' } }, code: 'BAD_REQUEST', status: 405 },
    { name: 'depot URL with a bad scheme', request: { query: HOST_SCAN, variables: { input: { hostIds: [ids.host], metaUrls: ['ftp://depot.example/metadata.zip'] } } }, code: 'BAD_USER_INPUT', in: 'userErrors' },
    { name: 'too many depot URLs', request: { query: HOST_SCAN, variables: { input: { hostIds: [ids.host], metaUrls: Array(11).fill('https://depot.example/m.zip') } } }, code: 'BAD_USER_INPUT', in: 'userErrors' },
    { name: 'depot URL too long', request: { query: HOST_SCAN, variables: { input: { hostIds: [ids.host], metaUrls: [`https://depot.example/${'a'.repeat(3000)}`] } } }, code: 'BAD_USER_INPUT', in: 'userErrors' },
    { name: 'depot URL with credentials', request: { query: HOST_SCAN, variables: { input: { hostIds: [ids.host], metaUrls: ['https://u:p@depot.example/m.zip'] } } }, code: 'BAD_USER_INPUT', in: 'userErrors' },
    { name: 'too many hosts in one scan call', request: { query: HOST_SCAN, variables: { input: { hostIds: Array(201).fill(ids.host), metaUrls: ['https://depot.example/m.zip'] } } }, code: 'BAD_USER_INPUT', in: 'userErrors' },
    { name: 'oversized option string', request: { query: HOST_SCAN, variables: { input: { hostIds: [ids.host], metaUrls: ['https://depot.example/m.zip'], options: { cmdOption: 'x'.repeat(2000) } } } }, code: 'BAD_USER_INPUT', in: 'userErrors' },
    { name: 'port out of range', request: { query: HOST_SCAN, variables: { input: { hostIds: [ids.host], metaUrls: ['https://depot.example/m.zip'], options: { port: 0 } } } }, code: 'BAD_USER_INPUT', in: 'userErrors' },
    { name: 'cluster ID given as a host', request: { query: HOST_SCAN, variables: { input: { hostIds: [ids.cluster], metaUrls: ['https://depot.example/m.zip'] } } }, code: 'BAD_USER_INPUT', in: 'userErrors' },
  ];
}

describe('bad input gets a clear, typed error and the gateway keeps serving', () => {
  let h: Harness;
  let table: BadInput[];
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 2 } });
    const res = await h.gql(`{ vcenters { id } clusters(first: 1) { nodes { id hosts(first: 1) { nodes { id } } } } }`);
    table = cases({ vc: res.data.vcenters[0].id, cluster: res.data.clusters.nodes[0].id, host: res.data.clusters.nodes[0].hosts.nodes[0].id });
  });
  afterAll(() => h?.close());

  it('covers at least 25 bad inputs', () => {
    expect(table.length).toBeGreaterThanOrEqual(25);
  });

  it('answers every one with its exact code, without starting anything upstream', async () => {
    const scansBefore = h.sim.vcenters.map((v) => v.stats().requests['POST /sdk/vim25/{release}/HostPatchManager/{moId}/ScanHostPatchV2_Task'] ?? 0);
    const failures: string[] = [];
    for (const c of table) {
      let response: Response;
      if ('raw' in c.request) {
        const url = c.request.raw.method === 'GET' ? `${h.url}?query=${encodeURIComponent('mutation { patchScanCancel(input: { id: "x" }) { userErrors { code } } }')}` : h.url;
        response = await fetch(url, { ...c.request.raw, signal: AbortSignal.timeout(10_000) });
      } else {
        response = await fetch(h.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(c.request),
          signal: AbortSignal.timeout(10_000),
        });
      }
      const body = (await response.json()) as any;
      const got =
        c.in === 'userErrors'
          ? (Object.values(body.data ?? {})[0] as any)?.userErrors?.map((e: any) => e.code)
          : body.errors?.map((e: any) => e.extensions?.code);
      if (!got?.includes(c.code)) failures.push(`${c.name}: expected ${c.code}, got ${JSON.stringify(got)} (${JSON.stringify(body).slice(0, 200)})`);
      if (c.status !== undefined && response.status !== c.status) failures.push(`${c.name}: expected HTTP ${c.status}, got ${response.status}`);
      if (response.status >= 500) failures.push(`${c.name}: HTTP ${response.status}`);
      if (JSON.stringify(body).includes('"stack"')) failures.push(`${c.name}: a stack trace reached the client`);
    }
    expect(failures).toEqual([]);
    expect(h.sim.vcenters.map((v) => v.stats().requests['POST /sdk/vim25/{release}/HostPatchManager/{moId}/ScanHostPatchV2_Task'] ?? 0)).toEqual(scansBefore);

    // Still serving, with data.
    const after = await h.gql(`{ clusters { totalCount } }`);
    expect(after.errors).toBeUndefined();
    expect(after.data.clusters.totalCount).toBe(4);
  });

  it('answers a document that does not parse over graphql-ws on its subscription, not with an internal-error close', async () => {
    const result = await wsSubscribe(h.url, 'subscription { patchScanUpdated(ids: [) { id } }', {}, 5_000);
    expect(result.events.flatMap((e) => (e.errors ?? []).map((x) => x.extensions?.['code'] ?? x.message))).toEqual(['GRAPHQL_PARSE_FAILED']);
  });
});
