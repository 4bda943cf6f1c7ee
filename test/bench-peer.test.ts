/**
 * The benchmark's peer and floor accounting (bench/peer.ts, bench/fleet.ts): the Mesh-style peer
 * built from the official REST spec answers the data it shares with the gateway's fleet query,
 * with exactly the REST requests a generated gateway makes, all accepted by the spec check; and
 * dependent round trips are counted from the simulator's counters as the floor needs them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { FLEET_QUERY } from './queries.ts';
import { peerQuery, startPeer } from '../bench/peer.ts';
import { comparePeer, dependentTrips, queryRoutes } from '../bench/fleet.ts';
import type { SimStats } from '../src/simulator/index.ts';

const SIZE = { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 4 };

describe('bench peer (Mesh over the REST OpenAPI spec) and dependent trips', () => {
  let h: Harness;
  let peer: Awaited<ReturnType<typeof startPeer>>;
  beforeAll(async () => {
    h = await startHarness({ size: SIZE }, undefined, { inventoryMirror: {} });
    await Promise.all(h.gateway.mirrors!.list().map((m) => m.until((s) => s.state === 'LIVE', 20_000)));
    peer = await startPeer({ vcenters: h.sim.vcenters.map((v) => ({ name: v.name, url: v.url })), username: h.sim.username, password: h.sim.password, caPem: h.sim.caPem });
  }, 60_000);
  afterAll(async () => {
    await peer?.close();
    await h?.close();
  });

  const post = async (url: string, query: string) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(20_000) });
    return (await response.json()) as { data?: any; errors?: unknown[] };
  };
  const stats = (): SimStats[] => h.sim.vcenters.map((v) => v.stats());
  const reset = () => h.sim.vcenters.forEach((v) => v.resetStats());

  it('answers the shared part of the fleet data like the gateway, with 1 + 2 × clusters REST requests per vCenter, none refused by the spec', async () => {
    const gateway = await h.gql(FLEET_QUERY);
    expect(gateway.errors).toBeUndefined();
    reset();
    const answer = await post(peer.url, peerQuery(peer.prefixes));
    expect(answer.errors).toBeUndefined();
    for (const s of stats()) {
      expect(queryRoutes([s])).toEqual({
        'GET /api/esx/settings/clusters/{cluster}/installed-images': SIZE.clustersPerDatacenter,
        'GET /api/vcenter/cluster': 1,
        'GET /api/vcenter/host': SIZE.clustersPerDatacenter,
      });
      expect(Object.values(s.invalidRequests).reduce((a, b) => a + b, 0)).toBe(0);
    }
    const prefixOf = new Map(h.sim.vcenters.map((v, i) => [v.name, peer.prefixes[i]!]));
    expect(comparePeer(gateway.data, answer.data, prefixOf)).toEqual({ clusters: SIZE.vcenters * SIZE.clustersPerDatacenter, hosts: SIZE.vcenters * SIZE.clustersPerDatacenter * SIZE.hostsPerCluster, mismatches: [] });
    // The comparison sees a difference when there is one.
    const renamed = structuredClone(answer.data);
    renamed[peer.prefixes[0]!][0].hosts[0].name = 'renamed';
    expect(comparePeer(gateway.data, renamed, prefixOf).mismatches).toHaveLength(1);
  });

  it('counts the gateway\'s dependent trips from the simulator: no inventory read with the mirror, installed images in parallel are one trip', async () => {
    await h.gql(FLEET_QUERY);
    reset();
    const r = await h.gql(FLEET_QUERY);
    expect(r.errors).toBeUndefined();
    const routes = queryRoutes(stats());
    const images = routes['GET /api/esx/settings/clusters/{cluster}/installed-images'] ?? 0;
    // Inventory from the mirror; installed images either all read (one per cluster) or all cached.
    expect(Object.keys(routes).filter((route) => !route.endsWith('installed-images'))).toEqual([]);
    expect([0, SIZE.vcenters * SIZE.clustersPerDatacenter]).toContain(images);
    expect(dependentTrips(stats())).toBe(images ? 1 : 0);
  });

  it('counts live reads as two dependent trips, and each further PropertyCollector page as one more', () => {
    const vc = (requests: Record<string, number>) => ({ requests }) as unknown as SimStats;
    const live = {
      'GET /api/vcenter/cluster': 1,
      'POST /sdk/vim25/{release}/PropertyCollector/{moId}/RetrievePropertiesEx': 1,
      'GET /api/esx/settings/clusters/{cluster}/installed-images': 10,
    };
    expect(dependentTrips([vc(live), vc(live)])).toBe(2);
    expect(dependentTrips([vc(live), vc({ ...live, 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/ContinueRetrievePropertiesEx': 2 })])).toBe(3);
    expect(dependentTrips([vc({ 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx': 3 })])).toBe(0);
    expect(dependentTrips([vc({})])).toBe(0);
  });
});
