/**
 * The inventory mirror at fleet scale (issue 12): `npm run bench:mirror -- [--vcenters 15]
 * [--clusters 26] [--hosts 96] [--latency 20] [--reps 7] [--jit|--no-jit] [--mirror-only] [--profile DIR]`. The simulator runs in its own
 * process, the gateway in another, as `npm run bench` does.
 *
 * Measured: initial sync of every vCenter (from the gateway creating its mirrors to the last
 * one's LIVE `since`, both on the gateway's clock), the fleet query and an
 * inventory-only query (clusters and hosts, no installed images) with the mirror and, for
 * the inventory query, without it; upstream requests per warm query; gateway RSS; mirror
 * heap bytes per host (after GC, idle, before any query: the gateway with mirrors minus the
 * same gateway without).
 */
import { parseArgs } from 'node:util';
import { writeFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { FLEET_QUERY } from '../test/queries.ts';
import { GatewayProcess, SimProcess } from './procs.ts';
import { closeAgent, errorCodes, fmt, gql, mb, sumRoutes, summarize, total } from './util.ts';
import type { Summary } from './util.ts';

const { values } = parseArgs({
  options: {
    vcenters: { type: 'string', default: '15' },
    clusters: { type: 'string', default: '26' },
    hosts: { type: 'string', default: '96' },
    latency: { type: 'string', default: '20' },
    reps: { type: 'string', default: '7' },
    out: { type: 'string', default: 'bench/results/mirror.json' },
    /** Gateway with graphql-jit (bench/child.ts jitPlugin); --no-jit: without. */
    jit: { type: 'boolean' },
    /** Skip the gateway without mirrors (idle heap and the live query): for iterating on query speed. */
    'mirror-only': { type: 'boolean', default: false },
    /** Write a CPU profile of the gateway with mirrors into this directory (summarise with bench/profile-summary.ts). */
    profile: { type: 'string' },
  },
  allowNegative: true,
});
const gatewayStart = values.jit !== undefined ? { jit: values.jit } : {};
const size = { vcenters: Number(values.vcenters), datacentersPerVcenter: 1, clustersPerDatacenter: Number(values.clusters), hostsPerCluster: Number(values.hosts) };
const latencyMs = Number(values.latency);
const reps = Number(values.reps);
const hosts = size.vcenters * size.clustersPerDatacenter * size.hostsPerCluster;

const INVENTORY_QUERY = /* GraphQL */ `
  query Inventory {
    clusters(first: 1000) {
      totalCount
      nodes { id name haEnabled drsEnabled hosts(first: 100) { totalCount nodes { id name connectionState powerState inMaintenanceMode product { build } } } }
    }
  }
`;

async function timed(
  gateway: GatewayProcess,
  query: string,
  n: number,
  sim: SimProcess,
): Promise<{ wall: Summary; requestsPerQuery: number; errors: string[]; bytes: number; gatewayCpuMsPerQuery: number }> {
  const url = gateway.url;
  const walls: number[] = [];
  const errors = new Set<string>();
  let bytes = 0;
  await sim.reset();
  // The gateway's CPU time per query: unlike wall time, other work on the machine barely moves it.
  const cpuBefore = await gateway.child.call<NodeJS.CpuUsage>('cpuUsage');
  for (let i = 0; i < n; i++) {
    const r = await gql(url, query, undefined, 120_000);
    walls.push(r.ms);
    bytes = r.bytes;
    for (const code of errorCodes(r.result)) errors.add(code);
  }
  const cpuAfter = await gateway.child.call<NodeJS.CpuUsage>('cpuUsage');
  const gatewayCpuMsPerQuery = (cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system) / 1000 / n;
  // Mirror feed calls (long polls that ended meanwhile) are the mirror's, not the queries'.
  const routes = sumRoutes(await sim.stats());
  delete routes['POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx'];
  return { wall: summarize(walls), requestsPerQuery: total(routes) / n, errors: [...errors], bytes, gatewayCpuMsPerQuery };
}

console.log(`inventory mirror benchmark: ${size.vcenters} vCenters × ${size.clustersPerDatacenter} clusters × ${size.hostsPerCluster} hosts = ${fmt(hosts)} hosts, ${latencyMs} ms latency, ${reps} runs per query`);
const sim = await SimProcess.start({ size, latencyMs });
const result: Record<string, unknown> = { size, hosts, latencyMs, reps };
try {
  let heapWithout = Number.NaN;
  if (!values['mirror-only']) {
    // Without mirrors: the idle heap baseline and the live inventory query.
    const plain = await GatewayProcess.start(sim, {}, gatewayStart);
    try {
      await gql(plain.url, INVENTORY_QUERY, undefined, 120_000); // warm sessions
      result.withoutMirror = { inventoryQuery: await timed(plain, INVENTORY_QUERY, Math.min(reps, 3), sim) };
    } finally {
      await plain.close();
    }
    const idle = await GatewayProcess.start(sim, {}, gatewayStart);
    heapWithout = (await idle.child.memory(true)).heapUsed;
    await idle.close();
  }

  const started = performance.now();
  let lastLive = 0;
  const gateway = await GatewayProcess.start(sim, values.profile ? { cpuProfDir: resolve(values.profile) } : {}, { inventoryMirror: true, ...gatewayStart });
  try {
    for (;;) {
      const r = await gql(gateway.url, '{ vcenters { inventory { state since objectCount } } }');
      const states = (r.result.data?.vcenters ?? []) as { inventory: { state: string; since: string; objectCount: number } }[];
      if (states.length === size.vcenters && states.every((v) => v.inventory.state === 'LIVE')) {
        lastLive = Math.max(...states.map((v) => Date.parse(v.inventory.since)));
        break;
      }
      if (performance.now() - started > 300_000) throw new Error('mirrors not LIVE after 300 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    // From the gateway creating its mirrors to the last one turning LIVE (the gateway's own clock).
    const syncMs = lastLive - (await gateway.child.call<number>('createdAt'));
    const memory = await gateway.child.memory(true);
    const bytesPerHost = (memory.heapUsed - heapWithout) / hosts;
    await gql(gateway.url, FLEET_QUERY, undefined, 120_000); // warm REST sessions and pools
    await gateway.child.call('resetPeak');
    await gql(gateway.url, INVENTORY_QUERY, undefined, 120_000); // first execution: compiles (jit), warms caches
    const inventoryQuery = await timed(gateway, INVENTORY_QUERY, reps, sim);
    const fleetQuery = await timed(gateway, FLEET_QUERY, reps, sim);
    const after = await gateway.child.memory();
    result.withMirror = { initialSyncMs: syncMs, bytesPerHost, heapUsedMb: mb(memory.heapUsed), peakRssMb: mb(after.peakRss), inventoryQuery, fleetQuery };
  } finally {
    await gateway.close();
  }
} finally {
  await sim.close();
  await closeAgent();
}

const w = result.withMirror as any;
const wo = result.withoutMirror as any;
const ms = (n: number) => fmt(n, 0);
console.log(`\n| measure | figure | target |`);
console.log(`| --- | --- | --- |`);
console.log(`| initial sync of all ${size.vcenters} vCenters (mirrors created → the last one LIVE) | ${ms(w.initialSyncMs)} ms | < 30 s: ${w.initialSyncMs < 30_000 ? 'met' : 'not met'} |`);
console.log(`| fleet query with mirrors (p50 / p95 over ${reps}) | ${ms(w.fleetQuery.wall.median)} / ${ms(w.fleetQuery.wall.p95)} ms, gateway CPU ${ms(w.fleetQuery.gatewayCpuMsPerQuery)} ms per query, ${fmt(w.fleetQuery.requestsPerQuery, 1)} upstream requests | p50 < 3 s: ${w.fleetQuery.wall.median < 3_000 ? 'met' : 'not met'} |`);
console.log(`| inventory query with mirrors (p50 / p95 over ${reps}) | ${ms(w.inventoryQuery.wall.median)} / ${ms(w.inventoryQuery.wall.p95)} ms, gateway CPU ${ms(w.inventoryQuery.gatewayCpuMsPerQuery)} ms per query, ${fmt(w.inventoryQuery.requestsPerQuery, 1)} upstream requests | – |`);
if (wo) console.log(`| inventory query without mirrors (p50 over ${wo.inventoryQuery.wall.n}) | ${ms(wo.inventoryQuery.wall.median)} ms, ${fmt(wo.inventoryQuery.requestsPerQuery, 1)} upstream requests | – |`);
console.log(`| gateway peak RSS during the timed queries | ${fmt(w.peakRssMb)} MB | < 1 GB: ${w.peakRssMb < 1024 ? 'met' : 'not met'} |`);
if (wo) console.log(`| mirror heap per host (after GC, idle) | ${fmt(w.bytesPerHost)} bytes | reported |`);
const errors = [...new Set([...w.fleetQuery.errors, ...w.inventoryQuery.errors, ...(wo?.inventoryQuery.errors ?? [])])];
if (errors.length) console.log(`\nerrors: ${errors.join(', ')}`);
mkdirSync(resolve('bench/results'), { recursive: true });
writeFileSync(resolve(values.out!), JSON.stringify(result, null, 2));
console.log(`\nwritten to ${values.out}`);
