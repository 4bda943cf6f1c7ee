/**
 * Abandoned work is cancelled and one caller cannot starve the rest: a request's deadline or
 * its client leaving withdraws its queued upstream calls and aborts the sent ones, and the
 * per-vCenter queue serves callers in turn. Callers are told apart by address until
 * authentication lands, so the "other client" connects from 127.0.0.2.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { eventually, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const IMAGES_ROUTE = 'GET /api/esx/settings/clusters/{cluster}/installed-images';
const CLUSTERS = 40;
/** Per-vCenter slots: small, so that the heavy requests' calls queue. */
const SLOTS = 4;
const HEAVY = `{ clusters(first: ${CLUSTERS}) { nodes { name installedImages { status } } } }`;
const LIGHT = `{ clusters(first: 1) { totalCount } }`;

async function heavyHarness(gatewayLimits = {}): Promise<Harness> {
  const h = await startHarness(
    { size: { vcenters: 1, clustersPerDatacenter: CLUSTERS, hostsPerCluster: 1 } },
    (sim) => sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: sim.username, password: sim.password, caPem: sim.caPem, maxConcurrentRequests: SLOTS })),
    { limits: gatewayLimits },
  );
  await h.gql(`{ vcenters { name } clusters { totalCount } }`); // sessions and ServiceContent, shared by everyone
  // Every installed-images call takes 200 ms: 80 requests × 40 calls would hold the 4 slots for 400 s.
  h.sim.vcenters[0]!.setFaults([{ route: IMAGES_ROUTE, latencyMs: 200 }]);
  h.sim.vcenters[0]!.resetStats();
  return h;
}

/** Sends `count` heavy requests from 127.0.0.1 that the test can abandon. */
function sendHeavy(h: Harness, count: number): { abandon(): void; settled: Promise<unknown> } {
  const controller = new AbortController();
  const requests = Array.from({ length: count }, () =>
    fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: HEAVY }),
      signal: controller.signal,
    }).then((r) => r.json()),
  );
  return { abandon: () => controller.abort(), settled: Promise.allSettled(requests) };
}

/** A light query from another caller (another address), timed by the upstream counters. */
async function lightFromOtherClient(h: Harness): Promise<any> {
  const dispatcher = new Agent({ localAddress: '127.0.0.2' });
  try {
    const response = await undiciFetch(h.url, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: LIGHT }),
      signal: AbortSignal.timeout(20_000),
    });
    return await response.json();
  } finally {
    await dispatcher.close();
  }
}

const imageCallsArrived = (h: Harness) => h.sim.vcenters[0]!.stats().faultsInjected['latency'] ?? 0;
const upstream = (h: Harness) => h.gateway.upstreams.list[0]!.diagnostics();

describe('abandoned requests', () => {
  it('80 heavy requests abandoned by one client stop upstream, and a light query from another client answers at once', async () => {
    const h = await heavyHarness();
    try {
      const heavy = sendHeavy(h, 80);
      // All 80 are in the gateway and their calls pile up in the queue (20 are served per second).
      await eventually(() => h.gateway.load().connections >= 80 && upstream(h).queued >= 500, Boolean, 20_000);
      heavy.abandon();
      await heavy.settled;
      // The gateway sees the disconnects and withdraws every queued call.
      await eventually(() => upstream(h).queued, (n) => n === 0);
      const arrivedAtAbandon = imageCallsArrived(h);

      const light = await lightFromOtherClient(h);
      expect(light.errors).toBeUndefined();
      expect(light.data.clusters.totalCount).toBe(CLUSTERS);

      // Nothing of the abandoned work is left in the gateway...
      await eventually(() => upstream(h).inFlight, (n) => n === 0);
      // ...and after the abandon at most the SLOTS calls that were already sent reached vCenter
      // (the simulator counts a latency-injected call when it arrives); without cancellation
      // the calls queued (and those the queued requests had yet to make, 3,200 in all) would
      // keep going out at 20 per second.
      const arrivedInTotal = imageCallsArrived(h);
      expect(arrivedInTotal - arrivedAtAbandon).toBeLessThanOrEqual(SLOTS);
      expect(arrivedInTotal).toBeLessThan(80 * CLUSTERS);
      // Aborted calls are no verdict on the vCenter.
      expect(h.gateway.upstreams.list[0]!.health().consecutiveFailures).toBe(0);
    } finally {
      await h.close();
    }
  }, 60_000);
});

describe('fair share at the per-vCenter cap', () => {
  it('serves a light query from another caller in its turn, not after the heavy caller’s queue', async () => {
    const h = await heavyHarness();
    try {
      const heavy = sendHeavy(h, 20);
      await eventually(() => upstream(h).queued, (n) => n >= 300, 20_000);
      const before = imageCallsArrived(h);
      const queuedBefore = upstream(h).queued;

      const light = await lightFromOtherClient(h);
      expect(light.errors).toBeUndefined();
      expect(light.data.clusters.totalCount).toBe(CLUSTERS);

      // The light caller's one call went out at the next free slot: while it waited and ran,
      // the heavy caller's calls that reached vCenter are those already sent (≤ SLOTS) plus
      // those granted in the slots freed meanwhile (≤ SLOTS), not the hundreds queued ahead of it.
      expect(imageCallsArrived(h) - before).toBeLessThanOrEqual(2 * SLOTS);
      expect(upstream(h).queued).toBeGreaterThan(queuedBefore - 2 * SLOTS);
      heavy.abandon();
      await heavy.settled;
      await eventually(() => upstream(h).queued + upstream(h).inFlight, (n) => n === 0);
    } finally {
      await h.close();
    }
  }, 60_000);
});

describe('the operation deadline', () => {
  it('answers UPSTREAM_TIMEOUT and aborts the upstream calls still hanging, without opening the breaker', async () => {
    const h = await startHarness(
      { size: { vcenters: 1, clustersPerDatacenter: 2, hostsPerCluster: 1 } },
      // The upstream call's own timeout is far away: only the deadline can end these calls.
      (sim) => sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: sim.username, password: sim.password, caPem: sim.caPem, timeoutMs: 120_000 })),
      { limits: { deadlineMs: 500 } },
    );
    try {
      await h.gql(`{ vcenters { name } clusters { totalCount } }`);
      const vc = h.sim.vcenters[0]!;
      vc.setFaults([{ route: IMAGES_ROUTE, hangRate: 1 }]);
      vc.resetStats();
      const res = await h.gql(`{ clusters { nodes { installedImages { status } } } }`);
      expect(res.errors?.map((e) => e.extensions?.['code'])).toEqual(['UPSTREAM_TIMEOUT']);
      expect(vc.stats().faultsInjected['hang']).toBe(2);
      // The simulator counts a hung request when its connection closes: the gateway aborted both.
      await eventually(() => vc.stats().requests[IMAGES_ROUTE] ?? 0, (n) => n === 2);
      expect(upstream(h).inFlight).toBe(0);
      expect(h.gateway.upstreams.list[0]!.health().consecutiveFailures).toBe(0);
      // Still serving.
      vc.setFaults([]);
      expect((await h.gql(`{ clusters { totalCount } }`)).data.clusters.totalCount).toBe(2);
    } finally {
      await h.close();
    }
  }, 30_000);
});
