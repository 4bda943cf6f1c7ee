// The inventory mirror against the simulator: it converges to the simulated inventory after
// each kind of change, a session expiry, InvalidCollectorVersion and a vCenter restart;
// warm inventory queries cost vCenter nothing; stale data is marked while a vCenter is down.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MirrorSnapshot } from '../src/mirror/index.ts';
import { applyChanges } from '../src/mirror/apply.ts';
import { toGlobalId } from '../src/graphql/ids.ts';
import { inventoryReader, subscribeHostsChanged } from '../src/graphql/live-inventory.ts';
import type { GraphQLContext } from '../src/graphql/context.ts';
import type { InventoryChange, SimulatedVCenter } from '../src/simulator/index.ts';
import { codes, eventually, requestsWithoutLogins, simStatsOverHttp, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const FAST_CLIENT = { retry: { baseDelayMs: 20, maxDelayMs: 100 }, breaker: { failureThreshold: 2, probeIntervalMs: 100 } };
const WAIT_ROUTE = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx';
const CREATE_COLLECTOR_ROUTE = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/CreatePropertyCollector';

/** What the simulator holds, in the mirror's terms: "moId name parent state power maintenance build". */
function simulated(v: SimulatedVCenter): string[] {
  const inv = v.inventory;
  return [
    ...inv.clusters.map((c) => `cluster ${c.moId} ${c.name}`),
    ...inv.hosts.map((h) => `host ${h.moId} ${h.name} ${h.cluster} ${h.connectionState} ${h.powerState} ${h.inMaintenanceMode} ${h.connectionState === 'disconnected' ? '-' : h.image.release.build}`),
  ].sort();
}

function mirrored(s: MirrorSnapshot | undefined): string[] {
  if (!s) return [];
  return [
    ...s.clusters().map((c) => `cluster ${c.moId} ${c.name}`),
    ...s.hosts().map((h) => `host ${h.moId} ${h.name} ${h.parent?.value} ${h.connectionState} ${h.powerState} ${h.inMaintenanceMode} ${h.product?.build ?? '-'}`),
  ].sort();
}

function mirrorOf(h: Harness, v: SimulatedVCenter) {
  const mirror = h.gateway.mirrors?.get(v.name);
  if (!mirror) throw new Error(`no mirror for ${v.name}`);
  return mirror;
}

/** Resolves once the mirror is LIVE and holds exactly what the simulator holds (checked at every mirror update). */
async function converged(h: Harness, v: SimulatedVCenter, timeoutMs = 10_000): Promise<number> {
  const mirror = mirrorOf(h, v);
  const want = JSON.stringify(simulated(v));
  const status = await mirror.until((s) => s.state === 'LIVE' && s.feedVersion !== '' && JSON.stringify(mirrored(mirror.snapshot())) === want, timeoutMs);
  return status.version;
}

describe('inventory mirror: converges after each kind of change', () => {
  let h: Harness;
  let v: SimulatedVCenter;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 3, hostsPerCluster: 4 } }, undefined, { inventoryMirror: {}, client: FAST_CLIENT });
    v = h.sim.vcenters[0]!;
    await converged(h, v);
  });
  afterAll(() => h?.close());

  const connected = () => v.inventory.hosts.filter((x) => x.connectionState === 'connected' && !x.inMaintenanceMode);
  const inMaintenance = () => v.inventory.hosts.find((x) => x.inMaintenanceMode && x.connectionState === 'connected')!;
  const hostQuery = async (moId: string) =>
    (await h.gql(`query($id: ID!) { node(id: $id) { ... on Host { name connectionState powerState inMaintenanceMode product { build } cluster { moId name } } } }`, {
      id: toGlobalId('Host', v.name, moId),
    }));

  // One row per update kind the feed produces (ObjectUpdate kind / PropertyChange op).
  const rows: Array<{ name: string; change: () => InventoryChange; check: (result: { host?: string; cluster?: string }) => Promise<void> }> = [
    {
      name: 'modify/assign: a host disconnects (connection and power state)',
      change: () => ({ action: 'disconnectHost', host: connected()[0]!.moId }),
      check: async ({ host }) => {
        const r = await hostQuery(host!);
        expect(r.data.node).toMatchObject({ connectionState: 'DISCONNECTED', powerState: 'UNKNOWN', product: null });
      },
    },
    {
      name: 'modify/assign: a host reconnects (its product comes back)',
      change: () => ({ action: 'reconnectHost', host: v.inventory.hosts.find((x) => x.connectionState === 'disconnected')!.moId }),
      check: async ({ host }) => {
        const r = await hostQuery(host!);
        expect(r.data.node).toMatchObject({ connectionState: 'CONNECTED', powerState: 'POWERED_ON' });
        expect(r.data.node.product.build).toMatch(/^\d+$/);
      },
    },
    {
      name: 'modify/assign: a host enters maintenance mode',
      change: () => ({ action: 'enterMaintenance', host: connected()[1]!.moId }),
      check: async ({ host }) => expect((await hostQuery(host!)).data.node.inMaintenanceMode).toBe(true),
    },
    {
      name: 'modify/assign: a host exits maintenance mode',
      change: () => ({ action: 'exitMaintenance', host: inMaintenance().moId }),
      check: async ({ host }) => expect((await hostQuery(host!)).data.node.inMaintenanceMode).toBe(false),
    },
    {
      name: 'enter: a host is added',
      change: () => ({ action: 'addHost', cluster: v.inventory.clusters[0]!.moId, name: 'esx-added.sim.local' }),
      check: async ({ host, cluster }) => {
        const r = await hostQuery(host!);
        expect(r.data.node).toMatchObject({ name: 'esx-added.sim.local', connectionState: 'CONNECTED', cluster: { moId: cluster } });
      },
    },
    {
      name: 'modify/assign (parent): a host moves to another cluster',
      change: () => {
        const host = inMaintenance() ?? connected()[0]!;
        return { action: 'moveHost', host: host.moId, cluster: v.inventory.clusters.find((c) => c.moId !== host.cluster)!.moId };
      },
      check: async ({ host, cluster }) => expect((await hostQuery(host!)).data.node.cluster.moId).toBe(cluster),
    },
    {
      name: 'leave: a host is removed',
      change: () => ({ action: 'removeHost', host: v.inventory.hosts.find((x) => x.connectionState === 'disconnected')!.moId }),
      // Relay: an object that no longer exists is null, without an error.
      check: async ({ host }) => {
        const res = await hostQuery(host!);
        expect(codes(res)).toEqual([]);
        expect(res.data).toEqual({ node: null });
      },
    },
    {
      name: 'modify/assign (config.product): a host is remediated to another build',
      change: () => ({ action: 'setHostBuild', host: connected()[2]!.moId, build: '24585383' }),
      check: async ({ host }) => {
        expect((await hostQuery(host!)).data.node.product.build).toBe('24585383');
        const byBuild = await h.gql(`{ hosts(filter: { build: "24585383" }) { nodes { moId } } }`);
        expect(byBuild.data.hosts.nodes.map((n: any) => n.moId)).toContain(host);
      },
    },
    {
      name: 'modify/assign (name): a cluster is renamed',
      change: () => ({ action: 'renameCluster', cluster: v.inventory.clusters[1]!.moId, name: 'Cluster-Renamed-01' }),
      check: async ({ cluster }) => {
        const r = await h.gql(`{ clusters(filter: { names: ["Cluster-Renamed-01"] }) { nodes { moId } } }`);
        expect(r.data.clusters.nodes).toEqual([{ moId: cluster }]);
      },
    },
  ];

  for (const row of rows) {
    it(row.name, async () => {
      const before = mirrorOf(h, v).status().version;
      // Removing a disconnected host needs one: disconnect first where the row needs it.
      if (row.name.startsWith('leave') && !v.inventory.hosts.some((x) => x.connectionState === 'disconnected')) {
        v.changeInventory({ action: 'disconnectHost', host: connected()[0]!.moId });
      }
      const result = v.changeInventory(row.change());
      const version = await converged(h, v);
      expect(version).toBeGreaterThan(before);
      await row.check(result);
    });
  }

  it('applies add, remove, indirectRemove and nested changes as vim25 defines them', () => {
    const paths = ['name', 'vm', 'config.product'];
    const before = new Map<string, unknown>([
      ['name', 'a'],
      ['vm', ['vm-1', 'vm-2']],
      ['config.product', { build: '1', version: '8.0.3' }],
    ]);
    const after = applyChanges(before, paths, [
      { _typeName: 'PropertyChange', name: 'vm', op: 'add', val: 'vm-3' },
      { _typeName: 'PropertyChange', name: 'config.product.build', op: 'assign', val: '2' },
      { _typeName: 'PropertyChange', name: 'name', op: 'assign' },
    ]);
    expect(Object.fromEntries(after)).toEqual({ vm: ['vm-1', 'vm-2', 'vm-3'], 'config.product': { build: '2', version: '8.0.3' } });
    // The earlier state is untouched (snapshots held by queries stay consistent).
    expect(before.get('config.product')).toEqual({ build: '1', version: '8.0.3' });
    const removed = applyChanges(after, paths, [
      { _typeName: 'PropertyChange', name: 'vm', op: 'remove' },
      { _typeName: 'PropertyChange', name: 'config.product', op: 'indirectRemove' },
    ]);
    expect(removed.size).toBe(0);
  });
});

describe('inventory mirror: initial sync', () => {
  let h: Harness;
  let v: SimulatedVCenter;
  beforeAll(async () => {
    // 3 clusters + 12 hosts = 15 objects in pages of 4; long waits keep the follow-up wait open (uncounted).
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 3, hostsPerCluster: 4 } }, undefined, {
      inventoryMirror: { pageSize: 4, maxWaitSeconds: 120 },
      client: FAST_CLIENT,
    });
    v = h.sim.vcenters[0]!;
    await converged(h, v);
  });
  afterAll(() => h?.close());

  it("builds the initial state from the filter's first report, paged, and makes it current once complete", () => {
    const status = mirrorOf(h, v).status();
    // One commit: no partial page was ever the mirror's state.
    expect(status).toMatchObject({ state: 'LIVE', version: 1, objectCount: 15 });
    const requests = v.stats().requests;
    // Pages of 4, 4, 4 and 3 objects: the truncated versions resume the one calculation.
    expect(requests[WAIT_ROUTE]).toBe(4);
    expect(requests['POST /sdk/vim25/{release}/PropertyCollector/{moId}/CreateFilter']).toBe(1);
    // The objects are read once, through the filter: no separate RetrievePropertiesEx read.
    expect(requests['POST /sdk/vim25/{release}/PropertyCollector/{moId}/RetrievePropertiesEx']).toBeUndefined();
    expect(requests['POST /sdk/vim25/{release}/PropertyCollector/{moId}/ContinueRetrievePropertiesEx']).toBeUndefined();
  });

  it('holds one copy of what hosts share, and a change replaces only the host it concerns', async () => {
    const mirror = mirrorOf(h, v);
    const before = mirror.snapshot()!;
    const connected = before.hosts().filter((x) => x.product);
    const build = connected[0]!.product!.build;
    const sameBuild = connected.filter((x) => x.product!.build === build);
    expect(sameBuild.length).toBeGreaterThan(1);
    // Hosts on one build share one AboutInfo, hosts of one cluster one parent reference.
    expect(new Set(sameBuild.map((x) => x.product)).size).toBe(1);
    const cluster = connected[0]!.parent!.value;
    expect(new Set(before.hostsOfCluster(cluster).map((x) => x.parent)).size).toBe(1);
    const changed = connected.find((x) => !x.inMaintenanceMode)!;
    v.changeInventory({ action: 'enterMaintenance', host: changed.moId });
    await converged(h, v);
    const after = mirror.snapshot()!;
    expect(after.version).toBeGreaterThan(before.version);
    expect(after.host(changed.moId)).not.toBe(before.host(changed.moId));
    expect(after.host(changed.moId)).toMatchObject({ inMaintenanceMode: true, product: changed.product });
    for (const host of before.hosts()) if (host.moId !== changed.moId) expect(after.host(host.moId)).toBe(host);
    v.changeInventory({ action: 'exitMaintenance', host: changed.moId });
    await converged(h, v);
  });
});

describe('inventory mirror: recovery', () => {
  let h: Harness;
  let v: SimulatedVCenter;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 2, hostsPerCluster: 3 } }, undefined, {
      inventoryMirror: { retryDelayMs: 50 },
      client: FAST_CLIENT,
    });
    v = h.sim.vcenters[0]!;
    await converged(h, v);
  });
  afterAll(() => h?.close());

  it('resyncs after a session expiry and keeps converging', async () => {
    const collectors = v.stats().requests[CREATE_COLLECTOR_ROUTE] ?? 0;
    v.expireSessions();
    v.changeInventory({ action: 'renameCluster', cluster: v.inventory.clusters[0]!.moId, name: 'After-Expiry' });
    await converged(h, v);
    // A new session has a new collector: the old one died with its session.
    expect(v.stats().requests[CREATE_COLLECTOR_ROUTE]).toBe(collectors + 1);
    v.changeInventory({ action: 'enterMaintenance', host: v.inventory.hosts[0]!.moId });
    await converged(h, v);
  });

  it('resyncs after InvalidCollectorVersion', async () => {
    const collectors = v.stats().requests[CREATE_COLLECTOR_ROUTE] ?? 0;
    v.setFaults([{ route: WAIT_ROUTE, errorRate: 1, error: 'InvalidCollectorVersion' }]);
    // The wait in progress answers this change; the next one meets the fault.
    v.changeInventory({ action: 'renameCluster', cluster: v.inventory.clusters[1]!.moId, name: 'Before-Fault' });
    await eventually(() => v.stats().faultsInjected['fault:InvalidCollectorVersion'] ?? 0, (n) => n > 0);
    v.clearFaults();
    v.changeInventory({ action: 'exitMaintenance', host: v.inventory.hosts[0]!.moId });
    await converged(h, v);
    expect(v.stats().requests[CREATE_COLLECTOR_ROUTE]).toBeGreaterThan(collectors);
  });

  it('keeps up with random churn and converges once it stops', async () => {
    const mirror = mirrorOf(h, v);
    const start = mirror.status().version;
    v.setChurn(200, 7);
    try {
      await mirror.until((s) => s.version >= start + 20);
    } finally {
      v.setChurn(0);
    }
    await converged(h, v);
  });

  it('marks stale data while the vCenter is down, and converges once it is back', async () => {
    const version = await converged(h, v);
    const host = v.inventory.hosts.find((x) => x.connectionState === 'connected' && !x.inMaintenanceMode)!;
    await v.down();
    const mirror = mirrorOf(h, v);
    await mirror.until((s) => s.state === 'STALE');
    // Changed while the gateway cannot see it.
    v.changeInventory({ action: 'enterMaintenance', host: host.moId });
    const stale = await h.gql(`{ hosts(filter: { ids: ["${toGlobalId('Host', v.name, host.moId)}"] }) { nodes { name inMaintenanceMode } } }`);
    expect(stale.errors).toBeUndefined();
    expect(stale.data.hosts.nodes).toEqual([{ name: host.name, inMaintenanceMode: false }]);
    const warnings = (stale as { extensions?: { warnings?: any[] } }).extensions?.warnings;
    expect(warnings).toEqual([expect.objectContaining({ code: 'STALE_DATA', vcenter: v.name })]);
    expect(warnings![0].ageSeconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(warnings![0].confirmedAt)).toBeLessThanOrEqual(Date.now());
    const status = await h.gql(`{ vcenters { inventory { state } } }`);
    expect(status.data.vcenters[0].inventory.state).toBe('STALE');

    await v.up();
    const after = await converged(h, v);
    expect(after).toBeGreaterThan(version);
    const fresh = await h.gql(`{ hosts(filter: { inMaintenanceMode: true }) { nodes { moId } } }`);
    expect(fresh.data.hosts.nodes.map((n: any) => n.moId)).toContain(host.moId);
    expect((fresh as { extensions?: unknown }).extensions).toBeUndefined();
  });

  it('resyncs after a full vCenter restart: sessions and collectors forgotten, inventory changed meanwhile', async () => {
    await converged(h, v);
    const mirror = mirrorOf(h, v);
    const collectors = v.stats().requests[CREATE_COLLECTOR_ROUTE] ?? 0;
    await v.down();
    await mirror.until((s) => s.state === 'STALE');
    // A restarted vCenter has forgotten every session, and with them every private collector and filter.
    v.expireSessions();
    const moved = v.inventory.hosts.find((x) => x.cluster === v.inventory.clusters[0]!.moId)!;
    // vCenter moves only a host in maintenance mode (or disconnected) out of a cluster.
    if (!moved.inMaintenanceMode) v.changeInventory({ action: 'enterMaintenance', host: moved.moId });
    v.changeInventory({ action: 'moveHost', host: moved.moId, cluster: v.inventory.clusters[1]!.moId });
    v.changeInventory({ action: 'renameCluster', cluster: v.inventory.clusters[0]!.moId, name: 'After-Restart' });
    await v.up();
    await converged(h, v);
    expect(v.stats().requests[CREATE_COLLECTOR_ROUTE]).toBe(collectors + 1);
    const answer = await h.gql(`{ hosts(filter: { ids: ["${toGlobalId('Host', v.name, moved.moId)}"] }) { nodes { cluster { name } } } clusters { nodes { name } } }`);
    expect((answer as { extensions?: unknown }).extensions).toBeUndefined();
    expect(answer.data.hosts.nodes).toEqual([{ cluster: { name: v.inventory.clusters[1]!.name } }]);
    expect(answer.data.clusters.nodes.map((c: any) => c.name)).toContain('After-Restart');
  });
});

describe('inventory mirror: reads', () => {
  let h: Harness;
  beforeAll(async () => {
    // Long waits: no feed call completes while the queries run, so the counts below are the queries' own.
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 4 } }, undefined, {
      inventoryMirror: { maxWaitSeconds: 120 },
      client: FAST_CLIENT,
    });
    await Promise.all(h.sim.vcenters.map((v) => converged(h, v)));
  });
  afterAll(() => h?.close());

  it('answers three warm inventory queries with zero upstream requests', async () => {
    for (const v of h.sim.vcenters) v.resetStats();
    const fleet = await h.gql(`{ clusters { totalCount nodes { id name haEnabled drsEnabled hosts { totalCount nodes { id name connectionState powerState inMaintenanceMode product { build } cluster { name } } } } } }`);
    expect(fleet.errors).toBeUndefined();
    expect(fleet.data.clusters.totalCount).toBe(6);
    const page = await h.gql(`{ hosts(first: 5, filter: { connectionStates: [CONNECTED] }) { totalCount pageInfo { hasNextPage endCursor } nodes { id name } } }`);
    expect(page.data.hosts.nodes).toHaveLength(5);
    expect(page.data.hosts.pageInfo.hasNextPage).toBe(true);
    const hostId = page.data.hosts.nodes[0].id;
    const clusterId = fleet.data.clusters.nodes[0].id;
    const nodes = await h.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Host { name } ... on Cluster { name } } }`, { ids: [hostId, clusterId] });
    expect(nodes.data.nodes.map((n: any) => n.id)).toEqual([hostId, clusterId]);
    for (const v of h.sim.vcenters) {
      const stats = await simStatsOverHttp(h.sim, v.url);
      expect(stats.requests, v.name).toEqual({});
      expect(requestsWithoutLogins(stats)).toBe(0);
    }
    // The simulator agrees with what the mirror answered.
    const hosts = fleet.data.clusters.nodes.flatMap((c: any) => c.hosts.nodes);
    expect(hosts).toHaveLength(h.sim.vcenters.reduce((n, v) => n + v.inventory.hosts.length, 0));
    const disconnected = h.sim.vcenters.flatMap((v) => v.inventory.hosts.filter((x) => x.connectionState === 'disconnected').map((x) => x.name));
    expect(hosts.filter((x: any) => x.connectionState === 'DISCONNECTED').map((x: any) => x.name).sort()).toEqual(disconnected.sort());
  });

  it('orders a cluster\'s hosts as the mirror holds them now: the sorted list kept between queries follows a host moving in', async () => {
    const v = h.sim.vcenters[0]!;
    const [from, to] = v.inventory.clusters;
    const query = `query($id: ID!) { node(id: $id) { ... on Cluster { hosts { totalCount nodes { moId } } } } }`;
    const hostsOf = async (clusterMoId: string) =>
      ((await h.gql(query, { id: toGlobalId('Cluster', v.name, clusterMoId) })).data.node.hosts.nodes as { moId: string }[]).map((n) => n.moId);
    // host-9 before host-10: the MoID's number, as the API documents its order.
    const expected = (clusterMoId: string) =>
      v.inventory.hosts.filter((x) => x.cluster === clusterMoId).map((x) => x.moId).sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, '')));
    // Twice: the second answer comes from the sorted list kept for this mirror version.
    expect(await hostsOf(to!.moId)).toEqual(expected(to!.moId));
    expect(await hostsOf(to!.moId)).toEqual(expected(to!.moId));
    // The lowest-numbered host of the other cluster moves in: it sorts first, not last.
    const mover = v.inventory.hosts.filter((x) => x.cluster === from!.moId).sort((a, b) => Number(a.moId.replace(/\D/g, '')) - Number(b.moId.replace(/\D/g, '')))[0]!;
    if (!mover.inMaintenanceMode && mover.connectionState === 'connected') v.changeInventory({ action: 'enterMaintenance', host: mover.moId });
    v.changeInventory({ action: 'moveHost', host: mover.moId, cluster: to!.moId });
    await converged(h, v);
    const now = await hostsOf(to!.moId);
    expect(now).toEqual(expected(to!.moId));
    expect(now[0]).toBe(mover.moId);
    expect(await hostsOf(from!.moId)).toEqual(expected(from!.moId));
  });

  it('gives credential-passthrough callers no mirror reader: they read vCenter live with their own session', () => {
    const mirrors = h.gateway.mirrors!;
    expect(inventoryReader(mirrors, { key: 'vcenter:alice#1', kind: 'vcenter', name: 'alice', roles: new Set() })).toBeUndefined();
    const reader = inventoryReader(mirrors, { key: 'anonymous:x', kind: 'anonymous', name: 'anonymous', roles: new Set() });
    expect(reader?.snapshot(h.sim.vcenters[0]!.name)?.hosts().length).toBe(h.sim.vcenters[0]!.inventory.hosts.length);
    // Nor may they follow the mirror's host changes.
    const passthrough = { caller: { key: 'vcenter:alice#1', kind: 'vcenter', name: 'alice', roles: new Set() }, mirrors } as unknown as GraphQLContext;
    expect(() => subscribeHostsChanged(passthrough, null)).toThrow(expect.objectContaining({ extensions: { code: 'FORBIDDEN' } }));
  });

  it('drops stale data after the configured age: the vCenter is then reported unavailable', async () => {
    const short = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 2 } }, undefined, {
      inventoryMirror: { staleMaxAgeMs: 300, retryDelayMs: 50 },
      client: FAST_CLIENT,
    });
    try {
      const v = short.sim.vcenters[0]!;
      await converged(short, v);
      await v.down();
      await mirrorOf(short, v).until((s) => s.state === 'STALE');
      const dropped = await eventually(() => short.gql(`{ hosts { totalCount } }`), (r) => codes(r).includes('VCENTER_UNAVAILABLE'));
      expect(dropped.data?.hosts ?? null).toBeNull();
      await v.up();
      await converged(short, v);
      expect((await short.gql(`{ hosts { totalCount } }`)).data.hosts.totalCount).toBe(2);
    } finally {
      await short.close();
    }
  });
});
