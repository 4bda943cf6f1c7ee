import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEPOT_URLS } from '../src/simulator/index.ts';
import { sseSubscribe } from './clients.ts';
import { eventually, startHarness } from './harness.ts';

describe('graceful shutdown', () => {
  it('completes open subscriptions, destroys filters and logs out of every vCenter', async () => {
    const h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 1, hostsPerCluster: 2 }, patchScanDurationMs: 30_000 });
    try {
      const hosts = await h.gql(`{ hosts(filter: { connectionStates: [CONNECTED] }) { nodes { id } } }`);
      const started = await h.gql(
        `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code } } }`,
        { input: { hostIds: hosts.data.hosts.nodes.map((n: any) => n.id), metaUrls: [DEPOT_URLS[0]] } },
      );
      const ids = started.data.hostPatchScanStart.scans.map((s: any) => s.id);
      const stream = sseSubscribe(h.url, `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state } }`, { ids }, 15_000);
      // The subscription follows the scans: its task filters exist on vCenter.
      await eventually(() => h.sim.vcenters.some((v) => v.stats().liveFilters > 0), Boolean);

      await h.gateway.close(2_000);
      const result = await stream;
      expect(result.completed).toBe(true);
      expect(result.events.length).toBeGreaterThan(0);
      for (const vc of h.sim.vcenters) {
        const stats = vc.stats();
        expect(stats.liveSessions).toEqual({ rest: 0, vim: 0 });
        expect(stats.liveFilters).toBe(0);
      }
      await expect(fetch(h.url, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
    } finally {
      await h.sim.close();
    }
  });

  it('npm start (the compiled build) serves, then exits 0 on SIGTERM', async () => {
    // What `npm start` runs after its build: plain node on dist/ (schema copied, .ts imports
    // rewritten); test/global-setup.ts builds dist/ before the suite.
    const child = spawn(process.execPath, ['dist/src/main.js', '--port', '0', '--sim-hosts', '2', '--sim-clusters', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!/GraphiQL at (\S+)/.test(stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const url = /GraphiQL at (\S+)/.exec(stdout)![1]!;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ clusters { totalCount } }' }),
      });
      expect(((await res.json()) as any).data.clusters.totalCount).toBe(2);
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
      expect(code).toBe(0);
      expect(stderr).toContain('shutting down');
      expect(stderr).not.toContain('VMware1!');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
