// The per-cluster cache of installed images and desired software (src/mirror/cluster-reports.ts)
// against the simulator, over HTTP: warm queries cost vCenter no vLCM call; a host change of a
// cluster, a resync or the maximum age refreshes exactly the clusters concerned; concurrent
// misses share one call; failures are not kept; passthrough callers always read live with
// their own session; the response says how old each report is.

import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AUTH } from '../src/auth/config.ts';
import { ClusterReports } from '../src/mirror/index.ts';
import type { HostChange, HostField, MirrorHost, MirrorSnapshot, ReportFeed } from '../src/mirror/index.ts';
import type { SimulatedVCenter } from '../src/simulator/index.ts';
import { basic, postAs } from './auth-clients.ts';
import { codes, eventually, simStatsOverHttp, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const FAST_CLIENT = { retry: { baseDelayMs: 20, maxDelayMs: 100 }, breaker: { failureThreshold: 2, probeIntervalMs: 100 } };
const IMAGES_ROUTE = 'GET /api/esx/settings/clusters/{cluster}/installed-images';
const SOFTWARE_ROUTE = 'GET /api/esx/settings/clusters/{cluster}/software';
const CREATE_COLLECTOR_ROUTE = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/CreatePropertyCollector';
const MAX_AGE_MS = 60_000;

/** The fleet query's image part: every cluster's report, and every host's image through it. */
const IMAGES = `{ clusters { nodes { moId
  installedImages {
    freshness { fetchedAt ageSeconds cached }
    hostInfo { host { moId } name }
    imageCategories { mostWidelyUsedImage { softwareInfo { baseImage { version } freshness { ageSeconds } } hosts { moId } } }
  }
  hosts { nodes { moId installedImage { baseImage { version } freshness { fetchedAt ageSeconds cached } } } }
} } }`;
const DESIRED = `{ clusters { nodes { moId desiredSoftware { baseImage { version } freshness { fetchedAt ageSeconds cached } } } } }`;

interface Freshness {
  fetchedAt: string;
  ageSeconds: number;
  cached: boolean;
}

function byCluster(data: any): Map<string, any> {
  return new Map(data.clusters.nodes.map((c: any) => [c.moId, c]));
}

function freshnessOf(data: any): Map<string, Freshness> {
  return new Map(data.clusters.nodes.map((c: any) => [c.moId, c.installedImages.freshness]));
}

describe('image cache: service-account callers', () => {
  let h: Harness;
  let v: SimulatedVCenter;
  /** The cache's clock: only the test moves it. */
  let now = Date.parse('2026-03-01T12:00:00.000Z');
  const at = (ms: number) => new Date(ms).toISOString();

  const mirror = () => h.gateway.mirrors!.get(v.name)!;
  const calls = async (route: string) => (await simStatsOverHttp(h.sim, v.url)).requests[route] ?? 0;
  /** Runs `query` and returns its data with the installed-images (or `route`) calls it cost. */
  const measured = async (query: string, route = IMAGES_ROUTE) => {
    const before = await calls(route);
    const res = await h.gql(query);
    return { res, data: res.data, calls: (await calls(route)) - before };
  };
  /** Resolves once the mirror has applied what `ok` looks for (checked at every mirror update). */
  const applied = (ok: (s: MirrorSnapshot) => boolean) => mirror().until(() => {
    const s = mirror().snapshot();
    return s !== undefined && ok(s);
  });
  const clusterCount = () => v.inventory.clusters.length;

  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 4, hostsPerCluster: 4 } }, undefined, {
      inventoryMirror: { imageCacheMaxAgeMs: MAX_AGE_MS, imageCacheClock: () => now },
      client: FAST_CLIENT,
    });
    v = h.sim.vcenters[0]!;
    await mirror().until((s) => s.state === 'LIVE' && s.feedVersion !== '');
  });
  afterAll(() => h?.close());

  it('two concurrent cold queries share one call per cluster', async () => {
    // The calls are held in the simulator until both queries wait for them.
    v.setFaults([{ route: IMAGES_ROUTE, latencyMs: 2_500 }]);
    const before = await calls(IMAGES_ROUTE);
    const held = v.stats().faultsInjected['latency'] ?? 0;
    try {
      const first = h.gql(IMAGES);
      await eventually(() => v.stats().faultsInjected['latency'] ?? 0, (n) => n >= held + clusterCount());
      const second = h.gql(IMAGES);
      const [a, b] = await Promise.all([first, second]);
      expect(a.errors).toBeUndefined();
      expect(b.data).toEqual(a.data);
    } finally {
      v.clearFaults();
    }
    expect((await calls(IMAGES_ROUTE)) - before).toBe(clusterCount());
    const counters = h.gateway.mirrors!.reports(v.name)!.installedImages.counters;
    // Every cluster was missed by both queries (the second joined the fetches in flight).
    expect(counters).toMatchObject({ hits: 0, misses: 2 * clusterCount(), fetches: { cold: clusterCount(), invalidated: 0, expired: 0 } });
  });

  it('answers warm fleet queries from the cache; the age grows with the clock', async () => {
    const first = await measured(IMAGES);
    expect(first.calls).toBe(0);
    for (const [, f] of freshnessOf(first.data)) expect(f).toEqual({ fetchedAt: at(now), ageSeconds: 0, cached: true });
    now += 42_000;
    const second = await measured(IMAGES);
    const third = await measured(IMAGES);
    expect([second.calls, third.calls]).toEqual([0, 0]);
    for (const [, f] of freshnessOf(third.data)) expect(f).toEqual({ fetchedAt: at(now - 42_000), ageSeconds: 42, cached: true });
    // A host's image carries its cluster report's age; images inside a report do not repeat it.
    const cluster = third.data.clusters.nodes.find((c: any) => c.hosts.nodes.some((n: any) => n.installedImage));
    expect(cluster.hosts.nodes.find((n: any) => n.installedImage).installedImage.freshness).toEqual({ fetchedAt: at(now - 42_000), ageSeconds: 42, cached: true });
    expect(cluster.installedImages.imageCategories.mostWidelyUsedImage.softwareInfo.freshness).toBeNull();
    // The same three queries without the cache would have cost one call per cluster each.
    const metrics = await (await fetch(h.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(metrics).toContain(`gateway_image_cache_lookups_total{vcenter="${v.name}",report="installedImages",result="hit"}`);
  });

  it('refreshes only the cluster of a host whose build changed, with the new build in its report', async () => {
    const host = v.inventory.hosts.find((x) => x.connectionState === 'connected' && !x.inMaintenanceMode)!;
    const build = host.image.release.build === '24585383' ? '24022510' : '24585383';
    const before = freshnessOf((await h.gql(IMAGES)).data);
    now += 5_000;
    v.changeInventory({ action: 'setHostBuild', host: host.moId, build });
    await applied((s) => s.host(host.moId)?.product?.build === build);
    const after = await measured(IMAGES);
    expect(after.calls).toBe(1);
    const clusters = byCluster(after.data);
    expect(clusters.get(host.cluster).installedImages.freshness).toEqual({ fetchedAt: at(now), ageSeconds: 0, cached: true });
    for (const [moId, f] of freshnessOf(after.data)) if (moId !== host.cluster) expect(f.fetchedAt, moId).toBe(before.get(moId)!.fetchedAt);
    const image = clusters.get(host.cluster).hosts.nodes.find((n: any) => n.moId === host.moId).installedImage;
    expect(image.baseImage.version).toMatch(new RegExp(`\\.${build}$`));
    expect((await measured(IMAGES)).calls).toBe(0);
  });

  it('refreshes the cluster of a host that disconnects and reconnects, not on maintenance mode', async () => {
    const host = v.inventory.hosts.find((x) => x.connectionState === 'connected' && !x.inMaintenanceMode)!;
    await h.gql(IMAGES);
    for (const action of ['disconnectHost', 'reconnectHost'] as const) {
      now += 1_000;
      v.changeInventory({ action, host: host.moId });
      await applied((s) => s.host(host.moId)?.connectionState === (action === 'disconnectHost' ? 'disconnected' : 'connected'));
      const after = await measured(IMAGES);
      expect(after.calls, action).toBe(1);
      expect(freshnessOf(after.data).get(host.cluster)!.fetchedAt, action).toBe(at(now));
    }
    // Maintenance mode does not change what a host runs.
    v.changeInventory({ action: 'enterMaintenance', host: host.moId });
    await applied((s) => s.host(host.moId)?.inMaintenanceMode === true);
    expect((await measured(IMAGES)).calls).toBe(0);
  });

  it('refreshes both clusters when a host moves, and each report lists the host where it now is', async () => {
    const host = v.inventory.hosts.find((x) => x.inMaintenanceMode && x.connectionState === 'connected')!;
    const from = host.cluster;
    const to = v.inventory.clusters.find((c) => c.moId !== from && c.datacenter === host.datacenter)!.moId;
    await h.gql(IMAGES);
    now += 1_000;
    v.changeInventory({ action: 'moveHost', host: host.moId, cluster: to });
    await applied((s) => s.host(host.moId)?.parent?.value === to);
    const after = await measured(IMAGES);
    expect(after.calls).toBe(2);
    const fresh = freshnessOf(after.data);
    expect([fresh.get(from)!.fetchedAt, fresh.get(to)!.fetchedAt]).toEqual([at(now), at(now)]);
    const listed = (moId: string) => byCluster(after.data).get(moId).installedImages.hostInfo.map((i: any) => i.host.moId);
    expect(listed(to)).toContain(host.moId);
    expect(listed(from)).not.toContain(host.moId);
  });

  it('refreshes the cluster a host is added to or removed from', async () => {
    const cluster = v.inventory.clusters[0]!.moId;
    await h.gql(IMAGES);
    const { host } = v.changeInventory({ action: 'addHost', cluster, name: 'esx-cache-added.sim.local' });
    await applied((s) => s.host(host!) !== undefined);
    const added = await measured(IMAGES);
    expect(added.calls).toBe(1);
    expect(byCluster(added.data).get(cluster).installedImages.hostInfo).toContainEqual({ host: { moId: host }, name: 'esx-cache-added.sim.local' });
    v.changeInventory({ action: 'disconnectHost', host: host! });
    await applied((s) => s.host(host!)?.connectionState === 'disconnected');
    await h.gql(IMAGES);
    v.changeInventory({ action: 'removeHost', host: host! });
    await applied((s) => s.host(host!) === undefined);
    const removed = await measured(IMAGES);
    expect(removed.calls).toBe(1);
    expect(byCluster(removed.data).get(cluster).installedImages.hostInfo.map((i: any) => i.host.moId)).not.toContain(host);
  });

  it('reads every cluster again once its report is older than the maximum age', async () => {
    // Past the maximum age of every report (the earlier tests refreshed some later than others).
    now += MAX_AGE_MS + 1;
    const expired = await measured(IMAGES);
    expect(expired.calls).toBe(clusterCount());
    for (const [, f] of freshnessOf(expired.data)) expect(f).toEqual({ fetchedAt: at(now), ageSeconds: 0, cached: true });
    // Exactly the maximum age is still served, a millisecond more is not.
    now += MAX_AGE_MS;
    const atLimit = await measured(IMAGES);
    expect(atLimit.calls).toBe(0);
    for (const [, f] of freshnessOf(atLimit.data)) expect(f.ageSeconds).toBe(MAX_AGE_MS / 1000);
    now += 1;
    expect((await measured(IMAGES)).calls).toBe(clusterCount());
    expect((await measured(IMAGES)).calls).toBe(0);
  });

  it('reads every cluster again after the mirror resyncs (session loss)', async () => {
    await h.gql(IMAGES);
    const collectors = v.stats().requests[CREATE_COLLECTOR_ROUTE] ?? 0;
    v.expireSessions();
    // The wait in progress ends with this change; the next call finds the session gone.
    v.changeInventory({ action: 'renameCluster', cluster: v.inventory.clusters[1]!.moId, name: 'Cache-Resync' });
    await mirror().until((s) => s.state === 'LIVE' && s.feedVersion !== '' && (v.stats().requests[CREATE_COLLECTOR_ROUTE] ?? 0) > collectors);
    const after = await measured(IMAGES);
    expect(after.calls).toBe(clusterCount());
  });

  it('caches desired software the same way, and keeps no failure (a cluster not managed by an image)', async () => {
    const unmanaged = v.inventory.clusters.filter((c) => !c.desiredImage).map((c) => c.moId);
    expect(unmanaged.length).toBeGreaterThan(0);
    const cold = await measured(DESIRED, SOFTWARE_ROUTE);
    expect(cold.calls).toBe(clusterCount());
    expect(codes(cold.res)).toEqual(unmanaged.map(() => 'NOT_FOUND'));
    const warm = await measured(DESIRED, SOFTWARE_ROUTE);
    // Only the refusals are asked again.
    expect(warm.calls).toBe(unmanaged.length);
    expect(codes(warm.res)).toEqual(unmanaged.map(() => 'NOT_FOUND'));
    const managed = warm.data.clusters.nodes.find((c: any) => c.desiredSoftware);
    expect(managed.desiredSoftware.freshness).toEqual({ fetchedAt: expect.any(String), ageSeconds: 0, cached: true });
    now += 3_000;
    expect(byCluster((await measured(DESIRED, SOFTWARE_ROUTE)).data).get(managed.moId).desiredSoftware.freshness.ageSeconds).toBe(3);
    // A host change of the cluster refreshes its desired software too.
    const host = v.inventory.hosts.find((x) => x.cluster === managed.moId && x.connectionState === 'connected')!;
    v.changeInventory({ action: 'disconnectHost', host: host.moId });
    await applied((s) => s.host(host.moId)?.connectionState === 'disconnected');
    expect((await measured(DESIRED, SOFTWARE_ROUTE)).calls).toBe(unmanaged.length + 1);
  });
});

describe('image cache: credential passthrough', () => {
  let h: Harness;
  let v: SimulatedVCenter;
  const CLUSTER_ADMIN = basic('cluster-admin@vsphere.local', 'ClusterAdmin1!');
  const CLUSTER_READER = basic('cluster-reader@vsphere.local', 'ClusterReader1!');
  const calls = async () => (await simStatsOverHttp(h.sim, v.url)).requests[IMAGES_ROUTE] ?? 0;

  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 3, hostsPerCluster: 2 } }, undefined, {
      inventoryMirror: {},
      client: FAST_CLIENT,
      auth: { ...DEFAULT_AUTH, mode: 'vcenter', callerLimits: { ...DEFAULT_AUTH.callerLimits, requestsPerSecond: 10_000, burst: 10_000 } },
    });
    v = h.sim.vcenters[0]!;
    await h.gateway.mirrors!.get(v.name)!.until((s) => s.state === 'LIVE');
    // The service account's cache holds every cluster's report.
    const cache = h.gateway.mirrors!.reports(v.name)!.installedImages;
    await Promise.all(v.inventory.clusters.map((c) => cache.get(c.moId)));
  });
  afterAll(() => h?.close());

  it('reads live through the caller\'s own session on every query', async () => {
    const query = '{ clusters { nodes { moId installedImages { freshness { cached } hostInfo { host { moId } } } } } }';
    const mine = v.inventory.clusters[1]!; // cluster-admin's cluster
    for (let i = 0; i < 2; i++) {
      const before = await calls();
      const res = await postAs(h.url, query, {}, { authorization: CLUSTER_ADMIN });
      expect(res.codes).toEqual([]);
      expect(res.data).toEqual([{ clusters: { nodes: [{ moId: mine.moId, installedImages: { freshness: { cached: false }, hostInfo: mine.hosts.map((moId) => ({ host: { moId } })) } }] } }]);
      expect((await calls()) - before).toBe(1);
    }
  });

  it('gets vCenter\'s refusal, not the service account\'s cached report', async () => {
    const visible = v.inventory.clusters[0]!; // cluster-reader: ReadOnly, without the lifecycle privilege
    const res = await postAs(h.url, '{ clusters { nodes { moId installedImages { hostInfo { host { moId } } } } } }', {}, { authorization: CLUSTER_READER });
    expect(res.codes).toEqual(['FORBIDDEN']);
    expect(res.data).toEqual([{ clusters: { nodes: [{ moId: visible.moId, installedImages: null }] } }]);
    // The cached report exists, and nothing of it reached the reader.
    const cached = await h.gateway.mirrors!.reports(v.name)!.installedImages.get(visible.moId);
    expect(Object.keys(cached.value.host_info).length).toBeGreaterThan(0);
    for (const moId of Object.keys(cached.value.host_info)) expect(JSON.stringify(res)).not.toContain(moId);
  });
});

describe('image cache: which host changes refresh a cluster, and which clusters get entries', () => {
  // The cache on a scripted change stream (each kind of change on its own, which the simulator
  // cannot always produce: a disconnect there also unsets the host's build), fetching from the simulator.
  let h: Harness;
  let v: SimulatedVCenter;
  const events = new EventEmitter();
  const held = new Set<string>();
  const feed: ReportFeed = {
    onHostChanges: (l) => (events.on('host', l), () => events.off('host', l)),
    onUpdate: (l) => (events.on('update', l), () => events.off('update', l)),
    onReset: (l) => (events.on('reset', l), () => events.off('reset', l)),
    hasCluster: (moId) => held.has(moId),
  };
  let reports: ClusterReports;
  const calls = async () => (await simStatsOverHttp(h.sim, v.url)).requests[IMAGES_ROUTE] ?? 0;
  const costOf = async (read: () => Promise<unknown>) => {
    const before = await calls();
    await read();
    return (await calls()) - before;
  };

  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 2, hostsPerCluster: 2 } }, undefined, { client: FAST_CLIENT });
    v = h.sim.vcenters[0]!;
    reports = new ClusterReports(feed, h.gateway.upstreams.get(v.name));
  });
  afterAll(() => h?.close());

  const rows: Array<[HostField, number]> = [
    ['NAME', 1],
    ['CLUSTER', 1],
    ['CONNECTION_STATE', 1],
    ['BUILD', 1],
    ['POWER_STATE', 0],
    ['MAINTENANCE_MODE', 0],
  ];
  for (const [field, refetches] of rows) {
    it(`${field} ${refetches ? 'refreshes' : 'keeps'} the host's cluster report`, async () => {
      const cluster = v.inventory.clusters[0]!.moId;
      held.add(cluster);
      await reports.installedImages.get(cluster);
      const host: MirrorHost = { vcenter: v.name, moId: 'host-1', name: 'esx', parent: { _typeName: 'ManagedObjectReference', type: 'ClusterComputeResource', value: cluster }, connectionState: 'connected', inMaintenanceMode: false };
      const change: HostChange = { vcenter: v.name, kind: 'CHANGED', before: host, after: host, fields: [field], version: 1 };
      events.emit('host', [change]);
      expect(await costOf(() => reports.installedImages.get(cluster))).toBe(refetches);
    });
  }

  it('does not keep a fetch that a host change overtook: readers after the change fetch again', async () => {
    const a = v.inventory.clusters[0]!.moId;
    held.add(a);
    events.emit('reset');
    const host: MirrorHost = { vcenter: v.name, moId: 'host-1', name: 'esx', parent: { _typeName: 'ManagedObjectReference', type: 'ClusterComputeResource', value: a }, connectionState: 'connected', inMaintenanceMode: false };
    v.setFaults([{ route: IMAGES_ROUTE, latencyMs: 1_000 }]);
    const latency = v.stats().faultsInjected['latency'] ?? 0;
    const before = await calls();
    try {
      const first = reports.installedImages.get(a);
      await eventually(() => v.stats().faultsInjected['latency'] ?? 0, (n) => n > latency);
      events.emit('host', [{ vcenter: v.name, kind: 'CHANGED', before: host, after: host, fields: ['BUILD'], version: 2 } satisfies HostChange]);
      // Asked after the change: must not join the fetch that started before it.
      const second = reports.installedImages.get(a);
      await Promise.all([first, second]);
    } finally {
      v.clearFaults();
    }
    expect((await calls()) - before).toBe(2);
    // The later fetch is the one kept.
    expect(await costOf(() => reports.installedImages.get(a))).toBe(0);
  });

  it('keeps entries only for clusters the mirror holds, and drops a removed cluster\'s entry', async () => {
    const [a, b] = v.inventory.clusters.map((c) => c.moId);
    held.clear();
    events.emit('update');
    expect(reports.installedImages.size()).toBe(0);
    // Not (yet) in the mirror: read every time, nothing kept.
    expect(await costOf(() => reports.installedImages.get(a!))).toBe(1);
    expect(await costOf(() => reports.installedImages.get(a!))).toBe(1);
    expect(reports.installedImages.size()).toBe(0);
    held.add(a!).add(b!);
    await reports.installedImages.get(a!);
    await reports.installedImages.get(b!);
    expect(reports.installedImages.size()).toBe(2);
    held.delete(a!);
    events.emit('update');
    expect(reports.installedImages.size()).toBe(1);
    expect(await costOf(() => reports.installedImages.get(b!))).toBe(0);
  });
});
