import { DEPOT_URLS } from '../src/simulator/index.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codes, requestsWithoutLogins, simStatsOverHttp, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { FLEET_QUERY } from './queries.ts';

describe('fleet query over two simulated vCenters', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 4 } });
  });
  afterAll(() => h?.close());

  it('returns clusters, hosts, products and installed images from every vCenter', async () => {
    const res = await h.gql(FLEET_QUERY);
    // The non-image-managed cluster is only visible through desiredSoftware, not asked here.
    expect(res.errors).toBeUndefined();
    const clusters = res.data.clusters.nodes;
    expect(res.data.clusters.totalCount).toBe(6);
    expect(new Set(clusters.map((c: any) => c.vcenter.name))).toEqual(new Set(h.sim.vcenters.map((v) => v.name)));
    for (const cluster of clusters) {
      expect(cluster.hosts.totalCount).toBe(4);
      expect(cluster.installedImages.status).toMatch(/^(SUCCESS|UNAVAILABLE|ELIGIBILITY_CHECK_FAILURE|EXTRACT_INSTALLED_IMAGE_FAILURE)$/);
      for (const host of cluster.hosts.nodes) {
        expect(host.name).toMatch(/\w/);
        expect(['CONNECTED', 'DISCONNECTED', 'NOT_RESPONDING']).toContain(host.connectionState);
      }
    }
  });

  it('agrees across the two APIs: a host product build is in the base image its cluster lists for it', async () => {
    const res = await h.gql(FLEET_QUERY);
    let checked = 0;
    for (const cluster of res.data.clusters.nodes) {
      for (const host of cluster.hosts.nodes) {
        if (!host.installedImage || !host.product) continue;
        expect(host.installedImage.baseImage.version).toContain(host.product.build);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('gives a host an installed image exactly when an image category of its cluster lists it', async () => {
    const res = await h.gql(FLEET_QUERY);
    let withImage = 0;
    for (const cluster of res.data.clusters.nodes) {
      const c = cluster.installedImages.imageCategories;
      const categories = [c?.mostWidelyUsedImage, c?.highestVersionedImage, ...(c?.hostImageList ?? [])].filter(Boolean);
      const listed = new Set(categories.flatMap((i: any) => i.hosts.map((x: any) => x.moId)));
      for (const host of cluster.hosts.nodes) {
        expect(host.installedImage !== null, `${cluster.moId}/${host.moId}`).toBe(listed.has(host.moId));
        if (host.installedImage) withImage++;
      }
    }
    expect(withImage).toBeGreaterThan(10);
  });

  it('shows the inventory cases operators meet', async () => {
    const res = await h.gql(FLEET_QUERY);
    const clusters = res.data.clusters.nodes;
    const hosts = clusters.flatMap((c: any) => c.hosts.nodes);
    // vCenter cannot know the power state of a host it lost: UNKNOWN (VI/JSON 'unknown').
    expect(hosts.some((x: any) => x.connectionState === 'DISCONNECTED' && x.powerState === 'UNKNOWN')).toBe(true);
    expect(hosts.some((x: any) => x.inMaintenanceMode)).toBe(true);

    const mixed = clusters.find((c: any) => c.installedImages.uniformImage === false);
    expect(mixed).toBeDefined();
    expect(mixed.installedImages.imageCategories.isHighestAndWidelyUsedImageEqual).toBe(false);
    const categories = mixed.installedImages.imageCategories;
    expect(categories.mostWidelyUsedImage.softwareInfo.baseImage.version).not.toBe(categories.highestVersionedImage.softwareInfo.baseImage.version);
    // host_image_list holds the images other than those two.
    expect(categories.hostImageList.length).toBeGreaterThan(0);
    // Host IDs in the report became Host objects with names read from vCenter.
    const imageHost = categories.hostImageList[0].hosts[0];
    expect(hosts.find((x: any) => x.moId === imageHost.moId)?.name).toBe(imageHost.name);

    const failed = clusters.find((c: any) => c.installedImages.status !== 'SUCCESS');
    expect(failed).toBeDefined();
    const opNotifications = failed.installedImages.notifications.flatMap((n: any) => n.notifications.errors);
    expect(opNotifications.length).toBeGreaterThan(0);
    expect(opNotifications[0].message.defaultMessage).toMatch(/\w/);

    const orphans = clusters.flatMap((c: any) => c.installedImages.orphanedVibs);
    expect(orphans.length).toBeGreaterThan(0);
    expect(orphans[0].vib).toBe(`${orphans[0].name}(${orphans[0].version})`);
    expect(orphans[0].hosts[0].name).toMatch(/\w/);
  });

  it('reports vCenter product information from the VI/JSON API', async () => {
    const res = await h.gql(`{ vcenters { id name url about { version build apiVersion } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.vcenters).toHaveLength(2);
    for (const vc of res.data.vcenters) {
      expect(vc.about.apiVersion).toMatch(/^8\.0\.\d\.\d$/);
      expect(vc.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  it('gives a NOT_FOUND error at the field path for a cluster that is not image-managed, and data for the rest', async () => {
    const res = await h.gql(`{ clusters { nodes { moId desiredSoftware { baseImage { version } components { name version } } } } }`);
    const nodes = res.data.clusters.nodes;
    const missing = nodes.filter((c: any) => c.desiredSoftware === null);
    expect(missing.length).toBeGreaterThan(0);
    expect(nodes.filter((c: any) => c.desiredSoftware !== null).length).toBeGreaterThan(0);
    expect(res.errors!.length).toBe(missing.length);
    for (const e of res.errors!) {
      expect(e.extensions!['code']).toBe('NOT_FOUND');
      expect(e.path).toEqual(['clusters', 'nodes', expect.any(Number), 'desiredSoftware']);
    }
  });
});

describe('upstream cost of the fleet query', () => {
  async function fleetCost(hostsPerCluster: number) {
    const h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster } });
    try {
      const res = await h.gql(FLEET_QUERY);
      expect(res.errors).toBeUndefined();
      // Read the counters the way any client would: GET /_sim/stats.
      return await Promise.all(
        h.sim.vcenters.map(async (vc) => {
          const stats = await simStatsOverHttp(h.sim, vc.url);
          return {
            clusters: res.data.clusters.nodes.filter((c: any) => c.vcenter.name === vc.name).length,
            requests: requestsWithoutLogins(stats),
            logins: stats.logins,
            routes: stats.requests,
          };
        }),
      );
    } finally {
      await h.close();
    }
  }

  it('is exactly one call per route per vCenter (installed images: one per cluster), whatever the host count', async () => {
    const small = await fleetCost(4);
    const large = await fleetCost(40);
    for (const vc of [...small, ...large]) {
      // The hosts of every cluster, and every host the image reports name by ID, in one
      // RetrievePropertiesEx: the host-by-ID lookups wait for that read instead of asking again.
      expect(vc.routes).toEqual({
        'GET /api/esx/settings/clusters/{cluster}/installed-images': vc.clusters,
        'GET /api/vcenter/cluster': 1,
        'GET /sdk/vim25/{release}/ServiceInstance/{moId}/content': 1,
        'POST /api/session': 1,
        'POST /sdk/vim25/{release}/PropertyCollector/{moId}/RetrievePropertiesEx': 1,
        'POST /sdk/vim25/{release}/SessionManager/{moId}/Login': 1,
      });
      expect(vc.logins).toEqual({ rest: 1, vim: 1 });
    }
    expect(large.map((v) => v.requests)).toEqual(small.map((v) => v.requests));
    expect(large.map((v) => v.routes)).toEqual(small.map((v) => v.routes));
  });
});

describe('host-by-ID lookups', () => {
  let h: Harness;
  const READ = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/RetrievePropertiesEx';
  const SCAN = 'POST /sdk/vim25/{release}/HostPatchManager/{moId}/ScanHostPatchV2_Task';
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 5 }, patchScanDurationMs: 60_000 });
  });
  afterAll(() => h?.close());

  async function hostIdsByVCenter(): Promise<Map<string, string[]>> {
    const res = await h.gql(`{ hosts(first: 1000, filter: { connectionStates: [CONNECTED] }) { nodes { id vcenter { name } } } }`);
    const byVCenter = new Map<string, string[]>();
    for (const x of res.data.hosts.nodes) byVCenter.set(x.vcenter.name, [...(byVCenter.get(x.vcenter.name) ?? []), x.id]);
    return byVCenter;
  }

  it('read many hosts, repeated or not, in one RetrievePropertiesEx per vCenter', async () => {
    const ids = [...(await hostIdsByVCenter()).values()].flatMap((list) => list.slice(0, 6));
    const asked = [...ids, ...ids.slice(0, 4)]; // repeats too
    for (const vc of h.sim.vcenters) vc.resetStats();
    const res = await h.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Host { name connectionState } } }`, { ids: asked });
    expect(res.errors).toBeUndefined();
    expect(res.data.nodes.map((n: any) => n.id)).toEqual(asked);
    for (const vc of h.sim.vcenters) expect(vc.stats().requests).toEqual({ [READ]: 1 });
  });

  it('start one scan per host when a host is named twice', async () => {
    const [vcName, ids] = [...(await hostIdsByVCenter())][0]!;
    const vc = h.sim.vcenters.find((v) => v.name === vcName)!;
    vc.resetStats();
    const res = await h.gql(
      `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id host { id } } userErrors { code field } } }`,
      { input: { hostIds: [ids[0], ids[1], ids[0]], metaUrls: [DEPOT_URLS[0]] } },
    );
    const payload = res.data.hostPatchScanStart;
    expect(payload.userErrors).toEqual([]);
    expect(payload.scans.map((s: any) => s.host.id).sort()).toEqual([ids[0], ids[1]].sort());
    expect(vc.stats().requests[SCAN]).toBe(2);
    for (const scan of payload.scans) {
      await h.gql(`mutation($id: ID!) { patchScanCancel(input: { id: $id }) { userErrors { code } } }`, { id: scan.id });
    }
  });
});

describe('pagination', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 4 } });
  });
  afterAll(() => h?.close());

  it('walks every host exactly once with first/after, in a stable order', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const res: any = await h.gql(`query($after: String) { hosts(first: 5, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, { after });
      expect(res.errors).toBeUndefined();
      seen.push(...res.data.hosts.edges.map((e: any) => e.node.id));
      expect(res.data.hosts.totalCount).toBe(24);
      if (!res.data.hosts.pageInfo.hasNextPage) break;
      after = res.data.hosts.pageInfo.endCursor;
    }
    expect(seen).toHaveLength(24);
    expect(new Set(seen).size).toBe(24);
  });

  it('filters hosts by cluster, state and maintenance mode', async () => {
    const clusters = await h.gql(`{ clusters(first: 1) { nodes { id hosts { totalCount } } } }`);
    const clusterId = clusters.data.clusters.nodes[0].id;
    const res = await h.gql(`query($c: [ID!]) { hosts(filter: { clusterIds: $c }) { totalCount nodes { cluster { id } } } }`, { c: [clusterId] });
    expect(res.data.hosts.totalCount).toBe(4);
    expect(res.data.hosts.nodes.every((n: any) => n.cluster.id === clusterId)).toBe(true);

    const disconnected = await h.gql(`{ hosts(filter: { connectionStates: [DISCONNECTED] }) { nodes { connectionState } } }`);
    expect(disconnected.data.hosts.nodes.length).toBeGreaterThan(0);
    expect(disconnected.data.hosts.nodes.every((n: any) => n.connectionState === 'DISCONNECTED')).toBe(true);

    const maintenance = await h.gql(`{ hosts(filter: { inMaintenanceMode: true }) { nodes { inMaintenanceMode } } }`);
    expect(maintenance.data.hosts.nodes.length).toBeGreaterThan(0);
    expect(maintenance.data.hosts.nodes.every((n: any) => n.inMaintenanceMode)).toBe(true);
  });

  it('refuses pages above the maximum and cursors it did not issue', async () => {
    expect(codes(await h.gql(`{ hosts(first: 100000) { totalCount } }`))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(`{ hosts(first: -1) { totalCount } }`))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await h.gql(`{ clusters(after: "bm90LWEtY3Vyc29y") { totalCount } }`))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('per-vCenter cap on in-flight upstream requests', () => {
  it('holds while DataLoader batches and per-cluster calls run in parallel', async () => {
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 8, hostsPerCluster: 2 }, latencyMs: 20 }, (sim) =>
      sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: sim.username, password: sim.password, caPem: sim.caPem, maxConcurrentRequests: 2 })),
    );
    try {
      const res = await h.gql(FLEET_QUERY);
      expect(res.errors).toBeUndefined();
      expect(res.data.clusters.totalCount).toBe(8);
      const diagnostics = h.gateway.upstreams.list[0]!.diagnostics();
      expect(diagnostics.peakInFlight).toBe(2);
    } finally {
      await h.close();
    }
  });
});

describe('an operation with many upstream calls at once', () => {
  it('lets every call listen on the operation signal without a listener-leak warning', async () => {
    // 40 clusters: 40 installed-images calls in one operation, 24 of them queued behind the vCenter's cap
    // of 16, each queue place listening on the operation's signal.
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 40, hostsPerCluster: 1 } });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const res = await h.gql(`{ clusters(first: 100) { nodes { installedImages { status } } } }`);
      expect(res.data.clusters.nodes).toHaveLength(40);
      const v = h.sim.vcenters[0]!;
      expect(v.stats().requests['GET /api/esx/settings/clusters/{cluster}/installed-images']).toBe(40);
      // process 'warning' events are emitted on the next tick: let them all out.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.includes('MaxListenersExceeded'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await h.close();
    }
  });
});
