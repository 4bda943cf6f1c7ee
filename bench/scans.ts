/**
 * Scenario 2: scan fan-out. S patch scans run in the simulator (spread over its vCenters); N
 * subscribers follow them over GraphQL, subscriber i following scan i mod S (so 5,000
 * subscribers are 100 per scan), multiplexed on a few graphql-ws connections (≤ 250
 * subscriptions per WebSocket, ≤ 20 sockets) so the driver stays sane on 2 cores.
 *
 * Delivery delay: a simulated Task's state is a function of time since it was queued
 * (src/simulator/tasks.ts): RUNNING at startTime, progress p (steps of 10) exactly at
 * startTime + p/100 × duration, SUCCESS/ERROR at completeTime. Each event carries
 * startedAt/completedAt (from TaskInfo), so the instant the change happened in the simulator is
 * known; the delay is the event's arrival at the client (Date.now(), same machine clock, ms
 * resolution) minus that instant. The first event of every subscription (the current state,
 * sent on subscribe) and any event whose change happened before its subscription was
 * established are not counted.
 *
 * Memory per subscriber: the gateway child's heap and RSS after a full GC once every
 * subscription is established, minus the same before subscribing, divided by N.
 * Upstream requests per second: simulator counters over the steady window (every subscription
 * established → every stream completed), excluding the set-up burst, which is reported apart.
 */
import { createClient } from 'graphql-ws';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { SimStats } from '../src/simulator/index.ts';
import { GatewayProcess, SimProcess } from './procs.ts';
import { errorCodes, gql, percentile, sumRoutes, total } from './util.ts';

export interface ScanRun {
  subscribers: number;
  /**
   * Whether subscribers of one scan sent the same document (and so share one execution), or
   * each its own (operation name Follow<i>): the cost without sharing.
   */
  sharedDocuments: boolean;
  connections: number;
  scanDurationMs: number;
  setupMs: number;
  setupUpstreamRequests: number;
  windowMs: number;
  eventsDelivered: number;
  eventsMeasured: number;
  /**
   * Per subscriber, summed: `changesMade` = its scan's state changes at or after its first event
   * (RUNNING progress steps and the terminal state, from the simulator's deterministic
   * timeline); `changesExpected` = those of them the gateway delivered to any subscriber of
   * that scan (a vCenter reports a property's latest value per WaitForUpdatesEx answer, so two
   * steps between two answers are one change for the gateway); `changesDelivered` = the events
   * of those changes that arrived (duplicates included, and counted apart);
   * `changesMissing` = expected changes this subscriber never got as their own event (one that
   * reads slowly gets the newest state of its scan, not every step, by design).
   */
  changesMade: number;
  changesExpected: number;
  changesDelivered: number;
  changesDuplicated: number;
  changesMissing: number;
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  /**
   * The same for changes that happened once all N subscriptions were established (steady state
   * with N subscribers); the figures above also count changes during the set-up burst, when
   * the gateway is still reading every new subscription's first state.
   */
  steady: { n: number; p50: number; p99: number };
  /** p50/p99 per reported state: RUNNING (progress steps) and SUCCESS (terminal). */
  delayByState: Record<string, { n: number; p50: number; p99: number }>;
  upstreamRps: number;
  waitRps: number;
  windowRoutes: Record<string, number>;
  /** Max over vCenters of the simulator's peakWaitingCalls during the window. */
  peakWaitingCalls?: number;
  liveFiltersAtSetup?: number;
  completed: number;
  heapPerSubscriberKb: number;
  rssPerSubscriberKb: number;
  gatewayHeapMb: { before: number; after: number };
  gatewayRssMb: { before: number; after: number };
  errors: string[];
}

export interface ScanResult {
  scans: number;
  transport: string;
  note: string;
  skipped?: string;
  runs: ScanRun[];
}

const SUBSCRIPTION = /* GraphQL */ `
  subscription Follow($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state progress startedAt completedAt } }
`;
const START = /* GraphQL */ `
  mutation Start($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id queuedAt startedAt } userErrors { code message } } }
`;
const HOSTS = /* GraphQL */ `{ hosts(first: 1000) { nodes { id connectionState vcenter { name } } } }`;

interface ScanEvent {
  id: string;
  state: string;
  progress: number | null;
  startedAt: string | null;
  completedAt: string | null;
}

/** When the change this event reports happened in the simulator (ms since epoch). */
function changeInstant(e: ScanEvent, durationMs: number): number | undefined {
  if ((e.state === 'SUCCESS' || e.state === 'ERROR') && e.completedAt) return Date.parse(e.completedAt);
  if (e.state === 'RUNNING' && e.startedAt) return Date.parse(e.startedAt) + ((e.progress ?? 0) / 100) * durationMs;
  return undefined;
}

export async function measureScans(opts: {
  subscribers: number[];
  /** Subscriber counts to measure again with a distinct document per subscriber (no sharing). */
  distinctDocumentsAt?: number[];
  scans: number;
  scanDurationMs: number;
  latencyMs: number;
  cpuProfDir?: string;
  log: (l: string) => void;
}): Promise<ScanResult> {
  const result: ScanResult = {
    scans: opts.scans,
    transport: 'graphql-ws over WebSocket (multiplexed)',
    note:
      'Delay = arrival at the client − the instant the simulator\'s task changed (from startedAt/completedAt and the deterministic progress timeline). ' +
      '"All N subscribed" counts only changes made after the last subscription was established; the columns before it also count changes during the set-up burst. ' +
      'The simulator answers a waiting WaitForUpdatesEx at the instant a task changes, plus its injected latency; ' +
      'each gateway round trip after an update also pays that latency before the next wait starts, so a change right after an answer waits up to two latencies. ' +
      'Changes, summed over subscribers, each counting its own scan from its first event on: "made" = state changes in the simulator (RUNNING at progress 0, 10, …, 90, then the terminal state); "expected" = those the gateway saw, i.e. delivered to any subscriber of that scan (vCenter reports a property\'s latest value per WaitForUpdatesEx answer, so two steps between two answers are one change); "delivered" = events of expected changes that arrived; "missing" = expected changes a subscriber never got as their own event (a subscriber still writing the previous event gets the newest state of its scan, not every step, by design). Sample counts in parentheses. ' +
      'Subscriber i follows scan i mod 50 with the same document, so subscribers of one scan share one execution (src/graphql/shared-subscriptions.ts); in the row marked "each its own document" subscriber i names its operation Follow<i>, so nothing is shared.',
    runs: [],
  };
  const plan = [...opts.subscribers.map((n) => ({ n, shared: true })), ...(opts.distinctDocumentsAt ?? []).map((n) => ({ n, shared: false }))];
  for (const { n, shared } of plan) {
    // Scans must outlast the set-up of every subscription (each reads its scans once, upstream).
    const duration = opts.scanDurationMs + n * 2;
    const run = await oneRun(n, shared, { ...opts, scanDurationMs: duration });
    if (typeof run === 'string') {
      result.skipped = run;
      break;
    }
    result.runs.push(run);
  }
  return result;
}

async function oneRun(n: number, sharedDocuments: boolean, opts: { scans: number; scanDurationMs: number; latencyMs: number; cpuProfDir?: string; log: (l: string) => void }): Promise<ScanRun | string> {
  const { log } = opts;
  const label = `[scans] N=${n}${sharedDocuments ? '' : ' (distinct documents)'}`;
  const sim = await SimProcess.start({
    size: { vcenters: 3, datacentersPerVcenter: 1, clustersPerDatacenter: 2, hostsPerCluster: Math.max(4, Math.ceil(opts.scans / 5)) },
    latencyMs: opts.latencyMs,
    patchScanDurationMs: opts.scanDurationMs,
  }, opts.cpuProfDir ? { cpuProfDir: `${opts.cpuProfDir}/scans-${n}/simulator` } : {});
  let gw: GatewayProcess | undefined;
  const clients: Client[] = [];
  try {
    gw = await GatewayProcess.start(sim, opts.cpuProfDir ? { cpuProfDir: `${opts.cpuProfDir}/scans-${n}/gateway` } : {});
    const wsUrl = gw.url.replace(/^http/, 'ws');
    // Hosts, spread over the vCenters round-robin so every vCenter has scans to watch.
    const hostsResult = (await gql(gw.url, HOSTS)).result;
    const nodes: { id: string; connectionState: string; vcenter: { name: string } }[] = hostsResult.data?.hosts?.nodes ?? [];
    const byVc = new Map<string, string[]>();
    for (const h of nodes.filter((x) => x.connectionState === 'CONNECTED')) byVc.set(h.vcenter.name, [...(byVc.get(h.vcenter.name) ?? []), h.id]);
    const hostIds: string[] = [];
    for (let i = 0; hostIds.length < opts.scans && i < nodes.length; i++) for (const list of byVc.values()) if (list[i] && hostIds.length < opts.scans) hostIds.push(list[i]!);
    const metaUrl = sim.info.depotUrls?.[0];
    if (!metaUrl) return 'the simulator exports no DEPOT_URLS';

    const before = await gw.child.memory(true);
    const started = await gql(gw.url, START, { input: { hostIds, metaUrls: [metaUrl] } });
    const payload = started.result.data?.hostPatchScanStart;
    if (!payload) return `hostPatchScanStart failed: ${errorCodes(started.result).join(', ')}`;
    if (payload.userErrors.length) log(`  [scans] userErrors: ${payload.userErrors.map((e: { code: string }) => e.code).join(', ')}`);
    const scanIds: string[] = payload.scans.map((s: { id: string }) => s.id);
    if (scanIds.length === 0) return 'no scan started';

    // ---- subscribe ----
    const perSocket = 250;
    const sockets = Math.min(20, Math.ceil(n / perSocket));
    const errors: string[] = [];
    for (let i = 0; i < sockets; i++) {
      clients.push(
        createClient({
          url: wsUrl,
          webSocketImpl: WebSocket,
          lazy: false,
          retryAttempts: 0,
          onNonLazyError: (e) => errors.push(`socket: ${String((e as Error)?.message ?? e)}`),
        }),
      );
    }
    const setupStart = Date.now();
    const established = new Array<number>(n).fill(0);
    let establishedCount = 0;
    let completed = 0;
    let delivered = 0;
    /** Every measured delay, with the instant and the state of its change (to split by state and steady window). */
    const measured: { at: number; delay: number; state: string }[] = [];
    /** Per subscriber: the change instants it received after its first event (duplicates show twice). */
    const received: number[][] = Array.from({ length: n }, () => []);
    /** Per scan: when it started and completed, as its events report them. */
    const timeline = new Map<string, { startedAt?: number; completedAt?: number }>();
    let allEstablishedAt = Number.POSITIVE_INFINITY;
    let resolveEstablished!: () => void;
    let resolveCompleted!: () => void;
    const allEstablished = new Promise<void>((r) => (resolveEstablished = r));
    const allCompleted = new Promise<void>((r) => (resolveCompleted = r));
    const done = () => {
      completed++;
      if (completed === n) resolveCompleted();
    };
    for (let i = 0; i < n; i++) {
      const client = clients[i % sockets]!;
      client.subscribe<{ patchScanUpdated: ScanEvent }>(
        { query: sharedDocuments ? SUBSCRIPTION : SUBSCRIPTION.replace('subscription Follow', `subscription Follow${i}`), variables: { ids: [scanIds[i % scanIds.length]] } },
        {
          next: (msg) => {
            const now = Date.now();
            delivered++;
            if (msg.errors?.length) errors.push(msg.errors[0]!.message);
            const e = msg.data?.patchScanUpdated;
            if (established[i] === 0) {
              established[i] = now;
              establishedCount++;
              if (establishedCount === n) {
                allEstablishedAt = now;
                resolveEstablished();
              }
              return;
            }
            if (!e) return;
            const t = timeline.get(e.id) ?? {};
            if (e.startedAt) t.startedAt = Date.parse(e.startedAt);
            if (e.completedAt) t.completedAt = Date.parse(e.completedAt);
            timeline.set(e.id, t);
            const at = changeInstant(e, opts.scanDurationMs);
            if (at !== undefined && at >= established[i]!) received[i]!.push(at);
            if (at !== undefined && at >= established[i]!) {
              measured.push({ at, delay: now - at, state: e.state });
            }
          },
          error: (err) => {
            errors.push(err instanceof Error ? err.message : JSON.stringify(err).slice(0, 200));
            if (established[i] === 0) {
              established[i] = -1;
              establishedCount++;
              if (establishedCount === n) resolveEstablished();
            }
            done();
          },
          complete: done,
        },
      );
    }
    const bounded = (p: Promise<void>, ms: number) => Promise.race([p, new Promise<void>((r) => setTimeout(r, ms).unref())]);
    await bounded(allEstablished, opts.scanDurationMs + 30_000);
    const setupMs = Date.now() - setupStart;
    const setupStats = await sim.stats();
    const setupRequests = total(sumRoutes(setupStats));
    await sim.reset();
    const windowStart = Date.now();
    const after = await gw.child.memory(true);
    log(`  ${label}: ${establishedCount}/${n} subscriptions in ${setupMs} ms over ${sockets} socket(s), ${setupRequests} upstream requests to set up`);

    await bounded(allCompleted, opts.scanDurationMs + 30_000);
    const windowMs = Date.now() - windowStart;
    const stats: SimStats[] = await sim.stats();
    const routes = sumRoutes(stats);
    const waits = Object.entries(routes).filter(([r]) => r.includes('WaitForUpdatesEx')).reduce((s, [, c]) => s + c, 0);
    const peaks = stats.map((s) => (s as Partial<SimStats>).peakWaitingCalls).filter((x): x is number => typeof x === 'number');
    const filters = setupStats.map((s) => (s as Partial<SimStats>).liveFilters).filter((x): x is number => typeof x === 'number');
    const delays = measured.map((m) => m.delay);
    const steady = measured.filter((m) => m.at >= allEstablishedAt).map((m) => m.delay);
    const summary = (d: number[]) => ({ n: d.length, p50: percentile(d, 50), p99: percentile(d, 99) });
    // Expected: every change of subscriber i's scan at or after its first event. RUNNING at
    // progress 0, 10, …, 90 (startedAt + p/100 × duration), then the terminal state.
    const changesOf = (scan: string): number[] => {
      const t = timeline.get(scan);
      if (t?.startedAt === undefined) return [];
      const steps = Array.from({ length: 10 }, (_, k) => t.startedAt! + ((k * 10) / 100) * opts.scanDurationMs);
      return t.completedAt === undefined ? steps : [...steps, t.completedAt];
    };
    // What the gateway delivered to anyone, per scan: the changes it saw.
    const seenByAnyone = new Map<string, Set<number>>();
    for (let i = 0; i < n; i++) {
      const scan = scanIds[i % scanIds.length]!;
      const set = seenByAnyone.get(scan) ?? new Set<number>();
      for (const at of received[i]!) set.add(at);
      seenByAnyone.set(scan, set);
    }
    let changesMade = 0;
    let changesExpected = 0;
    let changesDelivered = 0;
    let changesDuplicated = 0;
    let changesMissing = 0;
    for (let i = 0; i < n; i++) {
      if (established[i]! <= 0) continue;
      const scan = scanIds[i % scanIds.length]!;
      const made = changesOf(scan).filter((at) => at >= established[i]!);
      const want = made.filter((at) => seenByAnyone.get(scan)!.has(at));
      const got = received[i]!;
      const distinct = new Set(got);
      changesMade += made.length;
      changesExpected += want.length;
      changesDelivered += got.length;
      changesDuplicated += got.length - distinct.size;
      changesMissing += want.filter((at) => !distinct.has(at)).length;
    }
    const states = [...new Set(measured.map((m) => m.state))];
    const run: ScanRun = {
      subscribers: n,
      sharedDocuments,
      connections: sockets,
      scanDurationMs: opts.scanDurationMs,
      setupMs,
      setupUpstreamRequests: setupRequests,
      windowMs,
      eventsDelivered: delivered,
      eventsMeasured: delays.length,
      changesMade,
      changesExpected,
      changesDelivered,
      changesDuplicated,
      changesMissing,
      delayP50Ms: percentile(delays, 50),
      delayP99Ms: percentile(delays, 99),
      delayMaxMs: delays.length ? Math.max(...delays) : Number.NaN,
      steady: summary(steady),
      delayByState: Object.fromEntries(states.map((state) => [state, summary(measured.filter((m) => m.state === state).map((m) => m.delay))])),
      upstreamRps: total(routes) / (windowMs / 1000),
      waitRps: waits / (windowMs / 1000),
      windowRoutes: routes,
      ...(peaks.length ? { peakWaitingCalls: Math.max(...peaks) } : {}),
      ...(filters.length ? { liveFiltersAtSetup: filters.reduce((a, b) => a + b, 0) } : {}),
      completed,
      heapPerSubscriberKb: (after.heapUsed - before.heapUsed) / 1024 / n,
      rssPerSubscriberKb: (after.rss - before.rss) / 1024 / n,
      gatewayHeapMb: { before: before.heapUsed / 2 ** 20, after: after.heapUsed / 2 ** 20 },
      gatewayRssMb: { before: before.rss / 2 ** 20, after: after.rss / 2 ** 20 },
      errors: [...new Set(errors)].slice(0, 10),
    };
    log(
      `  ${label}: ${delivered} events, changes after the first event made ${changesMade} expected ${changesExpected} delivered ${changesDelivered} (missing ${changesMissing}, duplicates ${changesDuplicated}), delay p50 ${run.delayP50Ms} ms p99 ${run.delayP99Ms} ms, ${run.upstreamRps.toFixed(1)} upstream req/s, ` +
        `(RUNNING p99 ${run.delayByState['RUNNING']?.p99 ?? '–'} ms, SUCCESS p99 ${run.delayByState['SUCCESS']?.p99 ?? '–'} ms), peak waiting ${run.peakWaitingCalls ?? 'n/a'}, ${run.heapPerSubscriberKb.toFixed(1)} KiB heap/subscriber, ${completed}/${n} completed`,
    );
    return run;
  } finally {
    await Promise.allSettled(clients.map((c) => c.dispose()));
    await gw?.close();
    await sim.close();
  }
}
