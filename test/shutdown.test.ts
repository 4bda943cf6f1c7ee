import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
    const gateway = startServing(process.execPath, ['dist/src/main.js', ...SMALL_SIMULATOR]);
    try {
      expect(await clusterCount(await gateway.url)).toBe(2);
      gateway.child.kill('SIGTERM');
      const code = await Promise.race([gateway.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
      expect(code).toBe(0);
      expect(gateway.stderr()).toContain('shutting down');
      expect(gateway.stderr()).not.toContain('VMware1!');
    } finally {
      gateway.child.kill('SIGKILL');
    }
  });

  it('SIGTERM to `npm start` itself reaches the gateway: it shuts down cleanly and nothing is left running', async () => {
    // npm forwards SIGTERM to its script's shell; the script must `exec` node so that the shell
    // is the gateway, else npm and its shell stop and the gateway keeps running. `npm start`
    // rebuilds dist/, which other tests run, so it runs in a copy of the package whose sources
    // and dependencies are links to this one.
    const root = resolve(import.meta.dirname, '..');
    const dir = mkdtempSync(join(tmpdir(), 'gw-npm-start-'));
    for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(root, file), join(dir, file));
    for (const linked of ['node_modules', 'src', 'schema', 'bench']) symlinkSync(join(root, linked), join(dir, linked));
    // The build comes first: a cold compile on a busy machine takes tens of seconds.
    const npm = startServing('npm', ['start', '--', ...SMALL_SIMULATOR], dir, 60_000);
    const leftovers: number[] = [];
    try {
      const url = await npm.url;
      const gatewayPid = descendantPids(npm.child.pid!).find((pid) => commandLine(pid)[0] === 'node' && commandLine(pid).includes('dist/src/main.js'));
      expect(gatewayPid).toBeGreaterThan(0);
      leftovers.push(gatewayPid!);
      expect(await clusterCount(url)).toBe(2);

      npm.child.kill('SIGTERM');
      await npm.exited;
      // The gateway ran its shutdown (sessions logged out) and its process is gone.
      expect(npm.stderr()).toContain('shutting down');
      expect(npm.stderr()).toContain('VI/JSON session closed');
      await eventually(() => !isRunning(gatewayPid!), Boolean, 15_000);
    } finally {
      npm.child.kill('SIGKILL');
      for (const pid of leftovers) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The embedded simulator, small: 1 cluster of 2 hosts per vCenter. */
const SMALL_SIMULATOR = ['--port', '0', '--sim-hosts', '2', '--sim-clusters', '1'];

/** Starts a command that runs the gateway; `url` resolves once it prints where it serves (bounded by `startMs`). */
function startServing(command: string, args: string[], cwd?: string, startMs = 20_000) {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = eventually(() => /GraphiQL at (\S+)/.exec(stdout)?.[1], Boolean, startMs) as Promise<string>;
  return { child, url, exited, stderr: () => stderr };
}

async function clusterCount(url: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ clusters { totalCount } }' }) });
  return ((await res.json()) as any).data.clusters.totalCount;
}

/** The pids of a process's descendants, from /proc (Linux, no procps needed). */
function descendantPids(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited since the listing
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const found = [root];
  for (let i = 0; i < found.length; i++) for (const [pid, ppid] of parentOf) if (ppid === found[i]) found.push(pid);
  return found.slice(1);
}

/** A process's arguments (argv), empty once it has exited. */
function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
