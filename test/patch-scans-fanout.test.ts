import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as simulator from '../src/simulator/index.ts';
import { sseSubscribe, wsSubscribe } from './clients.ts';
import type { StreamResult } from './clients.ts';
import { eventually, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const DEPOT: string = (simulator as { DEPOT_URLS?: readonly string[] }).DEPOT_URLS?.[0] ?? 'https://depot.example/esxi-8.0u3/metadata.zip';
const SUBSCRIPTION = `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state progress } }`;
const START = `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code message } } }`;

/** Every scan reaches its terminal state exactly once, progress never goes back. */
function terminalCounts(stream: StreamResult): Map<string, number> {
  const terminal = new Map<string, number>();
  const progress = new Map<string, number>();
  for (const event of stream.events) {
    expect(event.errors).toBeUndefined();
    const scan = event.data.patchScanUpdated;
    expect(scan.progress ?? 0).toBeGreaterThanOrEqual(progress.get(scan.id) ?? 0);
    progress.set(scan.id, scan.progress ?? 0);
    if (scan.state === 'SUCCESS' || scan.state === 'ERROR') terminal.set(scan.id, (terminal.get(scan.id) ?? 0) + 1);
  }
  return terminal;
}

async function startScans(h: Harness, hostsPerVCenter: number): Promise<string[]> {
  const hosts = await h.gql(`{ hosts(first: 1000, filter: { connectionStates: [CONNECTED] }) { nodes { id vcenter { name } } } }`);
  const ids: string[] = [];
  for (const vc of h.sim.vcenters) {
    const mine = hosts.data.hosts.nodes.filter((x: any) => x.vcenter.name === vc.name).slice(0, hostsPerVCenter);
    const res = await h.gql(START, { input: { hostIds: mine.map((x: any) => x.id), metaUrls: [DEPOT] } });
    expect(res.data.hostPatchScanStart.userErrors).toEqual([]);
    ids.push(...res.data.hostPatchScanStart.scans.map((s: any) => s.id));
  }
  return ids;
}

describe('fan-out: 200 subscribers to 20 scans across 2 vCenters', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      { size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 4 }, patchScanDurationMs: 2_000 },
      undefined,
      { taskWatcher: { maxWaitSeconds: 5 } },
    );
  });
  afterAll(() => h?.close());

  it('runs one WaitForUpdatesEx loop per vCenter, delivers every terminal state once to each, and leaves no filter behind', async () => {
    const ids = await startScans(h, 10);
    expect(ids).toHaveLength(20);
    for (const vc of h.sim.vcenters) vc.resetStats();

    // Subscriber i follows 5 scans from both vCenters; half use SSE, half graphql-ws.
    const followed = Array.from({ length: 200 }, (_, i) => [0, 3, 7, 12, 17].map((k) => ids[(i + k) % ids.length]!));
    const streams = await Promise.all(
      followed.map((scanIds, i) => (i % 2 === 0 ? sseSubscribe : wsSubscribe)(h.url, SUBSCRIPTION, { ids: scanIds }, 30_000)),
    );

    streams.forEach((stream, i) => {
      expect(stream.completed).toBe(true);
      const terminal = terminalCounts(stream);
      expect([...terminal.keys()].sort()).toEqual([...new Set(followed[i])].sort());
      expect([...terminal.values()].every((n) => n === 1)).toBe(true);
    });
    for (const vc of h.sim.vcenters) {
      const stats = vc.stats() as any;
      expect(stats.peakWaitingCalls).toBe(1);
      expect(stats.requests['POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx']).toBeGreaterThan(0);
    }
    await eventually(() => h.sim.vcenters.every((vc) => (vc.stats() as any).liveFilters === 0 && (vc.stats() as any).waitingCalls === 0));
    for (const d of Object.values(h.gateway.scans.diagnostics())) expect(d.followedTasks).toBe(0);
  });
});

describe('the watcher rides through upstream trouble', () => {
  it('resumes after every session expires mid-scan without losing or repeating a terminal state', async () => {
    const h = await startHarness(
      { size: { vcenters: 2, clustersPerDatacenter: 1, hostsPerCluster: 3 }, patchScanDurationMs: 1_500 },
      undefined,
      { taskWatcher: { maxWaitSeconds: 5, retryDelayMs: 50 } },
    );
    try {
      const ids = await startScans(h, 3);
      const streams = Promise.all([sseSubscribe(h.url, SUBSCRIPTION, { ids }), wsSubscribe(h.url, SUBSCRIPTION, { ids })]);
      await new Promise((r) => setTimeout(r, 400));
      for (const vc of h.sim.vcenters) vc.expireSessions();
      for (const stream of await streams) {
        expect(stream.completed).toBe(true);
        const terminal = terminalCounts(stream);
        expect(terminal.size).toBe(ids.length);
        expect([...terminal.values()].every((n) => n === 1)).toBe(true);
      }
      for (const vc of h.sim.vcenters) expect(vc.stats().logins.vim).toBe(2);
      await eventually(() => h.sim.vcenters.every((vc) => (vc.stats() as any).liveFilters === 0));
    } finally {
      await h.close();
    }
  });

  it('falls back to batched polling where WaitForUpdatesEx is not available', async () => {
    const h = await startHarness(
      {
        size: { vcenters: 2, clustersPerDatacenter: 1, hostsPerCluster: 3 },
        patchScanDurationMs: 800,
        perVcenter: [{ changeFeed: false } as never],
      },
      undefined,
      { taskWatcher: { maxWaitSeconds: 5, pollIntervalMs: 100 } },
    );
    try {
      const ids = await startScans(h, 3);
      const stream = await sseSubscribe(h.url, SUBSCRIPTION, { ids });
      expect(stream.completed).toBe(true);
      expect(terminalCounts(stream).size).toBe(6);
      const polled = h.sim.vcenters[0]!.stats().requests;
      expect(polled['POST /sdk/vim25/{release}/PropertyCollector/{moId}/RetrievePropertiesEx']).toBeGreaterThan(1);
      expect(polled['POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx'] ?? 0).toBeLessThanOrEqual(1);
    } finally {
      await h.close();
    }
  });
});
