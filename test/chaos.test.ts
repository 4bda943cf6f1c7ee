import { describe, expect, it } from 'vitest';
import { runChaos } from '../bench/chaos.ts';

describe('chaos (short run of npm run chaos)', () => {
  it('survives random faults: no crash, typed errors only, no leaks', async () => {
    const report = await runChaos({ durationMs: 6_000, seed: 7, queryWorkers: 3 });
    expect(report.untyped).toEqual([]);
    expect(report.unhandledRejections).toBe(0);
    expect(report.leaks).toEqual({ sockets: 0, restSessions: 0, vimSessions: 0, filters: 0 });
    expect(report.subscriptions.untyped).toBe(0);
    expect(report.requests).toBeGreaterThan(10);
    expect(report.faultsInjected + (report.faultActions['expire-sessions'] ?? 0) + (report.faultActions['down'] ?? 0)).toBeGreaterThan(0);
  }, 60_000);
});
