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
  upstreamRequestsDuringGatewayRuns: number;
}

/**
 * autocannon POSTing one GraphQL query over `connections` connections, for `durationSec` seconds
 * or until `amount` responses (slow queries: nothing left in flight to load the next run, and
 * throughput = responses / elapsed time).
 */
export async function cannonQuery(url: string, query: string, load: { durationSec: number } | { amount: number }, connections: number): Promise<EngineRun & { responses: number }> {
  const r = await autocannon({
    url,
    method: 'POST',
    connections,
    ...('amount' in load ? { amount: load.amount, timeout: 120 } : { duration: load.durationSec }),
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query }),
  });
  const requestsPerSec = 'amount' in load ? r.requests.total / r.duration : r.requests.average;
  return { requestsPerSec, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors, non2xx: r.non2xx, responses: r.requests.total };
}

async function cannon(url: string, durationSec: number, connections: number): Promise<EngineRun> {
  const { responses: _, ...run } = await cannonQuery(url, ENGINE_QUERY, { durationSec }, connections);
  return run;
}

export async function measureEngine(opts: { reps: number; durationSec: number; warmupSec: number; connections: number; log: (l: string) => void }): Promise<EngineResult> {
  const sim = await SimProcess.start({ size: { vcenters: 3, datacentersPerVcenter: 1, clustersPerDatacenter: 2, hostsPerCluster: 2 }, latencyMs: 20 });
  let gw: GatewayProcess | undefined;
  let bare: Child | undefined;
  try {
    gw = await GatewayProcess.start(sim);
    const warm = await gql(gw.url, ENGINE_QUERY);
    if (warm.result.errors?.length || !warm.result.data) throw new Error(`engine query failed: ${JSON.stringify(warm.result.errors)}`);
    bare = await Child.start('bare');
    const bareUrl = await bare.call<string>('start', { vcenters: warm.result.data.vcenters });
    const bareCheck = await gql(bareUrl, ENGINE_QUERY);
    if (JSON.stringify(bareCheck.result.data) !== JSON.stringify(warm.result.data)) throw new Error('bare yoga answers differently from the gateway');
    // Warm-up of both, untimed: throughput keeps rising for a few seconds while V8 optimises.
    await cannon(gw.url, opts.warmupSec, opts.connections);
    await cannon(bareUrl, opts.warmupSec, opts.connections);
    await sim.reset();
    const gateway: EngineRun[] = [];
    const bareRuns: EngineRun[] = [];
    for (let i = 0; i < opts.reps; i++) {
      // Alternate which goes first so drift (thermal, other load) does not favour one.
      const order = i % 2 === 0 ? (['gw', 'bare'] as const) : (['bare', 'gw'] as const);
      for (const which of order) {
        const run = await cannon(which === 'gw' ? gw.url : bareUrl, opts.durationSec, opts.connections);
        (which === 'gw' ? gateway : bareRuns).push(run);
        opts.log(`  [engine] ${which === 'gw' ? 'gateway' : 'bare yoga'}: ${run.requestsPerSec.toFixed(0)} req/s, p99 ${run.p99Ms} ms`);
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
      upstreamRequestsDuringGatewayRuns: upstream,
    };
  } finally {
    await bare?.close();
    await gw?.close();
    await sim.close();
  }
}
