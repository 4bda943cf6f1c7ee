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
    // A cancelled scan ends without progress (null); a number never goes back.
    if (scan.progress !== null) {
      expect(scan.progress).toBeGreaterThanOrEqual(progress.get(scan.id) ?? 0);
      progress.set(scan.id, scan.progress);
    }
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
    // Scans outlast the subscribers' arrival however slow the machine is: the test ends them
    // by cancelling once every subscriber has joined.
    h = await startHarness(
      { size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 4 }, patchScanDurationMs: 60_000 },
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
    let waiting = followed.length;
    let allJoined!: () => void;
    const joined = new Promise<void>((resolve) => (allJoined = resolve));
    const pending = Promise.all(
      followed.map((scanIds, i) => {
        const seen = new Set<string>();
        const onEvent = (e: any) => {
          if (seen.size === scanIds.length) return;
          seen.add(e.data?.patchScanUpdated?.id);
          if (seen.size === scanIds.length && --waiting === 0) allJoined();
        };
        return (i % 2 === 0 ? sseSubscribe : wsSubscribe)(h.url, SUBSCRIPTION, { ids: scanIds }, 60_000, onEvent);
      }),
    );
    await joined;
    for (const id of ids) {
      const res = await h.gql(`mutation($id: ID!) { patchScanCancel(input: { id: $id }) { userErrors { code } } }`, { id });
      expect(res.data.patchScanCancel.userErrors).toEqual([]);
    }
    const streams = await pending;

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
      { size: { vcenters: 2, clustersPerDatacenter: 1, hostsPerCluster: 3 }, patchScanDurationMs: 60_000 },
      undefined,
      { taskWatcher: { maxWaitSeconds: 5, retryDelayMs: 50 } },
    );
    try {
      const ids = await startScans(h, 3);
      let waiting = 2;
      let bothJoined!: () => void;
      const joined = new Promise<void>((resolve) => (bothJoined = resolve));
      const onEventOf = () => {
        const seen = new Set<string>();
        return (e: any) => {
          if (seen.size === ids.length) return;
          seen.add(e.data?.patchScanUpdated?.id);
          if (seen.size === ids.length && --waiting === 0) bothJoined();
        };
      };
      const streams = Promise.all([
        sseSubscribe(h.url, SUBSCRIPTION, { ids }, 30_000, onEventOf()),
        wsSubscribe(h.url, SUBSCRIPTION, { ids }, 30_000, onEventOf()),
      ]);
      await joined;
      await eventually(() => h.sim.vcenters.every((vc) => (vc.stats() as any).liveFilters === ids.length / 2));
      for (const vc of h.sim.vcenters) vc.expireSessions();
      // The scans end after the renewal: their terminal states can only come through the new session's filters.
      for (const id of ids) {
        const res = await h.gql(`mutation($id: ID!) { patchScanCancel(input: { id: $id }) { userErrors { code } } }`, { id });
        expect(res.data.patchScanCancel.userErrors).toEqual([]);
      }
      for (const stream of await streams) {
        expect(stream.completed).toBe(true);
        const terminal = terminalCounts(stream);
        expect(terminal.size).toBe(ids.length);
        expect([...terminal.values()].every((n) => n === 1)).toBe(true);
      }
      for (const vc of h.sim.vcenters) {
        const stats = vc.stats();
        expect(stats.logins.vim).toBe(2);
        // The filters were recreated in the new session because the watcher knew the old ones
        // were gone, not because vCenter refused a wait with the old session's version.
        expect(stats.faultsAnswered['InvalidCollectorVersion'] ?? 0).toBe(0);
        expect(stats.requests['POST /sdk/vim25/{release}/PropertyCollector/{moId}/CreateFilter']).toBe(2 * ids.length / 2);
      }
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
