import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as simulator from '../src/simulator/index.ts';
import { fromGlobalId, toGlobalId } from '../src/graphql/ids.ts';
import { sseSubscribe, wsSubscribe } from './clients.ts';
import type { StreamResult } from './clients.ts';
import { codes, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

/** A depot the simulator serves, and one nobody serves. */
const DEPOT: string = (simulator as { DEPOT_URLS?: readonly string[] }).DEPOT_URLS?.[0] ?? 'https://depot.example/esxi-8.0u3/metadata.zip';
const UNREADABLE_DEPOT = 'https://depot.nowhere.invalid/metadata.zip';

const SCAN_FIELDS = `id taskMoId state progress cancelable cancelled queuedAt startedAt completedAt host { moId name }
  error { code fault message }
  result { version patches { id applicable reasons integrity installed installState prerequisitePatches { id installState } restartRequired reconnectRequired vmOffRequired supersededPatchIds } }`;
const SUBSCRIPTION = `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { ${SCAN_FIELDS} } }`;
const START_HOSTS = `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { ${SCAN_FIELDS} } userErrors { message field code } } }`;
const START_CLUSTER = `mutation($input: ClusterPatchScanStartInput!) { clusterPatchScanStart(input: $input) {
  scans { id state host { moId } } skippedHosts { host { moId connectionState } reason } userErrors { message field code } } }`;
const CANCEL = `mutation($id: ID!) { patchScanCancel(input: { id: $id }) { scan { id state cancelled error { code fault } } userErrors { message field code } } }`;

/** Checks one subscriber's stream: per scan, progress never goes back and exactly one terminal state arrives. */
function checkStream(stream: StreamResult, ids: string[]): Map<string, any> {
  expect(stream.completed).toBe(true);
  const finals = new Map<string, any>();
  const lastProgress = new Map<string, number>();
  for (const event of stream.events) {
    expect(event.errors).toBeUndefined();
    const scan = event.data.patchScanUpdated;
    expect(ids).toContain(scan.id);
    expect(finals.has(scan.id)).toBe(false); // nothing after the terminal state
    // A cancelled scan ends without progress (null); a number never goes back.
    if (scan.progress !== null) {
      expect(scan.progress).toBeGreaterThanOrEqual(lastProgress.get(scan.id) ?? 0);
      lastProgress.set(scan.id, scan.progress);
    }
    if (scan.state === 'SUCCESS' || scan.state === 'ERROR') finals.set(scan.id, scan);
  }
  expect([...finals.keys()].sort()).toEqual([...ids].sort());
  return finals;
}

describe('patch scans end to end', () => {
  let h: Harness;
  let vc1: string;
  beforeAll(async () => {
    h = await startHarness(
      { size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 4 }, patchScanDurationMs: 600 },
      undefined,
      { taskWatcher: { maxWaitSeconds: 5 }, depots: { allow: [...simulator.DEPOT_URLS, UNREADABLE_DEPOT], allowProxy: true } },
    );
    vc1 = h.sim.vcenters[0]!.name;
  });
  afterAll(() => h?.close());

  async function clusterWhere(predicate: (c: any) => boolean) {
    const res = await h.gql(`{ clusters { nodes { id moId vcenter { name } hosts { nodes { id moId connectionState } } } } }`);
    return res.data.clusters.nodes.find(predicate);
  }

  it('starts a cluster scan and follows it to the end over SSE and graphql-ws, then reads the patches', async () => {
    const cluster = await clusterWhere((c) => c.hosts.nodes.every((x: any) => x.connectionState === 'CONNECTED'));
    const started = await h.gql(START_CLUSTER, { input: { clusterId: cluster.id, metaUrls: [DEPOT] } });
    expect(started.errors).toBeUndefined();
    const payload = started.data.clusterPatchScanStart;
    expect(payload.userErrors).toEqual([]);
    expect(payload.skippedHosts).toEqual([]);
    expect(payload.scans.map((s: any) => s.host.moId).sort()).toEqual(cluster.hosts.nodes.map((x: any) => x.moId).sort());
    const ids: string[] = payload.scans.map((s: any) => s.id);

    const [sse, ws] = await Promise.all([sseSubscribe(h.url, SUBSCRIPTION, { ids }), wsSubscribe(h.url, SUBSCRIPTION, { ids })]);
    for (const stream of [sse, ws]) {
      const finals = checkStream(stream, ids);
      for (const scan of finals.values()) {
        expect(scan.state).toBe('SUCCESS');
        expect(scan.progress).toBe(100);
        expect(scan.completedAt >= scan.startedAt).toBe(true);
        expect(scan.result.patches.length).toBeGreaterThan(0);
      }
    }

    const read = await h.gql(`query($id: ID!) { node(id: $id) { ... on PatchScan { ${SCAN_FIELDS} } } }`, { id: ids[0] });
    expect(read.errors).toBeUndefined();
    const patches = read.data.node.result.patches;
    expect(patches.some((p: any) => p.installed)).toBe(true);
    for (const p of patches) {
      expect(typeof p.applicable).toBe('boolean');
      expect(Array.isArray(p.reasons)).toBe(true);
    }
    // The host lists its recent scans.
    const host = await h.gql(`query($id: ID!) { node(id: $id) { ... on Host { patchScans { id state } } } }`, {
      id: cluster.hosts.nodes.find((x: any) => x.moId === read.data.node.host.moId).id,
    });
    expect(host.data.node.patchScans.map((s: any) => s.id)).toContain(ids[0]);
  });

  it('skips the disconnected host of a cluster and says why', async () => {
    const cluster = await clusterWhere((c) => c.hosts.nodes.some((x: any) => x.connectionState === 'DISCONNECTED'));
    const res = await h.gql(START_CLUSTER, { input: { clusterId: cluster.id, metaUrls: [DEPOT] } });
    const payload = res.data.clusterPatchScanStart;
    const disconnected = cluster.hosts.nodes.filter((x: any) => x.connectionState !== 'CONNECTED').map((x: any) => x.moId);
    expect(payload.skippedHosts.map((s: any) => s.host.moId)).toEqual(disconnected);
    expect(payload.skippedHosts[0].reason).toMatch(/disconnected/);
    expect(payload.scans).toHaveLength(cluster.hosts.nodes.length - disconnected.length);
    await sseSubscribe(h.url, SUBSCRIPTION, { ids: payload.scans.map((s: any) => s.id) });
  });

  it('refuses to scan a disconnected host, with a typed userError and no scan', async () => {
    const cluster = await clusterWhere((c) => c.hosts.nodes.some((x: any) => x.connectionState === 'DISCONNECTED'));
    const host = cluster.hosts.nodes.find((x: any) => x.connectionState === 'DISCONNECTED');
    const res = await h.gql(START_HOSTS, { input: { hostIds: [host.id], metaUrls: [DEPOT] } });
    expect(res.data.hostPatchScanStart.scans).toEqual([]);
    expect(res.data.hostPatchScanStart.userErrors).toEqual([
      { message: expect.stringContaining(host.moId), field: ['hostIds', '0'], code: 'HOST_NOT_CONNECTED' },
    ]);
  });

  it('refuses a second scan while one runs on the host, and still starts the others', async () => {
    const cluster = await clusterWhere((c) => c.hosts.nodes.every((x: any) => x.connectionState === 'CONNECTED'));
    const [a, b] = cluster.hosts.nodes;
    const first = await h.gql(START_HOSTS, { input: { hostIds: [a.id], metaUrls: [DEPOT] } });
    expect(first.data.hostPatchScanStart.userErrors).toEqual([]);
    const second = await h.gql(START_HOSTS, { input: { hostIds: [a.id, b.id], metaUrls: [DEPOT] } });
    const payload = second.data.hostPatchScanStart;
    expect(payload.userErrors).toEqual([{ message: expect.any(String), field: ['hostIds', '0'], code: 'TASK_IN_PROGRESS' }]);
    expect(payload.scans.map((s: any) => s.host.moId)).toEqual([b.moId]);
    await sseSubscribe(h.url, SUBSCRIPTION, { ids: [first.data.hostPatchScanStart.scans[0].id, payload.scans[0].id] });
  });

  it('ends a scan of an unreadable depot in ERROR with a summary of the PlatformConfigFault, not the host\'s text', async () => {
    const cluster = await clusterWhere((c) => c.hosts.nodes.every((x: any) => x.connectionState === 'CONNECTED'));
    const host = cluster.hosts.nodes[2];
    const res = await h.gql(START_HOSTS, { input: { hostIds: [host.id], metaUrls: [UNREADABLE_DEPOT] } });
    const id = res.data.hostPatchScanStart.scans[0].id;
    const finals = checkStream(await wsSubscribe(h.url, SUBSCRIPTION, { ids: [id] }), [id]);
    const scan = finals.get(id);
    expect(scan.state).toBe('ERROR');
    expect(scan.error).toEqual({ code: 'DEPOT_UNREACHABLE', fault: 'PlatformConfigFault', message: expect.any(String) });
    // The host's text quotes the URL it fetched (signed URLs carry tokens): summarized instead.
    expect(scan.error.message).not.toContain('depot.nowhere.invalid');
    expect(scan.result).toBeNull();
  });

  it('cancels a running scan, and refuses to cancel a finished one', async () => {
    const cluster = await clusterWhere((c) => c.hosts.nodes.every((x: any) => x.connectionState === 'CONNECTED'));
    const host = cluster.hosts.nodes[3];
    const started = await h.gql(START_HOSTS, { input: { hostIds: [host.id], metaUrls: [DEPOT] } });
    const id = started.data.hostPatchScanStart.scans[0].id;
    const stream = sseSubscribe(h.url, SUBSCRIPTION, { ids: [id] });
    const cancel = await h.gql(CANCEL, { id });
    expect(cancel.data.patchScanCancel.userErrors).toEqual([]);
    const finals = checkStream(await stream, [id]);
    expect(finals.get(id)).toMatchObject({ state: 'ERROR', cancelled: true, error: { code: 'CANCELLED', fault: 'RequestCanceled' } });

    const again = await h.gql(CANCEL, { id });
    expect(again.data.patchScanCancel.userErrors).toEqual([{ message: expect.stringMatching(/cannot be cancelled/), field: ['id'], code: 'NOT_CANCELABLE' }]);
  });

  it('answers unknown and malformed scan IDs with typed errors', async () => {
    const unknown = toGlobalId('PatchScan', vc1, 'task-999999');
    const node = await h.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: unknown });
    expect(node).toEqual({ data: { node: null } });
    const cancel = await h.gql(CANCEL, { id: unknown });
    expect(cancel.data.patchScanCancel.userErrors[0].code).toBe('NOT_FOUND');
    const malformed = await h.gql(CANCEL, { id: 'nope' });
    expect(malformed.data.patchScanCancel.userErrors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: ['id'] });
    const sub = await sseSubscribe(h.url, SUBSCRIPTION, { ids: [unknown] });
    expect(sub.events[0]?.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    const subBad = await wsSubscribe(h.url, SUBSCRIPTION, { ids: ['nope'] });
    expect(subBad.events[0]?.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('validates scan input before starting anything', async () => {
    const cluster = await clusterWhere(() => true);
    const host = cluster.hosts.nodes[0];
    const cases: [Record<string, unknown>, string[]][] = [
      [{ hostIds: [host.id], metaUrls: [] }, ['metaUrls']],
      [{ hostIds: [host.id], metaUrls: ['ftp://depot.example/metadata.zip'] }, ['metaUrls', '0']],
      [{ hostIds: [host.id], metaUrls: ['not a url'] }, ['metaUrls', '0']],
      [{ hostIds: [host.id], metaUrls: [`https://depot.example/${'a'.repeat(3000)}`] }, ['metaUrls', '0']],
      [{ hostIds: ['garbage'], metaUrls: [DEPOT] }, ['hostIds', '0']],
      [{ hostIds: [cluster.id], metaUrls: [DEPOT] }, ['hostIds', '0']],
      [{ hostIds: [], metaUrls: [DEPOT] }, ['hostIds']],
      [{ hostIds: [host.id], metaUrls: [DEPOT], options: { port: 70000 } }, ['options', 'port']],
    ];
    for (const [input, field] of cases) {
      const res = await h.gql(START_HOSTS, { input });
      expect(res.errors).toBeUndefined();
      expect(res.data.hostPatchScanStart.scans).toEqual([]);
      expect(res.data.hostPatchScanStart.userErrors).toContainEqual({ message: expect.any(String), field, code: 'BAD_USER_INPUT' });
    }
    const tasks = h.sim.vcenters.map((v) => v.stats().requests['POST /sdk/vim25/{release}/HostPatchManager/{moId}/ScanHostPatchV2_Task'] ?? 0);
    const after = await h.gql(START_HOSTS, { input: { hostIds: ['garbage'], metaUrls: [DEPOT] } });
    expect(after.data.hostPatchScanStart.userErrors).toHaveLength(1);
    expect(h.sim.vcenters.map((v) => v.stats().requests['POST /sdk/vim25/{release}/HostPatchManager/{moId}/ScanHostPatchV2_Task'] ?? 0)).toEqual(tasks);
  });

  it('sends the depot password to vCenter only: never in responses, streams or logs', async () => {
    const SECRET = 'Depot-S3cret-Passw0rd';
    const cluster = await clusterWhere((c) => c.hosts.nodes.every((x: any) => x.connectionState === 'CONNECTED'));
    const host = cluster.hosts.nodes[1];
    const res = await h.gql(START_HOSTS, {
      input: { hostIds: [host.id], metaUrls: [DEPOT], options: { proxy: 'proxy.example', port: 3128, userName: 'depot', password: SECRET } },
    });
    expect(res.data.hostPatchScanStart.userErrors).toEqual([]);
    const id = res.data.hostPatchScanStart.scans[0].id;
    const stream = await sseSubscribe(h.url, SUBSCRIPTION, { ids: [id] });
    const bad = await h.gql(START_HOSTS, { input: { hostIds: [host.id], metaUrls: ['gopher://x'], options: { password: SECRET } } });
    const everything = JSON.stringify([res, stream, bad]) + h.logs.join('\n');
    expect(everything).not.toContain(SECRET);
    // And it did reach vCenter, with the user name, in the scan's operation spec.
    const vc = h.sim.vcenters.find((v) => v.name === fromGlobalId(host.id).vcenter)!;
    expect(vc.stats().lastScanSpec).toEqual({ userName: 'depot', passwordSent: true, proxy: 'proxy.example', cmdOption: null });
  });
});
