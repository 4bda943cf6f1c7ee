/**
 * ScanService.follow streams share one watch loop per vCenter: what one follower does (or
 * fails to do) must not change what the others get.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPOT_URLS } from '../src/simulator/index.ts';
import { isTerminal } from '../src/scans/task-watcher.ts';
import type { ScanEvent, ScanRef } from '../src/scans/service.ts';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

describe('a follower that never reads', () => {
  let h: Harness;
  beforeAll(async () => {
    // 600 scans of at least two states each (the first, running, and the end): over 1,024 changes however
    // the watch loop batches them.
    h = await startHarness(
      { size: { vcenters: 1, clustersPerDatacenter: 7, hostsPerCluster: 96 }, patchScanDurationMs: 12_000 },
      undefined,
      { taskWatcher: { maxWaitSeconds: 5 } },
    );
  });
  afterAll(() => h?.close());

  it('costs one pending event per scan and keeps no terminal state from the followers who read', async () => {
    const vc = h.sim.vcenters[0]!;
    const hosts = vc.inventory.hosts.filter((x) => x.connectionState === 'connected').map((x) => x.moId).slice(0, 600);
    expect(hosts).toHaveLength(600);
    const outcomes = await h.gateway.scans.start(vc.name, hosts, [DEPOT_URLS[0]!]);
    const refs: ScanRef[] = outcomes.map((o) => {
      if (!('task' in o)) throw new Error(`scan not started on ${o.host}: ${String(o.error)}`);
      return { vcenter: vc.name, taskMoId: o.task };
    });
    const initial = await h.gateway.scans.taskInfos(refs);

    const idle = h.gateway.scans.follow(refs, initial); // never read until the end
    const readers = [h.gateway.scans.follow(refs, initial), h.gateway.scans.follow(refs, initial)];
    const received = await Promise.all(
      readers.map(async (stream) => {
        const events: ScanEvent[] = [];
        for await (const event of stream) events.push(event);
        return events;
      }),
    );
    for (const events of received) {
      const terminal = events.filter((e) => isTerminal(e.info)).map((e) => e.taskMoId);
      expect(terminal.sort()).toEqual(refs.map((r) => r.taskMoId).sort());
    }
    // Well over Repeater's 1,024 pending pushes went to the idle follower meanwhile.
    expect(received[0]!.length).toBeGreaterThan(1_024);

    // The idle follower kept only the newest state of each scan: its terminal one.
    const pending: ScanEvent[] = [];
    for await (const event of idle) pending.push(event);
    expect(pending).toHaveLength(refs.length);
    expect(pending.every((e) => isTerminal(e.info))).toBe(true);
    expect(h.gateway.scans.diagnostics()[vc.name]?.followedTasks).toBe(0);
  });
});
