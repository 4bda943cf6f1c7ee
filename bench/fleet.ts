/**
 * Scenarios 1 and 4 (and `--fleet max`): the fleet query against the gateway, the naive
 * baselines, and the dependency-chain lower bound, on one simulated fleet.
 */
import { FLEET_QUERY } from '../test/queries.ts';
import type { FleetSize } from '../src/simulator/index.ts';
import { Baseline } from './baseline.ts';
import type { BaselineMode } from './baseline.ts';
import { cannonQuery } from './engine.ts';
import type { EngineRun } from './engine.ts';
import { peerQuery } from './peer.ts';
import { Child, GatewayProcess, SimProcess } from './procs.ts';
import { errorCodes, gql, mb, median, sumRoutes, summarize, total } from './util.ts';
import type { GraphQLResult, Summary } from './util.ts';
import type { SimStats } from '../src/simulator/index.ts';

export { FLEET_QUERY };

/**
 * Dependent upstream round trips the fleet query cannot avoid (sessions warm, so no logins):
 * 1. the cluster IDs of a vCenter (`GET /api/vcenter/cluster`, or any PropertyCollector read);
 * 2. the installed images of each cluster (`GET .../clusters/{id}/installed-images`), which
 *    needs a cluster ID from trip 1 and has no batch form.
 * Hosts and their properties can come in the same trip 2 (a PropertyCollector read that starts
 * at the clusters, or a HostSystem container view even in trip 1), in one page as long as a
 * vCenter has at most 10,000 hosts (the largest maxObjects vCenter honours). So 2 trips.
 */
export const CHAIN_TRIPS = 2;

/** The mirror's own change feed (long polls that answer whenever vCenter changes): not part of a query. */
const FEED_ROUTE = /WaitForUpdatesEx/;
const INVENTORY_READ = /GET \/api\/vcenter\/(cluster|host)$|RetrievePropertiesEx$|CreateContainerView$/;
const INSTALLED_IMAGES = /installed-images$/;
const CONTINUE_PAGE = /ContinueRetrievePropertiesEx$/;

/** A query's upstream requests by route, summed over vCenters, without logins or the mirror's feed. */
export function queryRoutes(stats: readonly SimStats[]): Record<string, number> {
  return Object.fromEntries(Object.entries(sumRoutes(stats)).filter(([route]) => !FEED_ROUTE.test(route)));
}

/**
 * Dependent upstream round trips a query made, from the simulator's counters during it: per
 * vCenter, an inventory read (cluster list, PropertyCollector read) is one trip, and installed
 * images, which need a cluster ID, one more after it (or the only one when the IDs came from the
 * mirror; N of them in parallel are still one trip); extra PropertyCollector pages each wait for
 * the previous one. vCenters run in parallel: the longest chain counts. 0 requests → 0 trips.
 */
export function dependentTrips(stats: readonly SimStats[]): number {
  let trips = 0;
  for (const s of stats) {
    const has = (re: RegExp) => Object.entries(s.requests).some(([route, n]) => n > 0 && re.test(route));
    const pages = Object.entries(s.requests).reduce((sum, [route, n]) => sum + (CONTINUE_PAGE.test(route) ? n : 0), 0);
    const inventory = has(INVENTORY_READ) ? 1 : 0;
    trips = Math.max(trips, inventory + Math.max(has(INSTALLED_IMAGES) ? 1 : 0, pages));
  }
  return trips;
}

export interface RunSample {
  ms: number;
  requests: number;
  routes: Record<string, number>;
  errors: string[];
}

export interface FleetResult {
  label: string;
  size: FleetSize;
  clusters: number;
  hosts: number;
  latencyMs: number;
  lowerBoundMs: number;
  gateway: {
    wall: Summary;
    requests: number;
    /** Per route, from the last timed run. */
    routes: Record<string, number>;
    requestsStable: boolean;
    errors: string[];
    hostsReturned: number;
    responseBytes: number;
    peakRssMb: number;
    /** CPU time (user + system) per timed query: the gateway's, and the simulator's answering it. */
    cpuMsPerQuery: { gateway: number; simulator: number };
    peakHeapMb: number;
    rssAfterMb: number;
    /** TLS secure contexts the gateway built during the timed runs (≈ new upstream TLS connections), and their CPU time. */
    newTlsConnections: number;
    tlsContextMs: number;
    /** Gateway processing alone: the same query with the simulator's injected latency set to 0. */
    wallAtZeroLatency?: Summary;
    /** Whether the gateway ran its inventory mirrors (production), timed once every mirror was LIVE. */
    mirror: boolean;
    /** Dependent upstream round trips of the last timed query (see dependentTrips). */
    trips: number;
  };
  /** The same gateway with its inventory mirrors off (live reads), when measured. */
  mirrorOff?: { wall: Summary; requests: number; routes: Record<string, number>; trips: number; errors: string[] };
  /**
   * The measured floor: dependent trips × latency + what bare yoga takes to return the same
   * answer (same SDL, same query, the captured response from memory, default resolvers).
   */
  floor?: { bare: Summary; identical: boolean; responseBytes: number; floorMs: number; ratio: number; mirrorOffFloorMs?: number; mirrorOffRatio?: number };
  peer?: PeerResult;
  baselines: Partial<Record<BaselineMode, { wall: Summary; requests: number; routes: Record<string, number>; hosts: number }>>;
}

export interface PeerResult {
  query: string;
  /** Single client, one query at a time, stats reset before each. */
  wall: Summary;
  gatewayWall: Summary;
  requests: number;
  routes: Record<string, number>;
  /** Requests the simulator refused as not matching the official spec (should be 0). */
  invalidRequests: number;
  errors: string[];
  responseBytes: number;
  /** What the peer's answer shares with the gateway's, compared field by field. */
  agreement: { clusters: number; hosts: number; mismatches: string[] };
  /** autocannon at `connections`, alternating gateway and peer, `requestsPerRun` responses a run. */
  connections: number;
  requestsPerRun: number;
  gatewayRuns: LoadRun[];
  peerRuns: LoadRun[];
  /** GraphQL error codes in `connections` concurrent answers of each (autocannon sees HTTP status only). */
  concurrentErrors: { gateway: string[]; peer: string[] };
  cpuMsPerQuery: { gateway: number; peer: number };
}

export type LoadRun = Omit<EngineRun, 'cpuUsPerRequest'> & { responses: number; upstreamPerResponse: number; upstreamRoutes: Record<string, number> };

export interface PeerPlan {
  /** Single-client timed queries of each. */
  reps: number;
  /** autocannon runs of each, alternating, `requestsPerRun` responses each (plus one warm-up run). */
  runs: number;
  requestsPerRun: number;
  connections: number;
}

export interface FleetOptions {
  label: string;
  size: FleetSize;
  latencyMs: number;
  reps: number;
  zeroLatencyReps?: number;
  baselineReps?: Partial<Record<BaselineMode, number>>;
  cpuProfDir?: string;
  /** Run the gateway as production does, with its inventory mirrors (default true). */
  mirror?: boolean;
  /** Also time the gateway with its mirrors off, this many times. */
  mirrorOffReps?: number;
  /** Measure the floor (bare yoga serving the captured answer), as many times as the gateway. */
  floor?: boolean;
  peer?: PeerPlan;
  log: (line: string) => void;
}

function countHosts(data: any): number {
  let n = 0;
  for (const c of data?.clusters?.nodes ?? []) n += c?.hosts?.nodes?.length ?? 0;
  return n;
}

/** Times `reps` queries one at a time, the simulator's counters reset before each. */
async function timedQueries(url: string, query: string, reps: number, sim: SimProcess): Promise<{ samples: RunSample[]; last: { result: GraphQLResult; bytes: number; stats: SimStats[] } }> {
  const samples: RunSample[] = [];
  let last: { result: GraphQLResult; bytes: number; stats: SimStats[] } | undefined;
  for (let i = 0; i < reps; i++) {
    await sim.reset();
    const { result, ms, bytes } = await gql(url, query);
    const stats = await sim.stats();
    const routes = queryRoutes(stats);
    samples.push({ ms, routes, requests: total(routes), errors: errorCodes(result) });
    last = { result, bytes, stats };
  }
  if (!last) throw new Error('timedQueries: reps must be ≥ 1');
  return { samples, last };
}

const cpuMs = (before: NodeJS.CpuUsage, after: NodeJS.CpuUsage, n: number): number => (after.user + after.system - before.user - before.system) / 1000 / Math.max(1, n);

/** Compares what the peer's answer shares with the gateway's: clusters, their hosts, image status. */
export function comparePeer(gateway: any, peer: any, prefixOf: Map<string, string>): PeerResult['agreement'] {
  const norm = (v: unknown) => String(v).toUpperCase().replace(/_/g, '');
  const mismatches: string[] = [];
  let clusters = 0;
  let hosts = 0;
  const peerClusters = new Map<string, any>();
  for (const [vcenter, prefix] of prefixOf) for (const c of peer?.[prefix] ?? []) peerClusters.set(`${vcenter}/${c.cluster}`, c);
  const gatewayClusters = gateway?.clusters?.nodes ?? [];
  if (gatewayClusters.length !== peerClusters.size) mismatches.push(`cluster count ${gatewayClusters.length} vs ${peerClusters.size}`);
  for (const g of gatewayClusters) {
    const p = peerClusters.get(`${g.vcenter?.name}/${g.moId}`);
    if (!p) {
      mismatches.push(`cluster ${g.moId} missing from the peer`);
      continue;
    }
    clusters++;
    if (p.name !== g.name || p.ha_enabled !== g.haEnabled || p.drs_enabled !== g.drsEnabled) mismatches.push(`cluster ${g.moId} fields`);
    if (p.installedImages?.status !== g.installedImages?.status) mismatches.push(`cluster ${g.moId} installed-images status`);
    const peerHosts = new Map<string, any>((p.hosts ?? []).map((h: any) => [h.host, h]));
    if (peerHosts.size !== (g.hosts?.nodes?.length ?? 0)) mismatches.push(`cluster ${g.moId} host count`);
    for (const h of g.hosts?.nodes ?? []) {
      const ph = peerHosts.get(h.moId);
      // REST gives no power state for a host vCenter cannot reach; vim25 keeps the last one.
      if (!ph || ph.name !== h.name || norm(ph.connection_state) !== norm(h.connectionState) || (ph.power_state != null && norm(ph.power_state) !== norm(h.powerState))) {
        mismatches.push(`host ${h.moId}`);
        continue;
      }
      hosts++;
    }
  }
  return { clusters, hosts, mismatches: mismatches.slice(0, 5) };
}

export async function measureFleet(opts: FleetOptions): Promise<FleetResult> {
  const { size, latencyMs, log } = opts;
  const mirror = opts.mirror ?? true;
  const sim = await SimProcess.start({ size, latencyMs }, opts.cpuProfDir ? { cpuProfDir: `${opts.cpuProfDir}/simulator` } : {});
  const hosts = sim.info.vcenters.reduce((s, v) => s + v.hosts, 0);
  const clusters = sim.info.vcenters.reduce((s, v) => s + v.clusters, 0);
  log(`  [${opts.label}] ${sim.info.vcenters.length} vCenter(s), ${clusters} clusters, ${hosts} hosts, latency ${latencyMs} ms, inventory mirror ${mirror ? 'on' : 'off'}`);
  let gw: GatewayProcess | undefined;
  let baseline: Baseline | undefined;
  const children: Child[] = [];
  try {
    gw = await GatewayProcess.start(sim, opts.cpuProfDir ? { cpuProfDir: `${opts.cpuProfDir}/gateway` } : {}, { inventoryMirror: mirror });
    if (mirror) await gw.child.call('untilLive', 120_000, 130_000);
    // Warm: sessions, VI/JSON release discovery, JIT. Untimed.
    const warm = await gql(gw.url, FLEET_QUERY);
    const warmErrors = errorCodes(warm.result);
    if (warmErrors.length) log(`  [${opts.label}] warm-up query errors: ${warmErrors.slice(0, 5).join(', ')}`);
    await gw.child.call('resetPeak');
    await gw.child.call('tlsStats', { reset: true });

    const cpu = () => Promise.all([gw!.child.call<NodeJS.CpuUsage>('cpuUsage'), sim.child.call<NodeJS.CpuUsage>('cpuUsage')]);
    const cpuBefore = await cpu();
    const { samples, last: lastRun } = await timedQueries(gw.url, FLEET_QUERY, opts.reps, sim);
    const cpuAfter = await cpu();
    const mem = await gw.child.memory();
    const tlsStats = await gw.child.call<{ contexts: number; ms: number }>('tlsStats', { reset: true });
    const last = samples[samples.length - 1]!;
    const hostsReturned = countHosts(lastRun.result.data);
    const result: FleetResult = {
      label: opts.label,
      size,
      clusters,
      hosts,
      latencyMs,
      lowerBoundMs: CHAIN_TRIPS * latencyMs,
      gateway: {
        wall: summarize(samples.map((s) => s.ms)),
        requests: last.requests,
        routes: last.routes,
        requestsStable: samples.every((s) => s.requests === last.requests),
        errors: [...new Set(samples.flatMap((s) => s.errors))],
        hostsReturned,
        responseBytes: lastRun.bytes,
        peakRssMb: mb(mem.peakRss),
        cpuMsPerQuery: { gateway: cpuMs(cpuBefore[0], cpuAfter[0], opts.reps), simulator: cpuMs(cpuBefore[1], cpuAfter[1], opts.reps) },
        peakHeapMb: mb(mem.peakHeap),
        rssAfterMb: mb(mem.rss),
        newTlsConnections: tlsStats.contexts,
        tlsContextMs: tlsStats.ms,
        mirror,
        trips: dependentTrips(lastRun.stats),
      },
      baselines: {},
    };
    log(
      `  [${opts.label}] gateway: median ${result.gateway.wall.median.toFixed(1)} ms (n=${opts.reps}), p95 ${result.gateway.wall.p95.toFixed(1)} ms, ` +
        `${result.gateway.requests} upstream requests in ${result.gateway.trips} dependent trip(s), ${hostsReturned}/${hosts} hosts, peak RSS ${result.gateway.peakRssMb.toFixed(0)} MB, ` +
        `CPU per query ${result.gateway.cpuMsPerQuery.gateway.toFixed(0)} ms gateway + ${result.gateway.cpuMsPerQuery.simulator.toFixed(0)} ms simulator, ` +
        `${tlsStats.contexts} new upstream TLS connections (${tlsStats.ms.toFixed(0)} ms building contexts)` +
        (result.gateway.errors.length ? `, errors: ${result.gateway.errors.join(', ')}` : ''),
    );

    if (opts.zeroLatencyReps) {
      await sim.setLatency(0);
      await gql(gw.url, FLEET_QUERY);
      const zero: number[] = [];
      for (let i = 0; i < opts.zeroLatencyReps; i++) zero.push((await gql(gw.url, FLEET_QUERY)).ms);
      await sim.setLatency(latencyMs);
      result.gateway.wallAtZeroLatency = summarize(zero);
      log(`  [${opts.label}] gateway at 0 ms latency: median ${result.gateway.wallAtZeroLatency.median.toFixed(1)} ms (n=${zero.length})`);
    }

    if (opts.floor) {
      const floorChild = await Child.start('floor');
      children.push(floorChild);
      const url = await floorChild.call<string>('start', { data: lastRun.result.data });
      const check = await gql(url, FLEET_QUERY);
      const identical = !check.result.errors?.length && JSON.stringify(check.result.data) === JSON.stringify(lastRun.result.data);
      await gql(url, FLEET_QUERY); // second warm-up, as the gateway had
      const bareMs: number[] = [];
      for (let i = 0; i < opts.reps; i++) bareMs.push((await gql(url, FLEET_QUERY)).ms);
      const bare = summarize(bareMs);
      const floorMs = result.gateway.trips * latencyMs + bare.median;
      result.floor = { bare, identical, responseBytes: check.bytes, floorMs, ratio: result.gateway.wall.median / floorMs };
      log(`  [${opts.label}] floor: bare yoga median ${bare.median.toFixed(1)} ms (n=${bare.n}, ${identical ? 'identical answer' : 'ANSWER DIFFERS'}, ${check.bytes} bytes) + ${result.gateway.trips} × ${latencyMs} ms = ${floorMs.toFixed(1)} ms; gateway / floor = ${result.floor.ratio.toFixed(2)}`);
      await floorChild.close();
    }

    if (opts.peer) await measurePeer(opts.peer, sim, gw, lastRun.result, result, log);

    await gw.close();
    gw = undefined;

    if (opts.mirrorOffReps) {
      const off = await GatewayProcess.start(sim, {}, { inventoryMirror: false });
      try {
        await gql(off.url, FLEET_QUERY);
        const { samples: offSamples, last: offLast } = await timedQueries(off.url, FLEET_QUERY, opts.mirrorOffReps, sim);
        const l = offSamples[offSamples.length - 1]!;
        result.mirrorOff = { wall: summarize(offSamples.map((x) => x.ms)), requests: l.requests, routes: l.routes, trips: dependentTrips(offLast.stats), errors: [...new Set(offSamples.flatMap((x) => x.errors))] };
        if (result.floor) {
          result.floor.mirrorOffFloorMs = result.mirrorOff.trips * latencyMs + result.floor.bare.median;
          result.floor.mirrorOffRatio = result.mirrorOff.wall.median / result.floor.mirrorOffFloorMs;
        }
        log(`  [${opts.label}] gateway, mirror off: median ${result.mirrorOff.wall.median.toFixed(1)} ms (n=${offSamples.length}), ${l.requests} upstream requests in ${result.mirrorOff.trips} dependent trip(s)`);
      } finally {
        await off.close();
      }
    }

    const modes = Object.entries(opts.baselineReps ?? {}).filter(([, n]) => (n ?? 0) > 0) as [BaselineMode, number][];
    if (modes.length) {
      baseline = new Baseline(sim.endpoints());
      await baseline.warm();
      await baseline.run('parallel'); // untimed, like the gateway's warm-up query
      for (const [mode, reps] of modes) {
        const walls: number[] = [];
        let routes: Record<string, number> = {};
        let hostCount = 0;
        for (let i = 0; i < reps; i++) {
          await sim.reset();
          const start = performance.now();
          const r = await baseline.run(mode);
          walls.push(performance.now() - start);
          routes = queryRoutes(await sim.stats());
          hostCount = r.hosts;
        }
        result.baselines[mode] = { wall: summarize(walls), requests: total(routes), routes, hosts: hostCount };
        log(`  [${opts.label}] baseline ${mode}: median ${summarize(walls).median.toFixed(0)} ms (n=${reps}), ${total(routes)} upstream requests`);
      }
    }
    return result;
  } finally {
    await baseline?.close();
    for (const c of children) await c.close();
    await gw?.close();
    await sim.close();
  }
}

/**
 * The peer (bench/peer.ts) in its own child against the same simulator: its fleet query one at a
 * time (latency, exact upstream requests), then autocannon at `connections` against the gateway
 * and the peer in turn, alternating which goes first.
 */
async function measurePeer(plan: PeerPlan, sim: SimProcess, gw: GatewayProcess, gatewayAnswer: GraphQLResult, result: FleetResult, log: (line: string) => void): Promise<void> {
  const peer = await Child.start('peer');
  try {
    const { url, prefixes } = await peer.call<{ url: string; prefixes: string[] }>('start', { vcenters: sim.info.vcenters.map((v) => ({ name: v.name, url: v.url })), username: sim.info.username, password: sim.info.password, caPem: sim.info.caPem }, 120_000);
    const query = peerQuery(prefixes);
    await gql(url, query); // warm, untimed
    // One query of each in turn, alternating which goes first, so load on the machine hits both
    // alike; each child is idle while the other runs, so its CPU time is its own queries'.
    const cpu = () => Promise.all([gw.child.call<NodeJS.CpuUsage>('cpuUsage'), peer.call<NodeJS.CpuUsage>('cpuUsage')]);
    const [gwCpu0, peerCpu0] = await cpu();
    const samples: RunSample[] = [];
    const gwSamples: RunSample[] = [];
    let last: Awaited<ReturnType<typeof timedQueries>>['last'] | undefined;
    for (let i = 0; i < plan.reps; i++) {
      for (const which of i % 2 === 0 ? (['peer', 'gateway'] as const) : (['gateway', 'peer'] as const)) {
        const run = which === 'peer' ? await timedQueries(url, query, 1, sim) : await timedQueries(gw.url, FLEET_QUERY, 1, sim);
        (which === 'peer' ? samples : gwSamples).push(...run.samples);
        if (which === 'peer') last = run.last;
      }
    }
    const [gwCpu1, peerCpu1] = await cpu();
    if (!last) throw new Error('peer: reps must be ≥ 1');
    const prefixOf = new Map(sim.info.vcenters.map((v, i) => [v.name, prefixes[i]!]));
    const l = samples[samples.length - 1]!;
    const invalid = last.stats.reduce((n, s) => n + Object.values(s.invalidRequests ?? {}).reduce((a, b) => a + b, 0), 0);
    const out: PeerResult = {
      query,
      wall: summarize(samples.map((s) => s.ms)),
      gatewayWall: summarize(gwSamples.map((s) => s.ms)),
      requests: l.requests,
      routes: l.routes,
      invalidRequests: invalid,
      errors: [...new Set(samples.flatMap((s) => s.errors))],
      responseBytes: last.bytes,
      agreement: comparePeer(gatewayAnswer.data, last.result.data, prefixOf),
      connections: plan.connections,
      requestsPerRun: plan.requestsPerRun,
      gatewayRuns: [],
      peerRuns: [],
      concurrentErrors: { gateway: [], peer: [] },
      cpuMsPerQuery: { gateway: cpuMs(gwCpu0, gwCpu1, plan.reps), peer: cpuMs(peerCpu0, peerCpu1, plan.reps) },
    };
    log(`  [peer] median ${out.wall.median.toFixed(1)} ms (n=${out.wall.n}; gateway ${out.gatewayWall.median.toFixed(1)} ms, n=${out.gatewayWall.n}), ${out.requests} upstream requests, ${invalid} refused by the spec check, agrees on ${out.agreement.clusters} clusters / ${out.agreement.hosts} hosts${out.agreement.mismatches.length ? `, mismatches: ${out.agreement.mismatches.join('; ')}` : ''}`);
    // Warm-up under load, untimed: V8 optimises the hot paths of both.
    await cannonQuery(gw.url, FLEET_QUERY, { amount: plan.connections }, plan.connections);
    await cannonQuery(url, query, { amount: plan.connections }, plan.connections);
    for (let i = 0; i < plan.runs; i++) {
      const order = i % 2 === 0 ? (['gateway', 'peer'] as const) : (['peer', 'gateway'] as const);
      for (const which of order) {
        await sim.reset();
        const run = await cannonQuery(which === 'gateway' ? gw.url : url, which === 'gateway' ? FLEET_QUERY : query, { amount: plan.requestsPerRun }, plan.connections);
        const upstreamRoutes = queryRoutes(await sim.stats());
        const upstreamPerResponse = total(upstreamRoutes) / Math.max(1, run.responses);
        (which === 'gateway' ? out.gatewayRuns : out.peerRuns).push({ ...run, upstreamPerResponse, upstreamRoutes });
        log(`  [peer] c=${plan.connections} ${which}: ${run.requestsPerSec.toFixed(1)} req/s, p50 ${run.p50Ms} ms over ${run.responses} responses, ${upstreamPerResponse.toFixed(1)} upstream requests each, ${run.errors + run.non2xx} errors/non-2xx`);
      }
    }
    const concurrently = async (target: string, q: string) =>
      [...new Set((await Promise.all(Array.from({ length: plan.connections }, () => gql(target, q)))).flatMap((r) => errorCodes(r.result)))];
    out.concurrentErrors = { gateway: await concurrently(gw.url, FLEET_QUERY), peer: await concurrently(url, query) };
    if (out.concurrentErrors.gateway.length || out.concurrentErrors.peer.length) log(`  [peer] errors in ${plan.connections} concurrent answers: gateway ${out.concurrentErrors.gateway.join(', ') || 'none'}; peer ${out.concurrentErrors.peer.join(', ') || 'none'}`);
    result.peer = out;
  } finally {
    await peer.close();
  }
}

/** Median of a field over autocannon runs. */
export const medianOf = (runs: readonly Pick<EngineRun, 'requestsPerSec' | 'p50Ms' | 'p99Ms'>[], field: 'requestsPerSec' | 'p50Ms' | 'p99Ms'): number => median(runs.map((r) => r[field]));
