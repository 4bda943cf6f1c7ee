/**
 * `npm run chaos`: random faults (seeded) while queries and patch-scan subscriptions run,
 * then checks the invariants: no crash, no unhandled rejection, every response either data
 * or typed errors, and nothing leaked (sockets, vCenter sessions, property filters).
 *
 *   npm run chaos -- [--seconds 60] [--seed 1]
 *
 * The test suite runs a short version of the same function (test/chaos.test.ts).
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { withoutCallerLimits } from '../src/auth/config.ts';
import { createGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';
import { DEPOT_URLS, startSimulator } from '../src/simulator/index.ts';
import type { FaultRule } from '../src/simulator/index.ts';
import { createRng } from '../src/simulator/inventory.ts';

export interface ChaosOptions {
  durationMs: number;
  seed: number;
  /** Concurrent query loops. */
  queryWorkers?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  durationMs: number;
  faultsInjected: number;
  faultActions: Record<string, number>;
  requests: number;
  fullData: number;
  partialData: number;
  typedErrorsOnly: number;
  untyped: string[];
  subscriptions: { started: number; completed: number; endedWithTypedError: number; untyped: number };
  unhandledRejections: number;
  leaks: { sockets: number; restSessions: number; vimSessions: number; filters: number };
  ok: boolean;
}

const QUERIES = [
  `{ clusters { totalCount nodes { name hosts { nodes { name connectionState product { build } } } installedImages { status } } } }`,
  `{ hosts(filter: { connectionStates: [CONNECTED] }) { totalCount nodes { id name cluster { name } } } }`,
  `{ vcenters { name status { state } about { version } clusters { totalCount } } }`,
  `{ clusters(first: 2) { nodes { desiredSoftware { baseImage { version } } } } }`,
];

/** Codes a client can act on; anything else (or no code) is a defect. */
const TYPED = new Set([
  'VCENTER_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'UPSTREAM_ERROR', 'UNAUTHENTICATED', 'NOT_FOUND', 'BAD_USER_INPUT',
  'FORBIDDEN', 'BAD_REQUEST', 'VIM_API_UNAVAILABLE',
]);

function socketCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TLSSocketWrap').length;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  // Seeded like the simulator's inventory: the same seed replays the same fault schedule.
  const random = createRng(options.seed);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const socketsBefore = socketCount();

  const sim = await startSimulator({
    seed: options.seed,
    size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 4 },
    patchScanDurationMs: 1_500,
  });
  const gateway = createGateway({
    vcenters: sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: sim.username, password: sim.password, caPem: sim.caPem, timeoutMs: 1_000 })),
    logger: createLogger({ level: 'error', write: () => {} }),
    client: { retry: { baseDelayMs: 50, maxDelayMs: 400 }, breaker: { failureThreshold: 5, probeIntervalMs: 200 } },
    taskWatcher: { maxWaitSeconds: 2, retryDelayMs: 100, giveUpAfterMs: 15_000 },
    // One loopback load generator on purpose: per-caller limits are not what chaos tests.
    auth: withoutCallerLimits(),
    depots: { allow: DEPOT_URLS },
  });
  const url = await gateway.listen(0, '127.0.0.1');
  const deadline = Date.now() + options.durationMs;
  const report: ChaosReport = {
    seed: options.seed,
    durationMs: options.durationMs,
    faultsInjected: 0,
    faultActions: {},
    requests: 0,
    fullData: 0,
    partialData: 0,
    typedErrorsOnly: 0,
    untyped: [],
    subscriptions: { started: 0, completed: 0, endedWithTypedError: 0, untyped: 0 },
    unhandledRejections: 0,
    leaks: { sockets: 0, restSessions: 0, vimSessions: 0, filters: 0 },
    ok: false,
  };

  const post = async (query: string, variables?: Record<string, unknown>) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(45_000),
    });
    return (await response.json()) as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
  };

  const classify = (body: Awaited<ReturnType<typeof post>>) => {
    report.requests++;
    const errors = body.errors ?? [];
    const bad = errors.filter((e) => !TYPED.has(e.extensions?.code ?? ''));
    for (const e of bad) report.untyped.push(`${e.extensions?.code ?? 'no code'}: ${e.message}`);
    if (errors.length === 0) report.fullData++;
    else if (body.data && Object.values(body.data).some((v) => v !== null)) report.partialData++;
    else report.typedErrorsOnly++;
  };

  const queryWorker = async () => {
    while (Date.now() < deadline) {
      classify(await post(QUERIES[Math.floor(random() * QUERIES.length)]!));
    }
  };

  const scanWorker = async () => {
    while (Date.now() < deadline) {
      const hosts = await post(`{ hosts(filter: { connectionStates: [CONNECTED] }) { nodes { id } } }`);
      classify(hosts);
      const nodes = ((hosts.data?.['hosts'] as { nodes?: { id: string }[] } | null)?.nodes ?? []).slice(0, 2 + Math.floor(random() * 3));
      if (nodes.length === 0) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const started = await post(
        `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code } } }`,
        { input: { hostIds: nodes.map((n) => n.id), metaUrls: [DEPOT_URLS[0]] } },
      );
      classify(started);
      const ids = ((started.data?.['hostPatchScanStart'] as { scans?: { id: string }[] } | null)?.scans ?? []).map((s) => s.id);
      if (ids.length === 0) continue;
      report.subscriptions.started++;
      await followOverSse(url, ids, report);
    }
  };

  const faultWorker = async () => {
    const rest = () => new Promise((r) => setTimeout(r, 300 + random() * 700));
    while (Date.now() < deadline - 1_000) {
      const vc = sim.vcenters[Math.floor(random() * sim.vcenters.length)]!;
      const roll = random();
      let action: string;
      if (roll < 0.25) {
        action = 'latency';
        vc.setFaults([{ route: '*', latencyMs: 50, jitterMs: 300 }]);
      } else if (roll < 0.45) {
        action = '503-burst';
        vc.setFaults([{ route: '*', errorRate: 0.4, error: '503', retryAfterSeconds: 0 }]);
      } else if (roll < 0.55) {
        action = 'hangs';
        vc.setFaults([{ route: '*', hangRate: 0.2 }]);
      } else if (roll < 0.65) {
        action = 'resets';
        vc.setFaults([{ route: '*', resetRate: 0.3 }]);
      } else if (roll < 0.75) {
        action = 'vim-faults';
        vc.setFaults([{ route: '*', errorRate: 0.3, error: 'SystemError' } satisfies FaultRule]);
      } else if (roll < 0.85) {
        action = 'expire-sessions';
        vc.expireSessions();
      } else {
        action = 'down';
        await vc.down();
        await new Promise((r) => setTimeout(r, 300 + random() * 1_200));
        vc.expireSessions();
        await vc.up();
      }
      report.faultActions[action] = (report.faultActions[action] ?? 0) + 1;
      await rest();
      vc.clearFaults();
    }
  };

  try {
    await Promise.all([
      faultWorker(),
      scanWorker(),
      ...Array.from({ length: options.queryWorkers ?? 4 }, () => queryWorker()),
    ]);
    // Calm: every vCenter up and healthy again, then one clean query must fully answer.
    for (const vc of sim.vcenters) vc.clearFaults();
    report.faultsInjected = sim.vcenters.reduce(
      (n, vc) => n + Object.values(vc.stats().faultsInjected ?? {}).reduce((a, b) => a + b, 0),
      0,
    );
  } finally {
    await gateway.close(2_000);
    await new Promise((r) => setTimeout(r, 200));
    for (const vc of sim.vcenters) {
      const s = vc.stats();
      report.leaks.restSessions += s.liveSessions.rest;
      report.leaks.vimSessions += s.liveSessions.vim;
      report.leaks.filters += s.liveFilters;
    }
    await sim.close();
    await new Promise((r) => setTimeout(r, 200));
    report.leaks.sockets = Math.max(0, socketCount() - socketsBefore);
    process.off('unhandledRejection', onUnhandled);
    report.unhandledRejections = unhandled.length;
  }
  report.ok =
    report.untyped.length === 0 &&
    report.subscriptions.untyped === 0 &&
    report.unhandledRejections === 0 &&
    Object.values(report.leaks).every((n) => n === 0);
  log(JSON.stringify(report, null, 2));
  return report;
}

/** One SSE subscriber: counts a completed stream or one ended by a typed error. */
async function followOverSse(url: string, ids: string[], report: ChaosReport): Promise<void> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state progress } }', variables: { ids } }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    const codes = [...text.matchAll(/"code":"([A-Z_]+)"/g)].map((m) => m[1]!);
    if (codes.length > 0) {
      if (codes.every((c) => TYPED.has(c))) report.subscriptions.endedWithTypedError++;
      else report.subscriptions.untyped++;
    } else if (text.includes('event: complete')) report.subscriptions.completed++;
    else report.subscriptions.untyped++;
  } catch {
    report.subscriptions.untyped++;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, seed: { type: 'string' } } });
  const durationMs = Number(values.seconds ?? 60) * 1_000;
  const seed = Number(values.seed ?? 1);
  const report = await runChaos({ durationMs, seed, log: (l) => process.stdout.write(l + '\n') });
  const share = (n: number) => `${((100 * n) / Math.max(1, report.requests)).toFixed(1)}%`;
  process.stdout.write(
    `\nchaos seed ${seed}, ${durationMs / 1000} s: ${report.faultsInjected} faults injected (${JSON.stringify(report.faultActions)}), ` +
      `${report.requests} requests: ${share(report.fullData)} full data, ${share(report.partialData)} partial data, ${share(report.typedErrorsOnly)} typed errors only; ` +
      `${report.untyped.length} untyped; subscriptions ${JSON.stringify(report.subscriptions)}; ` +
      `unhandled rejections ${report.unhandledRejections}; leaks ${JSON.stringify(report.leaks)}\n` +
      `${report.ok ? 'PASS' : 'FAIL'}\n`,
  );
  process.exit(report.ok ? 0 : 1);
}
