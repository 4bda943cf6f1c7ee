/**
 * Scenario 3: engine overhead. autocannon (in the driver process) against the gateway and
 * against a bare graphql-yoga server (bench/child.ts role `bare`) that returns the same-shaped
 * data from a constant, alternating the two in the same run. Each server runs alone in its own
 * child process, so each has a core of its own and autocannon the other.
 *
 * The query, `{ vcenters { name about { version build apiVersion } } }`, is answered from
 * warm upstream data: names come from configuration and `about` from the ServiceContent the
 * client fetched once and keeps (no upstream request per query; checked with the simulator's
 * counters). So the ratio measures what the gateway adds per request on top of yoga: its schema
 * and resolvers, the per-request context (DataLoaders), the partial-results plugin, error
 * masking — not vCenter latency.
 */
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Child, GatewayProcess, SimProcess } from './procs.ts';
import { gql, median, sumRoutes, total } from './util.ts';

export const ENGINE_QUERY = '{ vcenters { name about { version build apiVersion } } }';

export interface EngineRun {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** CPU time (user + system) of the server's process per request answered, in µs. */
  cpuUsPerRequest: number;
}

export interface EngineResult {
  query: string;
  connections: number;
  durationSec: number;
  gateway: EngineRun[];
  bare: EngineRun[];
  gatewayMedianRps: number;
  bareMedianRps: number;
  gatewayMedianP99Ms: number;
  bareMedianP99Ms: number;
  ratio: number;
  /** Median CPU µs per request, gateway / bare: the overhead without autocannon's share of the cores. */
  gatewayMedianCpuUs: number;
  bareMedianCpuUs: number;
  upstreamRequestsDuringGatewayRuns: number;
}

/**
 * autocannon POSTing one GraphQL query over `connections` connections, for `durationSec` seconds
 * or until `amount` responses (slow queries: nothing left in flight to load the next run, and
 * throughput = responses / the time from the start to the last response). autocannon's own
 * `duration` is no use there: it reports a run's end at its next one-second tick, so 40 responses
 * in 1.2 s and in 1.9 s both read 20 req/s, and 2.1 s reads 13.3.
 */
export async function cannonQuery(url: string, query: string, load: { durationSec: number } | { amount: number }, connections: number): Promise<Omit<EngineRun, 'cpuUsPerRequest'> & { responses: number }> {
  const started = performance.now();
  let lastResponseAt = started;
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        connections,
        ...('amount' in load ? { amount: load.amount, timeout: 120 } : { duration: load.durationSec }),
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query }),
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    instance.on('response', () => (lastResponseAt = performance.now()));
  });
  const requestsPerSec = 'amount' in load ? r.requests.total / ((lastResponseAt - started) / 1000) : r.requests.average;
  return { requestsPerSec, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors, non2xx: r.non2xx, responses: r.requests.total };
}

/** The engine query against one server child, with that child's CPU time per request. */
async function cannon(server: Child, url: string, durationSec: number, connections: number): Promise<EngineRun> {
  const cpuBefore = await server.call<NodeJS.CpuUsage>('cpuUsage');
  const { responses, ...run } = await cannonQuery(url, ENGINE_QUERY, { durationSec }, connections);
  const cpuAfter = await server.call<NodeJS.CpuUsage>('cpuUsage');
  const cpuUs = cpuAfter.user - cpuBefore.user + (cpuAfter.system - cpuBefore.system);
  return { ...run, cpuUsPerRequest: cpuUs / Math.max(1, responses) };
}

export async function measureEngine(opts: {
  reps: number;
  durationSec: number;
  warmupSec: number;
  connections: number;
  log: (l: string) => void;
  /** Write CPU profiles of the gateway and bare yoga children under DIR/gateway and DIR/bare (`--profile`). */
  cpuProfDir?: string;
  /** Gateway option `jit` (compiled execution); undefined: the gateway's default. */
  jit?: boolean;
}): Promise<EngineResult> {
  const sim = await SimProcess.start({ size: { vcenters: 3, datacentersPerVcenter: 1, clustersPerDatacenter: 2, hostsPerCluster: 2 }, latencyMs: 20 });
  let gw: GatewayProcess | undefined;
  let bare: Child | undefined;
  try {
    gw = await GatewayProcess.start(sim, opts.cpuProfDir ? { cpuProfDir: join(opts.cpuProfDir, 'gateway') } : {}, opts.jit !== undefined ? { jit: opts.jit } : {});
    const warm = await gql(gw.url, ENGINE_QUERY);
    if (warm.result.errors?.length || !warm.result.data) throw new Error(`engine query failed: ${JSON.stringify(warm.result.errors)}`);
    bare = await Child.start('bare', opts.cpuProfDir ? { cpuProfDir: join(opts.cpuProfDir, 'bare') } : {});
    const bareUrl = await bare.call<string>('start', { vcenters: warm.result.data.vcenters });
    const bareCheck = await gql(bareUrl, ENGINE_QUERY);
    if (JSON.stringify(bareCheck.result.data) !== JSON.stringify(warm.result.data)) throw new Error('bare yoga answers differently from the gateway');
    // Warm-up of both, untimed: throughput keeps rising for a few seconds while V8 optimises.
    await cannon(gw.child, gw.url, opts.warmupSec, opts.connections);
    await cannon(bare, bareUrl, opts.warmupSec, opts.connections);
    await sim.reset();
    const gateway: EngineRun[] = [];
    const bareRuns: EngineRun[] = [];
    for (let i = 0; i < opts.reps; i++) {
      // Alternate which goes first so drift (thermal, other load) does not favour one.
      const order = i % 2 === 0 ? (['gw', 'bare'] as const) : (['bare', 'gw'] as const);
      for (const which of order) {
        const run = which === 'gw' ? await cannon(gw.child, gw.url, opts.durationSec, opts.connections) : await cannon(bare, bareUrl, opts.durationSec, opts.connections);
        (which === 'gw' ? gateway : bareRuns).push(run);
        opts.log(`  [engine] ${which === 'gw' ? 'gateway' : 'bare yoga'}: ${run.requestsPerSec.toFixed(0)} req/s, p99 ${run.p99Ms} ms, ${run.cpuUsPerRequest.toFixed(0)} µs CPU per request`);
      }
    }
    const upstream = total(sumRoutes(await sim.stats()));
    const gatewayMedianRps = median(gateway.map((r) => r.requestsPerSec));
    const bareMedianRps = median(bareRuns.map((r) => r.requestsPerSec));
    return {
      query: ENGINE_QUERY,
      connections: opts.connections,
      durationSec: opts.durationSec,
      gateway,
      bare: bareRuns,
      gatewayMedianRps,
      bareMedianRps,
      gatewayMedianP99Ms: median(gateway.map((r) => r.p99Ms)),
      bareMedianP99Ms: median(bareRuns.map((r) => r.p99Ms)),
      ratio: gatewayMedianRps / bareMedianRps,
      gatewayMedianCpuUs: median(gateway.map((r) => r.cpuUsPerRequest)),
      bareMedianCpuUs: median(bareRuns.map((r) => r.cpuUsPerRequest)),
      upstreamRequestsDuringGatewayRuns: upstream,
    };
  } finally {
    await bare?.close();
    await gw?.close();
    await sim.close();
  }
}
