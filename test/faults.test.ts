/**
 * Fault injection against the simulator: each test bounds its own time, talks to loopback
 * only, and checks behaviour through the simulator's counters.
 */
import { describe, expect, it } from 'vitest';
import { DEPOT_URLS } from '../src/simulator/index.ts';
import { sseSubscribe } from './clients.ts';
import { eventually, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const FAST_CLIENT = {
  retry: { baseDelayMs: 50, maxDelayMs: 200 },
  breaker: { failureThreshold: 3, probeIntervalMs: 100 },
};

const route = (h: Harness, i: number, key: string) => h.sim.vcenters[i]!.stats().requests[key] ?? 0;

describe('a vCenter goes down', () => {
  it('answers from the other vCenter with a typed error, opens the breaker, and closes it once the vCenter is back', async () => {
    const h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 2 } }, undefined, { client: FAST_CLIENT });
    try {
      const down = h.sim.vcenters[0]!;
      const query = `{ clusters { totalCount nodes { vcenter { name } } } vcenters { name status { state consecutiveFailures } } }`;
      expect((await h.gql(query)).data.clusters.totalCount).toBe(4);

      await down.down();
      const res = await h.gql(query);
      expect(res.data.clusters.totalCount).toBe(2);
      expect(res.data.clusters.nodes.every((c: any) => c.vcenter.name !== down.name)).toBe(true);
      expect(res.errors).toEqual([
        expect.objectContaining({ path: ['clusters'], extensions: expect.objectContaining({ code: 'VCENTER_UNAVAILABLE', vcenter: down.name }) }),
      ]);

      const open = await eventually(
        async () => (await h.gql(query)).data.vcenters.find((v: any) => v.name === down.name).status.state,
        (state) => state === 'UNAVAILABLE',
      );
      expect(open).toBe('UNAVAILABLE');
      // While open, calls fail at once with the breaker's message.
      const fast = await h.gql(`{ vcenters { name clusters { totalCount } } }`);
      expect(fast.errors![0]!.message).toMatch(/failing fast/);
      expect(fast.errors![0]!.extensions!['code']).toBe('VCENTER_UNAVAILABLE');

      await down.up();
      await eventually(
        async () => (await h.gql(query)).data.vcenters.find((v: any) => v.name === down.name).status.state,
        (state) => state === 'AVAILABLE',
      );
      const healed = await h.gql(query);
      expect(healed.errors).toBeUndefined();
      expect(healed.data.clusters.totalCount).toBe(4);
    } finally {
      await h.close();
    }
  });
});

describe('a hanging route', () => {
  it('times out with UPSTREAM_TIMEOUT instead of hanging, and the rest of the query answers', async () => {
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 2, hostsPerCluster: 2 } }, (sim) =>
      sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: sim.username, password: sim.password, caPem: sim.caPem, timeoutMs: 300 })),
      // A breaker that stays closed here isolates the timeout path (the breaker has its own test).
      { client: { ...FAST_CLIENT, breaker: { failureThreshold: 100, probeIntervalMs: 100 } } },
    );
    try {
      await h.gql(`{ vcenters { name } clusters { totalCount } }`); // warm sessions
      h.sim.vcenters[0]!.setFaults([{ route: 'GET /api/esx/settings/clusters/{cluster}/installed-images', hangRate: 1 }]);
      const started = Date.now();
      const res = await h.gql(`{ clusters { nodes { name installedImages { status } } } }`);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect(res.data.clusters.nodes.map((c: any) => c.name)).toHaveLength(2);
      expect(res.data.clusters.nodes.every((c: any) => c.installedImages === null)).toBe(true);
      expect(new Set(res.errors!.map((e) => e.extensions!['code']))).toEqual(new Set(['UPSTREAM_TIMEOUT']));
    } finally {
      await h.close();
    }
  });
});

describe('503 bursts', () => {
  it('retries idempotent reads until they succeed, and never repeats a scan start', async () => {
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 2, hostsPerCluster: 2 } }, undefined, { client: FAST_CLIENT });
    try {
      const vc = h.sim.vcenters[0]!;
      await h.gql(`{ clusters { totalCount } }`);
      vc.resetStats();
      // The 503 asks for a retry after 1 s: the fault is lifted once the first 503 went out, so
      // exactly one attempt fails and the retry succeeds, however slow the machine.
      vc.setFaults([{ route: 'GET /api/vcenter/cluster', errorRate: 1, error: '503', retryAfterSeconds: 1 }]);
      const pending = h.gql(`{ clusters { totalCount } }`);
      await eventually(() => vc.stats().faultsInjected['http503'] === 1);
      vc.clearFaults();
      const res = await pending;
      expect(res.errors).toBeUndefined();
      expect(res.data.clusters.totalCount).toBe(2);
      expect(route(h, 0, 'GET /api/vcenter/cluster')).toBe(2);

      const hosts = await h.gql(`{ hosts(filter: { connectionStates: [CONNECTED] }) { nodes { id } } }`);
      const hostIds = hosts.data.hosts.nodes.slice(0, 2).map((n: any) => n.id);
      const key = 'POST /sdk/vim25/{release}/HostPatchManager/{moId}/ScanHostPatchV2_Task';
      const before = route(h, 0, key);
      vc.setFaults([{ route: key, errorRate: 1, error: '503' }]);
      const started = await h.gql(
        `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code field } } }`,
        { input: { hostIds, metaUrls: [DEPOT_URLS[0]] } },
      );
      vc.clearFaults();
      expect(started.data.hostPatchScanStart.scans).toEqual([]);
      expect(started.data.hostPatchScanStart.userErrors.map((e: any) => e.code)).toEqual(['VCENTER_UNAVAILABLE', 'VCENTER_UNAVAILABLE']);
      // One attempt per host: a scan start is never retried blindly.
      expect(route(h, 0, key) - before).toBe(2);
    } finally {
      await h.close();
    }
  });
});

describe('mass session expiry', () => {
  it('re-logs in exactly once per vCenter per API under 50 concurrent queries', async () => {
    const h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 3 } });
    try {
      const query = `{ clusters { nodes { name hosts { nodes { name product { build } } } installedImages { status } } } }`;
      const baseline = await h.gql(query);
      for (const vc of h.sim.vcenters) vc.expireSessions();
      const results = await Promise.all(Array.from({ length: 50 }, () => h.gql(query)));
      for (const r of results) {
        expect(r.errors).toBeUndefined();
        expect(r.data).toEqual(baseline.data);
      }
      for (const vc of h.sim.vcenters) expect(vc.stats().logins).toEqual({ rest: 2, vim: 2 });
    } finally {
      await h.close();
    }
  });
});

describe('a subscription through a vCenter restart', () => {
  it('rides through the outage to the terminal state, delivered exactly once', async () => {
    const h = await startHarness(
      { size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 3 }, patchScanDurationMs: 2_000 },
      undefined,
      { client: FAST_CLIENT, taskWatcher: { maxWaitSeconds: 2, retryDelayMs: 50 } },
    );
    try {
      const vc = h.sim.vcenters[0]!;
      const hosts = await h.gql(`{ hosts(filter: { connectionStates: [CONNECTED] }) { nodes { id } } }`);
      const started = await h.gql(
        `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code } } }`,
        { input: { hostIds: hosts.data.hosts.nodes.map((n: any) => n.id), metaUrls: [DEPOT_URLS[0]] } },
      );
      const ids = started.data.hostPatchScanStart.scans.map((s: any) => s.id);
      const stream = sseSubscribe(h.url, `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state progress } }`, { ids }, 20_000);
      await new Promise((r) => setTimeout(r, 300));
      await vc.down();
      await new Promise((r) => setTimeout(r, 1_000));
      vc.expireSessions(); // a restarted vCenter has forgotten every session
      await vc.up();
      const result = await stream;
      expect(result.completed).toBe(true);
      const terminal = new Map<string, number>();
      for (const e of result.events) {
        expect(e.errors).toBeUndefined();
        const s = e.data.patchScanUpdated;
        if (s.state === 'SUCCESS' || s.state === 'ERROR') terminal.set(s.id, (terminal.get(s.id) ?? 0) + 1);
      }
      expect([...terminal.keys()].sort()).toEqual([...ids].sort());
      expect([...terminal.values()].every((n) => n === 1)).toBe(true);
      await eventually(async () => vc.stats().liveFilters, (n) => n === 0);
    } finally {
      await h.close();
    }
  });
});
