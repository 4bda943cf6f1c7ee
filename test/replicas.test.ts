/**
 * Several replicas: two gateway processes (the compiled build, as `npm start` runs it) in front
 * of the same simulated vCenter, behind a real HAProxy in round robin. The replicas share
 * nothing but vCenter: a scan lives in vCenter's task list, so any replica can follow or cancel
 * it, and each replica keeps its own sessions and watch loops.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPOT_URLS, principalName, startSimulator } from '../src/simulator/index.ts';
import type { SimStats, Simulator } from '../src/simulator/index.ts';
import { sseFollow, wsFollow } from './clients.ts';
import type { LiveSubscription } from './clients.ts';
import { eventually, simStatsOverHttp } from './harness.ts';
import type { GraphQLResponse } from './harness.ts';

const SCAN = `id state cancelled error { code }`;
const SUBSCRIPTION = `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { ${SCAN} } }`;
const START = `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { ${SCAN} } userErrors { code } } }`;
const CANCEL = `mutation($id: ID!) { patchScanCancel(input: { id: $id }) { scan { ${SCAN} } userErrors { code } } }`;

/** Each replica logs in with its own service account, so that vCenter's session list tells them apart. */
const REPLICAS = ['a', 'b'] as const;
type Replica = (typeof REPLICAS)[number];
const account = (r: Replica) => `replica-${r}@vsphere.local`;
/** The session's user as vCenter reports it in its session list. */
const principal = (r: Replica) => principalName(account(r));
/** Routes a request through HAProxy to one replica (see `use-server` in the HAProxy config). */
const pin = (r: Replica) => ({ 'x-replica': r });

interface GatewayProcess {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
  stderr: () => string;
}

/** HAProxy's binary: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH). */
function findHaproxy(): string | undefined {
  return ['haproxy', '/usr/sbin/haproxy'].find((binary) => {
    try {
      execFileSync(binary, ['-v'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `node dist/src/main.js` (what `npm start` and the container run) and waits for its URL. */
async function startGateway(configFile: string): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['dist/src/main.js', '--config', configFile, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info' },
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 20 s:\n${stderr}`)), 20_000);
    child.stdout!.on('data', (d) => {
      stdout += d;
      const url = /GraphiQL at http:\/\/[^:]+:(\d+)\//.exec(stdout);
      if (url) {
        clearTimeout(timer);
        resolve(Number(url[1]));
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code}:\n${stderr}`)));
  });
  return { child, port, exited, stderr: () => stderr };
}

describe('two replicas behind HAProxy', () => {
  let dir: string;
  let sim: Simulator;
  let vcenterUrl: string;
  const gateways = new Map<Replica, GatewayProcess>();
  let haproxy: ChildProcess | undefined;
  let haproxyLog = '';
  let lb: string;
  let statsUrl: string;
  let hostIds: string[];

  const stats = (): Promise<SimStats> => simStatsOverHttp(sim, vcenterUrl);
  const direct = (r: Replica) => `http://127.0.0.1:${gateways.get(r)!.port}/graphql`;

  async function gql<T = any>(url: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}): Promise<GraphQLResponse<T>> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(10_000),
    });
    return (await response.json()) as GraphQLResponse<T>;
  }

  /** Responses each replica has sent through HAProxy, from its CSV statistics. */
  async function answeredBy(): Promise<Record<string, number>> {
    const csv = await (await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(5_000) })).text();
    const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
    const columns = header!.split(',');
    const at = (row: string[], name: string) => row[columns.indexOf(name)]!;
    const counts: Record<string, number> = {};
    for (const row of rows.map((r) => r.split(','))) {
      if (at(row, 'pxname') === 'gateways' && REPLICAS.includes(at(row, 'svname') as Replica)) counts[at(row, 'svname')] = Number(at(row, 'hrsp_2xx'));
    }
    return counts;
  }

  /** Fails the calling test when HAProxy is missing: this test must not pass or skip without it. */
  function requireHaproxy(): void {
    if (!haproxy) throw new Error('HAProxy is not installed (the replicas test needs it): apt-get update && apt-get install -y haproxy (.ci/run does this)');
  }

  /** The replicas' footprint on vCenter: sessions per service account, filters and pending waits. */
  async function footprint() {
    const s = await stats();
    return {
      vimSessions: Object.fromEntries(REPLICAS.map((r) => [r, s.sessionsByUser.vim[principal(r)] ?? 0])),
      liveFilters: s.liveFilters,
      waitingCalls: s.waitingCalls,
    };
  }

  beforeAll(async () => {
    // Each test fails with this message (a throw here would report them as skipped).
    const haproxyBinary = findHaproxy();
    if (!haproxyBinary) return;

    sim = await startSimulator({
      seed: 1,
      size: { vcenters: 1, datacentersPerVcenter: 1, clustersPerDatacenter: 1, hostsPerCluster: 3 },
      // Long enough to stop a replica while a scan runs; the cancelled scan never runs to the end.
      patchScanDurationMs: 4_000,
      users: REPLICAS.map((r) => ({ name: account(r), password: `secret-${r}`, permissions: [{ entity: 'root', role: 'Administrator' }] })),
    });
    vcenterUrl = sim.vcenters[0]!.url;

    // The configuration an operator writes for real vCenters: the same vCenter names on every
    // replica (scan IDs carry them), passwords and the CA in files.
    dir = mkdtempSync(join(tmpdir(), 'replicas-'));
    writeFileSync(join(dir, 'ca.pem'), sim.caPem!);
    for (const r of REPLICAS) {
      writeFileSync(join(dir, `password-${r}`), `secret-${r}\n`, { mode: 0o600 });
      // The simulator's depots are what its hosts can scan against: listed as an operator would list theirs.
      const config = {
        vcenters: [{ name: sim.vcenters[0]!.name, url: vcenterUrl, username: account(r), passwordFile: `password-${r}`, caFile: 'ca.pem' }],
        depots: { allow: [...DEPOT_URLS] },
      };
      writeFileSync(join(dir, `gateway-${r}.json`), JSON.stringify(config));
    }
    const started = await Promise.all(REPLICAS.map((r) => startGateway(join(dir, `gateway-${r}.json`))));
    REPLICAS.forEach((r, i) => gateways.set(r, started[i]!));

    const [lbPort, statsPort] = [await freePort(), await freePort()];
    const servers = REPLICAS.map((r) => `  server ${r} 127.0.0.1:${gateways.get(r)!.port} check inter 200 fall 1 rise 1`).join('\n');
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      `global
  maxconn 512
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # WebSocket connections become tunnels after the upgrade; SSE streams stay HTTP but idle between events.
  timeout tunnel 1h
  # A replica that is gone (connection refused) is retried on another.
  retries 2
  option redispatch
frontend graphql
  bind 127.0.0.1:${lbPort}
  default_backend gateways
backend gateways
  balance roundrobin
  # Tests pin a request to a replica with this header; without it, round robin.
  use-server a if { req.hdr(x-replica) -m str a }
  use-server b if { req.hdr(x-replica) -m str b }
${servers}
listen stats
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
`,
    );
    haproxy = spawn(haproxyBinary, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
    haproxy.stdout!.on('data', (d) => (haproxyLog += d));
    haproxy.stderr!.on('data', (d) => (haproxyLog += d));
    lb = `http://127.0.0.1:${lbPort}/graphql`;
    statsUrl = `http://127.0.0.1:${statsPort}/stats`;
    await eventually(
      () => fetch(statsUrl, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false),
      Boolean,
      10_000,
    ).catch((error: Error) => {
      throw new Error(`HAProxy did not start: ${error.message}\n${haproxyLog}`);
    });

    // Steady state: each replica has its session and its inventory mirror's watch loop.
    await eventually(footprint, (f) => f.vimSessions['a'] === 1 && f.vimSessions['b'] === 1 && f.waitingCalls === 2, 15_000);
    const hosts = await gql(lb, `{ hosts(filter: { connectionStates: [CONNECTED] }) { nodes { id } } }`);
    hostIds = hosts.data.hosts.nodes.map((n: any) => n.id);
    expect(hostIds.length).toBeGreaterThanOrEqual(2);
  }, 90_000);

  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    for (const g of gateways.values()) g.child.kill('SIGKILL');
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('balances requests round robin over both replicas', async () => {
    requireHaproxy();
    const before = await answeredBy();
    for (let i = 0; i < 6; i++) {
      const res = await gql(lb, `{ clusters { totalCount } }`);
      expect(res.data.clusters.totalCount).toBe(1);
    }
    const after = await answeredBy();
    expect({ a: after['a']! - before['a']!, b: after['b']! - before['b']! }).toEqual({ a: 3, b: 3 });
  });

  it('follows a scan started through one replica to its end through the other (SSE and graphql-ws), cancelled through the first', async () => {
    requireHaproxy();
    const started = await gql(lb, START, { input: { hostIds: [hostIds[0]], metaUrls: [DEPOT_URLS[0]] } }, pin('a'));
    expect(started.data.hostPatchScanStart.userErrors).toEqual([]);
    const id = started.data.hostPatchScanStart.scans[0].id;
    // Starting a scan follows nothing: replica a has no task watch loop.
    expect(await footprint()).toEqual({ vimSessions: { a: 1, b: 1 }, liveFilters: 2, waitingCalls: 2 });

    const followers = [sseFollow(lb, SUBSCRIPTION, { ids: [id] }, { headers: pin('b') }), wsFollow(lb, SUBSCRIPTION, { ids: [id] }, { headers: pin('b') })];
    for (const f of followers) await f.waitFor((e) => e.data?.patchScanUpdated.state === 'RUNNING');
    // Replica b follows the task with one filter in its one task watch loop, on its own session.
    expect(await eventually(footprint, (f) => f.waitingCalls === 3)).toEqual({ vimSessions: { a: 1, b: 1 }, liveFilters: 3, waitingCalls: 3 });

    const cancelled = await gql(lb, CANCEL, { id }, pin('a'));
    expect(cancelled.data.patchScanCancel.userErrors).toEqual([]);
    for (const f of followers) {
      const last = await f.waitFor((e) => e.data?.patchScanUpdated.state === 'ERROR');
      expect(last.data!.patchScanUpdated).toEqual({ id, state: 'ERROR', cancelled: true, error: { code: 'CANCELLED' } });
      await eventually(() => f.completed());
      expect(f.events.filter((e) => e.data?.patchScanUpdated.state === 'ERROR')).toHaveLength(1);
    }
    expect(followers[0]!.ending()).toEqual({ complete: true });
    expect(followers[1]!.ending().complete).toBe(true);
    // Nobody follows the task any more: b's task filter and its wait are gone, the mirrors' remain.
    expect(await eventually(footprint, (f) => f.liveFilters === 2 && f.waitingCalls === 2)).toEqual({ vimSessions: { a: 1, b: 1 }, liveFilters: 2, waitingCalls: 2 });
  });

  it('ends the subscriptions of a replica stopped with SIGTERM cleanly; they resubscribe through HAProxy and get the terminal state', async () => {
    requireHaproxy();
    const started = await gql(lb, START, { input: { hostIds: [hostIds[1]], metaUrls: [DEPOT_URLS[0]] } }, pin('a'));
    const id = started.data.hostPatchScanStart.scans[0].id;
    const followers: LiveSubscription[] = [sseFollow(lb, SUBSCRIPTION, { ids: [id] }, { headers: pin('b') }), wsFollow(lb, SUBSCRIPTION, { ids: [id] }, { headers: pin('b') })];
    for (const f of followers) await f.waitFor((e) => e.data?.patchScanUpdated.state === 'RUNNING');

    const b = gateways.get('b')!;
    b.child.kill('SIGTERM');
    for (const f of followers) await eventually(() => f.completed());
    // A clean end, through HAProxy: the SSE stream's `complete` event, the WebSocket's 1001 Going Away.
    expect(followers[0]!.ending()).toEqual({ complete: true });
    expect(followers[1]!.ending()).toEqual({ complete: false, closeCode: 1001 });
    for (const f of followers) expect(f.events.every((e) => e.data?.patchScanUpdated.state !== 'SUCCESS')).toBe(true);
    expect(await Promise.race([b.exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))])).toBe(0);
    // Replica b logged out of vCenter and its watch loops are gone with its session.
    expect(await eventually(footprint, (f) => f.vimSessions['b'] === 0 && f.waitingCalls <= 1)).toMatchObject({ vimSessions: { a: 1, b: 0 } });

    // Resubscribing through the load balancer (round robin, unpinned) reaches replica a.
    const again = [sseFollow(lb, SUBSCRIPTION, { ids: [id] }), wsFollow(lb, SUBSCRIPTION, { ids: [id] })];
    for (const f of again) {
      const last = await f.waitFor((e) => e.data?.patchScanUpdated.state === 'SUCCESS', 0, 15_000);
      expect(last.data!.patchScanUpdated).toEqual({ id, state: 'SUCCESS', cancelled: false, error: null });
      await eventually(() => f.completed());
      expect(f.ending().complete).toBe(true);
    }
    // Only replica a is left on vCenter: its session and its mirror's loop.
    expect(await eventually(footprint, (f) => f.liveFilters === 1 && f.waitingCalls === 1)).toEqual({ vimSessions: { a: 1, b: 0 }, liveFilters: 1, waitingCalls: 1 });
    expect(b.stderr()).toContain('shutting down');
    expect(b.stderr()).not.toContain('secret-b');
  });
});
