/**
 * Scenarios 1 and 4 (and `--fleet max`): the fleet query against the gateway, the naive
 * baselines, and the dependency-chain lower bound, on one simulated fleet.
 */
import { FLEET_QUERY } from '../test/queries.ts';
import type { FleetSize } from '../src/simulator/index.ts';
import { Baseline } from './baseline.ts';
import type { BaselineMode } from './baseline.ts';
import { GatewayProcess, SimProcess } from './procs.ts';
import { errorCodes, gql, mb, sumRoutes, summarize, total } from './util.ts';
import type { Summary } from './util.ts';

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
  };
  baselines: Partial<Record<BaselineMode, { wall: Summary; requests: number; routes: Record<string, number>; hosts: number }>>;
}

export interface FleetOptions {
  label: string;
  size: FleetSize;
  latencyMs: number;
  reps: number;
  zeroLatencyReps?: number;
  baselineReps?: Partial<Record<BaselineMode, number>>;
  cpuProfDir?: string;
  log: (line: string) => void;
}

function countHosts(data: any): number {
  let n = 0;
  for (const c of data?.clusters?.nodes ?? []) n += c?.hosts?.nodes?.length ?? 0;
  return n;
}

export async function measureFleet(opts: FleetOptions): Promise<FleetResult> {
  const { size, latencyMs, log } = opts;
  const sim = await SimProcess.start({ size, latencyMs }, opts.cpuProfDir ? { cpuProfDir: `${opts.cpuProfDir}/simulator` } : {});
  const hosts = sim.info.vcenters.reduce((s, v) => s + v.hosts, 0);
  const clusters = sim.info.vcenters.reduce((s, v) => s + v.clusters, 0);
  log(`  [${opts.label}] ${sim.info.vcenters.length} vCenter(s), ${clusters} clusters, ${hosts} hosts, latency ${latencyMs} ms`);
  let gw: GatewayProcess | undefined;
  let baseline: Baseline | undefined;
  try {
    gw = await GatewayProcess.start(sim, opts.cpuProfDir ? { cpuProfDir: `${opts.cpuProfDir}/gateway` } : {});
    // Warm: sessions, VI/JSON release discovery, JIT. Untimed.
    const warm = await gql(gw.url, FLEET_QUERY);
    const warmErrors = errorCodes(warm.result);
    if (warmErrors.length) log(`  [${opts.label}] warm-up query errors: ${warmErrors.slice(0, 5).join(', ')}`);
    await gw.child.call('resetPeak');
    await gw.child.call('tlsStats', { reset: true });

    const cpu = () => Promise.all([gw!.child.call<NodeJS.CpuUsage>('cpuUsage'), sim.child.call<NodeJS.CpuUsage>('cpuUsage')]);
    const cpuBefore = await cpu();
    const samples: RunSample[] = [];
    let hostsReturned = 0;
    let responseBytes = 0;
    for (let i = 0; i < opts.reps; i++) {
      await sim.reset();
      const { result, ms, bytes } = await gql(gw.url, FLEET_QUERY);
      const routes = sumRoutes(await sim.stats());
      samples.push({ ms, routes, requests: total(routes), errors: errorCodes(result) });
      hostsReturned = countHosts(result.data);
      responseBytes = bytes;
    }
    const cpuAfter = await cpu();
    const cpuMs = (i: 0 | 1) => (cpuAfter[i].user + cpuAfter[i].system - cpuBefore[i].user - cpuBefore[i].system) / 1000 / opts.reps;
    const mem = await gw.child.memory();
    const tlsStats = await gw.child.call<{ contexts: number; ms: number }>('tlsStats', { reset: true });
    const last = samples[samples.length - 1]!;
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
        responseBytes,
        peakRssMb: mb(mem.peakRss),
        cpuMsPerQuery: { gateway: cpuMs(0), simulator: cpuMs(1) },
        peakHeapMb: mb(mem.peakHeap),
        rssAfterMb: mb(mem.rss),
        newTlsConnections: tlsStats.contexts,
        tlsContextMs: tlsStats.ms,
      },
      baselines: {},
    };
    log(
      `  [${opts.label}] gateway: median ${result.gateway.wall.median.toFixed(1)} ms, p95 ${result.gateway.wall.p95.toFixed(1)} ms, ` +
        `${result.gateway.requests} upstream requests, ${hostsReturned}/${hosts} hosts, peak RSS ${result.gateway.peakRssMb.toFixed(0)} MB, ` +
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
      log(`  [${opts.label}] gateway at 0 ms latency: median ${result.gateway.wallAtZeroLatency.median.toFixed(1)} ms`);
    }
    await gw.close();
    gw = undefined;

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
          routes = sumRoutes(await sim.stats());
          hostCount = r.hosts;
        }
        result.baselines[mode] = { wall: summarize(walls), requests: total(routes), routes, hosts: hostCount };
        log(`  [${opts.label}] baseline ${mode}: median ${summarize(walls).median.toFixed(0)} ms, ${total(routes)} upstream requests`);
      }
    }
    return result;
  } finally {
    await baseline?.close();
    await gw?.close();
    await sim.close();
  }
}
