/**
 * Credential passthrough against simulated vCenters that enforce users, roles and permissions
 * the way vCenter does: each caller sees what vCenter lets that user see, through its own
 * sessions (one per user per API per vCenter), bounded in number.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AUTH } from '../src/auth/config.ts';
import { simStatsOverHttp, startHarness, eventually } from './harness.ts';
import type { Harness } from './harness.ts';
import { basic, postAs, sseAs, wsAs } from './auth-clients.ts';
import type { AuditRecord } from '../src/graphql/audit.ts';

const DEPOT = 'https://depot.example/esxi-8.0u3/metadata.zip';
const START = `mutation($input: HostPatchScanStartInput!) {
  hostPatchScanStart(input: $input) { scans { id state startedBy host { id } } userErrors { field code } } }`;
const CANCEL = 'mutation($id: ID!) { patchScanCancel(input: { id: $id }) { scan { id state } userErrors { code } } }';
const FOLLOW = 'subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state startedBy } }';

const ADMIN = basic('administrator@vsphere.local', 'VMware1!');
const READER = basic('cluster-reader@vsphere.local', 'ClusterReader1!');
const CLUSTERS = '{ clusters(first: 100) { totalCount nodes { id name hosts { totalCount nodes { id name } } } } }';

describe('passthrough: vCenter permissions decide what each user sees', () => {
  let h: Harness;
  const audits: AuditRecord[] = [];
  beforeAll(async () => {
    h = await startHarness(
      { size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 2 }, bulkUsers: { count: 200, password: 'Bulk-pass1!' }, patchScanDurationMs: 3_000 },
      undefined,
      {
        audit: (record) => audits.push(record),
        taskWatcher: { maxWaitSeconds: 5 },
        auth: {
          ...DEFAULT_AUTH,
          mode: 'vcenter',
          passthrough: { maxUsers: 50, idleMs: 60_000 },
          callerLimits: { ...DEFAULT_AUTH.callerLimits, requestsPerSecond: 10_000, burst: 10_000 },
        },
      },
    );
  });
  afterAll(() => h.close());

  it('gives two users different cluster sets from the same query, in lists and totals', async () => {
    const admin = await postAs(h.url, CLUSTERS, {}, { authorization: ADMIN });
    const reader = await postAs(h.url, CLUSTERS, {}, { authorization: READER });
    expect(admin.codes).toEqual([]);
    expect(reader.codes).toEqual([]);
    const adminClusters = (admin.data[0] as any).clusters;
    const readerClusters = (reader.data[0] as any).clusters;
    expect(adminClusters.totalCount).toBe(6); // 2 vCenters × 3 clusters
    expect(readerClusters.totalCount).toBe(2); // its cluster on each vCenter
    expect(readerClusters.nodes.map((c: any) => c.name)).toEqual(
      adminClusters.nodes.filter((c: any) => readerClusters.nodes.some((r: any) => r.id === c.id)).map((c: any) => c.name),
    );
    for (const cluster of readerClusters.nodes) expect(cluster.hosts.totalCount).toBe(2);
    const hosts = await postAs(h.url, '{ hosts(first: 100) { totalCount } }', {}, { authorization: READER });
    expect(hosts.data).toEqual([{ hosts: { totalCount: 4 } }]);
  });

  it('hides what a user may not read from node and nodes', async () => {
    const admin = (await postAs(h.url, CLUSTERS, {}, { authorization: ADMIN })).data[0] as any;
    const reader = (await postAs(h.url, CLUSTERS, {}, { authorization: READER })).data[0] as any;
    const hidden = admin.clusters.nodes.find((c: any) => !reader.clusters.nodes.some((r: any) => r.id === c.id));
    const hiddenHost = hidden.hosts.nodes[0];
    const outcome = await postAs(h.url, 'query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Cluster { name } ... on Host { name } } }', { ids: [hidden.id, hiddenHost.id] }, { authorization: READER });
    expect(outcome.data).toEqual([{ nodes: [null, null] }]);
    expect(JSON.stringify(outcome)).not.toContain(hidden.name);
    expect(JSON.stringify(outcome)).not.toContain(hiddenHost.name);
    const seen = await postAs(h.url, 'query($id: ID!) { node(id: $id) { id } }', { id: hidden.id }, { authorization: ADMIN });
    expect(seen.data).toEqual([{ node: { id: hidden.id } }]);
  });

  it('starts scans as the caller: vCenter refuses hosts the user may not read (FORBIDDEN per host), names the user on its tasks, and the audit trail records both', async () => {
    const admin = (await postAs(h.url, CLUSTERS, {}, { authorization: ADMIN })).data[0] as any;
    const reader = (await postAs(h.url, CLUSTERS, {}, { authorization: READER })).data[0] as any;
    const mine = reader.clusters.nodes[0].hosts.nodes[0].id;
    const hidden = admin.clusters.nodes.find((c: any) => !reader.clusters.nodes.some((r: any) => r.id === c.id)).hosts.nodes[0].id;
    audits.length = 0;

    const byReader = await postAs(h.url, START, { input: { hostIds: [mine, hidden], metaUrls: [DEPOT], options: { userName: 'depot', password: 'Depot-Secret-9' } } }, { authorization: READER });
    const payload = (byReader.data[0] as any).hostPatchScanStart;
    expect(payload.userErrors).toEqual([{ field: ['hostIds', '1'], code: 'FORBIDDEN' }]);
    expect(payload.scans).toEqual([{ id: expect.any(String), state: expect.any(String), startedBy: 'VSPHERE.LOCAL\\Cluster-reader', host: { id: mine } }]);

    const byAdmin = await postAs(h.url, START, { input: { hostIds: [hidden], metaUrls: [DEPOT] } }, { authorization: ADMIN });
    const adminScan = (byAdmin.data[0] as any).hostPatchScanStart.scans[0];
    expect(adminScan.startedBy).toBe('VSPHERE.LOCAL\\Administrator');

    // The reader can neither follow nor cancel the administrator's scan on a host it cannot see.
    const follow = await sseAs(h.url, FOLLOW, { ids: [adminScan.id] }, { authorization: READER });
    expect(follow.codes).toEqual(['NOT_FOUND']);
    expect(follow.data).toEqual([]);
    const cancel = await postAs(h.url, CANCEL, { id: adminScan.id }, { authorization: READER });
    expect((cancel.data[0] as any).patchScanCancel).toEqual({ scan: null, userErrors: [{ code: 'NOT_FOUND' }] });
    const cancelled = await postAs(h.url, CANCEL, { id: adminScan.id }, { authorization: ADMIN });
    expect((cancelled.data[0] as any).patchScanCancel.userErrors).toEqual([]);

    expect(audits.map((a) => [a.operation, a.caller.kind, a.caller.name])).toEqual([
      ['hostPatchScanStart', 'vcenter', 'cluster-reader@vsphere.local'],
      ['hostPatchScanStart', 'vcenter', 'administrator@vsphere.local'],
      ['patchScanCancel', 'vcenter', 'cluster-reader@vsphere.local'],
      ['patchScanCancel', 'vcenter', 'administrator@vsphere.local'],
    ]);
    expect(audits[0]!.outcomes).toEqual([
      { vcenter: expect.any(String), target: expect.stringMatching(/^host-/), task: expect.stringMatching(/^task-/), result: 'OK' },
      { vcenter: expect.any(String), target: expect.stringMatching(/^host-/), result: 'FORBIDDEN' },
    ]);
    expect(audits[0]!.depots).toEqual([DEPOT]);
    expect(audits[2]!.outcomes[0]!.result).toBe('NOT_FOUND');
    expect(audits[3]!.outcomes[0]).toMatchObject({ result: 'OK', task: expect.stringMatching(/^task-/) });
    const trail = JSON.stringify(audits) + h.logs.join('\n');
    for (const secret of ['Depot-Secret-9', 'ClusterReader1!', 'VMware1!']) expect(trail).not.toContain(secret);
    expect(h.logs.filter((line) => line.includes('"log":"audit"'))).toHaveLength(0); // the sink got them, not the logger
  });

  it('keeps one session per user per API per vCenter, whatever the number of that user\'s requests', async () => {
    for (const vc of h.sim.vcenters) vc.resetStats();
    const user = basic('user7@vsphere.local', 'Bulk-pass1!');
    await Promise.all(Array.from({ length: 12 }, () => postAs(h.url, '{ hosts(first: 5) { totalCount } }', {}, { authorization: user })));
    await sseAs(h.url, '{ clusters { totalCount } }', {}, { authorization: user });
    await wsAs(h.url, '{ clusters { totalCount } }', {}, { authorization: user });
    for (const vc of h.sim.vcenters) {
      const stats = await simStatsOverHttp(h.sim, vc.url);
      expect(stats.sessionsByUser.rest['VSPHERE.LOCAL\\User7']).toBe(1);
      expect(stats.sessionsByUser.vim['VSPHERE.LOCAL\\User7']).toBe(1);
      expect(stats.logins).toEqual({ rest: 1, vim: 1 });
    }
  });

  it('never writes a caller\'s password or Authorization header into the logs (debug level)', async () => {
    const wrong = basic('cluster-reader@vsphere.local', 'Wr0ng-Secret-Pw');
    await postAs(h.url, CLUSTERS, {}, { authorization: wrong });
    await postAs(h.url, CLUSTERS, {}, { authorization: READER });
    await wsAs(h.url, CLUSTERS, {}, { authorization: READER });
    const logs = h.logs.join('\n');
    expect(h.logs.some((line) => line.includes('"level":"debug"') || line.includes('"level":20'))).toBe(true);
    for (const secret of ['ClusterReader1!', 'Wr0ng-Secret-Pw', 'VMware1!', READER.slice(6), wrong.slice(6)]) expect(logs).not.toContain(secret);
  });

  it('holds 200 distinct users to a bound of 50 live sessions per API per vCenter, logging the evicted ones out', async () => {
    for (const vc of h.sim.vcenters) vc.resetStats();
    for (let i = 1; i <= 200; i += 20) {
      // 20 users at a time: concurrent, but not all 200 at once on a small test machine
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          postAs(h.url, '{ hosts(first: 1) { totalCount } }', {}, { authorization: basic(`user${i + j}@vsphere.local`, 'Bulk-pass1!') }).then((o) =>
            expect(o.codes).toEqual([]),
          ),
        ),
      );
    }
    for (const vc of h.sim.vcenters) {
      const stats = await eventually(
        () => simStatsOverHttp(h.sim, vc.url),
        (s) => s.liveSessions.rest <= 50 && s.liveSessions.vim <= 50,
      );
      // the service account may hold one more of each (the scan watch loop); users hold at most 50
      const users = (api: 'rest' | 'vim') => Object.entries(stats.sessionsByUser[api]).filter(([name]) => /User\d+$/.test(name)).length;
      expect(users('rest')).toBeLessThanOrEqual(50);
      expect(users('vim')).toBeLessThanOrEqual(50);
      expect(stats.logins.rest).toBe(199); // user7 still had its session from the test before (never evicted: it came back before 50 others)
      expect(stats.logouts.rest).toBeGreaterThanOrEqual(150); // every evicted user was logged out, not left to expire
      expect(stats.logouts.vim).toBeGreaterThanOrEqual(150);
    }
    for (const client of h.gateway.upstreams.list) expect(client.userSessionStats().users).toBeLessThanOrEqual(50);
  });
});
