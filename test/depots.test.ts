/**
 * Depot policy: hosts fetch what a scan names, from inside the datacenter, so only operator-
 * listed depots and options pass, checked on the exact string that is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../src/graphql/ids.ts';
import { DepotPolicy, summarizeDepotFault } from '../src/scans/depots.ts';
import { DEPOT_URLS } from '../src/simulator/index.ts';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const SCAN_ROUTE = 'POST /sdk/vim25/{release}/HostPatchManager/{moId}/ScanHostPatchV2_Task';
const START_HOSTS = `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { field code message upstreamFault } } }`;
const START_CLUSTER = `mutation($input: ClusterPatchScanStartInput!) { clusterPatchScanStart(input: $input) {
  scans { id } skippedHosts { host { moId } code reason } userErrors { field code } } }`;

describe('DepotPolicy', () => {
  const policy = new DepotPolicy({ allow: ['https://depot.example/esxi/', 'https://10.1.2.3:8443/', 'http://depot.lab'] });

  it('accepts URLs under a listed prefix, exactly as written', () => {
    expect(policy.refusal('https://depot.example/esxi/8.0/metadata.zip')).toBeUndefined();
    expect(policy.refusal('https://10.1.2.3:8443/metadata.zip')).toBeUndefined();
    // A bare origin is read as that origin and its "/".
    expect(policy.allowed).toContain('http://depot.lab/');
    expect(policy.refusal('http://depot.lab/metadata.zip')).toBeUndefined();
  });

  it.each([
    ['another host', 'https://depot.example.evil.net/esxi/metadata.zip'],
    ['the listed host name as a prefix of another', 'http://depot.lab.evil.net/metadata.zip'],
    ['another folder', 'https://depot.example/other/metadata.zip'],
    ['loopback', 'https://127.0.0.1/metadata.zip'],
    ['link-local (cloud metadata)', 'http://169.254.169.254/latest/meta-data'],
    ['a private address not listed', 'https://10.1.2.4:8443/metadata.zip'],
    ['IPv6 loopback', 'https://[::1]/metadata.zip'],
    ['IPv4-mapped IPv6', 'https://[::ffff:10.1.2.3]:8443/metadata.zip'],
    ['dot segments out of the folder', 'https://depot.example/esxi/../admin/metadata.zip'],
    ['encoded dot segments', 'https://depot.example/esxi/%2e%2e/admin/metadata.zip'],
    ['a backslash', 'https://depot.example/esxi\\..\\admin/metadata.zip'],
    ['a leading space', ' https://depot.example/esxi/metadata.zip'],
    ['CR/LF', 'https://depot.example/esxi/metadata.zip\r\nX-Injected: 1'],
    ['a tab inside', 'https://depot.example/es\txi/metadata.zip'],
    ['user-info', 'https://user:pw@depot.example/esxi/metadata.zip'],
    ['an upper-case host', 'https://DEPOT.example/esxi/metadata.zip'],
    ['not a URL', 'depot.example/esxi/metadata.zip'],
  ])('refuses %s', (_label, url) => {
    expect(policy.refusal(url)).toEqual({ reason: expect.any(String) });
  });

  it('allows nothing without a list, and no client proxy or cmdOption unless configured', () => {
    const none = new DepotPolicy();
    expect(none.refusal(DEPOT_URLS[0]!)).toBeDefined();
    expect([none.allowProxy, none.allowCmdOption]).toEqual([false, false]);
    expect(new DepotPolicy({ allowProxy: true, allowCmdOption: true })).toMatchObject({ allowProxy: true, allowCmdOption: true });
  });

  it('summarizes what hosts say about a depot in a few fixed sentences', () => {
    const url = 'https://depot.example/esxi/metadata.zip?X-Amz-Signature=abc123';
    const cases: [string, string][] = [
      [`Failed to download metadata from ${url}: HTTP Error 404: Not Found`, 'DEPOT_NOT_FOUND'],
      [`Could not download from depot at ${url}: <urlopen error [Errno -2] Name or service not known>`, 'DEPOT_UNREACHABLE'],
      [`<urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed> ${url}`, 'DEPOT_TLS_ERROR'],
      [`<urlopen error unknown url type: gopher> ${url}`, 'DEPOT_UNSUPPORTED_URL'],
      [`Metadata ${url} is corrupt`, 'DEPOT_ERROR'],
    ];
    for (const [text, code] of cases) {
      const summary = summarizeDepotFault(text);
      expect(summary.code).toBe(code);
      expect(summary.message).not.toContain('abc123');
      expect(summary.message).not.toContain('depot.example');
    }
  });
});

describe('scans and the depot policy over GraphQL', () => {
  let h: Harness;
  let hostIds: string[];
  let clusterId: string;
  const SIGNED = `${DEPOT_URLS[0]}?X-Amz-Signature=s3cr3t-signature`;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 4 }, patchScanDurationMs: 60_000 }, undefined, {
      depots: { allow: [DEPOT_URLS[0]!], maxFetchesPerCall: 4 },
    });
    const res = await h.gql(`{ clusters { nodes { id hosts { nodes { id moId connectionState } } } } }`);
    const cluster = res.data.clusters.nodes[0];
    clusterId = cluster.id;
    hostIds = cluster.hosts.nodes.filter((x: any) => x.connectionState === 'CONNECTED').map((x: any) => x.id);
  });
  afterAll(() => h?.close());

  const scansStarted = () => h.sim.vcenters[0]!.stats().requests[SCAN_ROUTE] ?? 0;

  it('refuses unlisted depots, client proxies and cmdOptions, and too many fetches, before anything starts', async () => {
    const cases: [Record<string, unknown>, string, string[]][] = [
      [{ hostIds: [hostIds[0]], metaUrls: ['https://169.254.169.254/latest/meta-data'] }, 'DEPOT_NOT_ALLOWED', ['metaUrls', '0']],
      [{ hostIds: [hostIds[0]], metaUrls: [DEPOT_URLS[1]] }, 'DEPOT_NOT_ALLOWED', ['metaUrls', '0']],
      [{ hostIds: [hostIds[0]], metaUrls: [`${DEPOT_URLS[0]}\r\n`] }, 'DEPOT_NOT_ALLOWED', ['metaUrls', '0']],
      [{ hostIds: [hostIds[0]], metaUrls: [DEPOT_URLS[0]], options: { proxy: 'proxy.internal' } }, 'OPTION_NOT_ALLOWED', ['options', 'proxy']],
      [{ hostIds: [hostIds[0]], metaUrls: [DEPOT_URLS[0]], options: { cmdOption: '--ignore-signatures' } }, 'OPTION_NOT_ALLOWED', ['options', 'cmdOption']],
      [{ hostIds: hostIds.slice(0, 3), metaUrls: [DEPOT_URLS[0], DEPOT_URLS[0]] }, 'TOO_MANY_DEPOT_FETCHES', ['hostIds']],
    ];
    const before = scansStarted();
    for (const [input, code, field] of cases) {
      const res = await h.gql(START_HOSTS, { input });
      expect(res.errors).toBeUndefined();
      expect(res.data.hostPatchScanStart).toEqual({ scans: [], userErrors: [{ field, code, message: expect.any(String), upstreamFault: null }] });
    }
    const cluster = await h.gql(START_CLUSTER, { input: { clusterId, metaUrls: [DEPOT_URLS[0], DEPOT_URLS[0]] } });
    expect(cluster.data.clusterPatchScanStart.userErrors).toEqual([{ field: ['clusterId'], code: 'TOO_MANY_DEPOT_FETCHES' }]);
    expect(scansStarted()).toBe(before);
  });

  it('answers NOT_FOUND in userErrors for a host vCenter does not know, logged as a client mistake', async () => {
    const missing = toGlobalId('Host', h.sim.vcenters[0]!.name, 'host-999999');
    const res = await h.gql(START_HOSTS, { input: { hostIds: [missing, hostIds[1]], metaUrls: [SIGNED] } });
    expect(res.errors).toBeUndefined();
    expect(res.data.hostPatchScanStart.userErrors).toEqual([
      { field: ['hostIds', '0'], code: 'NOT_FOUND', message: expect.stringContaining('host-999999'), upstreamFault: null },
    ]);
    expect(res.data.hostPatchScanStart.scans).toHaveLength(1);
    expect(h.logs.filter((l) => JSON.parse(l).level === 'error')).toEqual([]);
    // The started scan is logged with its depot URL, without the signature.
    const started = h.logs.filter((l) => l.includes('patch scan started'));
    expect(started).toHaveLength(1);
    expect(started[0]).toContain(DEPOT_URLS[0]);
    expect(h.logs.join('\n')).not.toContain('s3cr3t-signature');
    await h.gql(`mutation($id: ID!) { patchScanCancel(input: { id: $id }) { userErrors { code } } }`, { id: res.data.hostPatchScanStart.scans[0].id });
  });

  it('reports a cluster host vCenter refuses once, in skippedHosts with its code', async () => {
    const first = await h.gql(START_HOSTS, { input: { hostIds: [hostIds[0]], metaUrls: [DEPOT_URLS[0]] } });
    expect(first.data.hostPatchScanStart.userErrors).toEqual([]);
    const busy = first.data.hostPatchScanStart.scans[0].id;
    const res = await h.gql(START_CLUSTER, { input: { clusterId, metaUrls: [DEPOT_URLS[0]] } });
    // maxFetchesPerCall is 4 and the cluster has 4 connected hosts.
    expect(hostIds).toHaveLength(4);
    const payload = res.data.clusterPatchScanStart;
    expect(payload.userErrors).toEqual([]);
    expect(payload.skippedHosts.filter((s: any) => s.code === 'TASK_IN_PROGRESS')).toHaveLength(1);
    expect(payload.scans).toHaveLength(3);
    for (const id of [busy, ...payload.scans.map((s: any) => s.id)]) {
      await h.gql(`mutation($id: ID!) { patchScanCancel(input: { id: $id }) { userErrors { code } } }`, { id });
    }
  });
});
