/**
 * The inventory mirror at fleet scale (issue 12): `npm run bench:mirror -- [--vcenters 15]
 * [--clusters 26] [--hosts 96] [--latency 20] [--reps 7] [--jit|--no-jit] [--mirror-only] [--profile DIR] [--heap-mb N]`. The simulator runs in its own
 * process, the gateway in another, as `npm run bench` does.
 *
 * Measured: initial sync of every vCenter (from the gateway creating its mirrors to the last
 * one's LIVE `since`, both on the gateway's clock), the fleet query and an
 * inventory-only query (clusters and hosts, no installed images) with the mirror and, for
 * the inventory query, without it; upstream requests per warm query; gateway RSS; mirror
 * heap bytes per host (after GC, idle, before any query: the gateway with mirrors minus the
 * same gateway without).
 *
 * The sync is broken down per vCenter (when its mirror turned LIVE and when it had applied
 * the filter's first report), with the CPU time the gateway and the simulator spent on it.
 * `--sync-only` stops after the sync and the heap figure (no queries); `--profile DIR` writes a
 * V8 CPU profile of the simulator and of the mirrored gateway into DIR
 * (`npx tsx bench/profile-summary.ts DIR`).
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
    'sync-only': { type: 'boolean', default: false },
    /** Gateway with graphql-jit (bench/child.ts jitPlugin); --no-jit: without. */
    jit: { type: 'boolean' },
    /** Skip the gateway without mirrors (idle heap and the live query): for iterating on query speed. */
    'mirror-only': { type: 'boolean', default: false },
    /** Write a CPU profile of the gateway with mirrors into this directory (summarise with bench/profile-summary.ts). */
    profile: { type: 'string' },
    /** The mirrored gateway's V8 old-space limit in MB (what NODE_OPTIONS sets in deploy/kubernetes). */
    'heap-mb': { type: 'string' },
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
    let r: Awaited<ReturnType<typeof gql>>;
    try {
      r = await gql(url, query, undefined, 120_000);
    } catch (error) {
      // A connection lost mid-answer is that run's failure, reported with the others, not the end of the benchmark.
      errors.add(`client: ${(error as { code?: string }).code ?? String(error)}`);
      continue;
    }
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
const syncOnly = values['sync-only']!;
const profileDir = values.profile ? resolve(values.profile) : undefined;
const profiled = profileDir ? { cpuProfDir: profileDir } : {};
const sim = await SimProcess.start({ size, latencyMs }, profiled);
const result: Record<string, unknown> = { size, hosts, latencyMs, reps };
type Timeline = Record<string, { live?: number; firstReport?: number; objectCount?: number }>;
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
try {
  let heapWithout = Number.NaN;
  if (!syncOnly && !values['mirror-only']) {
    // Without mirrors: the live inventory query.
    const plain = await GatewayProcess.start(sim, {}, gatewayStart);
    try {
      await gql(plain.url, INVENTORY_QUERY, undefined, 120_000); // warm sessions
      result.withoutMirror = { inventoryQuery: await timed(plain, INVENTORY_QUERY, Math.min(reps, 3), sim) };
    } finally {
      await plain.close();
    }
  }
  if (!values['mirror-only']) {
    // The idle heap baseline.
    const idle = await GatewayProcess.start(sim, {}, gatewayStart);
    heapWithout = (await idle.child.memory(true)).heapUsed;
    await idle.close();
  }

  const started = performance.now();
  const simCpuBefore = await sim.child.call<NodeJS.CpuUsage>('cpuUsage');
  const heapLimit = values['heap-mb'] ? { maxOldSpaceMb: Number(values['heap-mb']) } : {};
  const gateway = await GatewayProcess.start(sim, { ...profiled, ...heapLimit }, { inventoryMirror: true, ...gatewayStart });
  try {
    // Synced: every mirror LIVE and its filter's first report applied (the mirror follows the feed).
    let timeline: Timeline;
    for (;;) {
      timeline = await gateway.child.call<Timeline>('mirrorTimeline');
      const entries = Object.values(timeline);
      if (entries.length === size.vcenters && entries.every((e) => e.live !== undefined && e.firstReport !== undefined)) break;
      if (performance.now() - started > 300_000) throw new Error(`mirrors not synced after 300 s: ${JSON.stringify(timeline)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const gatewayCpuMs = (await gateway.child.call<number>('cpuSinceCreated')) / 1000;
    const simCpuMs = cpuMs(await sim.child.call<NodeJS.CpuUsage>('cpuUsage')) - cpuMs(simCpuBefore);
    // Every time from the gateway creating its mirrors (the gateway's own clock).
    const createdAt = await gateway.child.call<number>('createdAt');
    const perVcenter = Object.entries(timeline).map(([vcenter, e]) => ({ vcenter, liveMs: e.live! - createdAt, firstReportMs: e.firstReport! - createdAt, objects: e.objectCount }));
    const syncMs = Math.max(...perVcenter.map((v) => Math.max(v.liveMs, v.firstReportMs)));
    const lastLiveMs = Math.max(...perVcenter.map((v) => v.liveMs));
    const memory = await gateway.child.memory(true);
    const bytesPerHost = (memory.heapUsed - heapWithout) / hosts;
    const sync = { syncMs, lastLiveMs, gatewayCpuMs, simCpuMs, perVcenter, rssAfterSyncMb: mb(memory.rss), heapUsedMb: mb(memory.heapUsed), bytesPerHost };
    result.sync = sync;
    printSync(sync);
    result.withMirror = { initialSyncMs: syncMs, bytesPerHost, heapUsedMb: mb(memory.heapUsed) };
    if (!syncOnly) {
      await gql(gateway.url, FLEET_QUERY, undefined, 120_000); // warm REST sessions and pools
      await gateway.child.call('resetPeak');
      await gql(gateway.url, INVENTORY_QUERY, undefined, 120_000); // first execution: compiles (jit), warms caches
      const inventoryQuery = await timed(gateway, INVENTORY_QUERY, reps, sim);
      const fleetQuery = await timed(gateway, FLEET_QUERY, reps, sim);
      const after = await gateway.child.memory();
      result.withMirror = { initialSyncMs: syncMs, bytesPerHost, heapUsedMb: mb(memory.heapUsed), peakRssMb: mb(after.peakRss), inventoryQuery, fleetQuery };
    }
  } finally {
    await gateway.close();
  }
} finally {
  await sim.close();
  await closeAgent();
  writeResult();
}

function printSync(s: { syncMs: number; lastLiveMs: number; gatewayCpuMs: number; simCpuMs: number; perVcenter: { vcenter: string; liveMs: number; firstReportMs: number; objects: number | undefined }[]; rssAfterSyncMb: number; bytesPerHost: number }): void {
  console.log(`\n| vCenter | LIVE at | first feed report applied at | objects |`);
  console.log(`| --- | --- | --- | --- |`);
  for (const v of [...s.perVcenter].sort((a, b) => a.firstReportMs - b.firstReportMs)) {
    console.log(`| ${v.vcenter} | ${fmt(v.liveMs, 0)} ms | ${fmt(v.firstReportMs, 0)} ms | ${fmt(v.objects ?? 0)} |`);
  }
  console.log(`\nsync of ${size.vcenters} vCenters: ${fmt(s.syncMs, 0)} ms (last LIVE at ${fmt(s.lastLiveMs, 0)} ms); CPU during it: gateway ${fmt(s.gatewayCpuMs, 0)} ms, simulator ${fmt(s.simCpuMs, 0)} ms; gateway RSS after sync ${fmt(s.rssAfterSyncMb)} MB, mirror heap ${fmt(s.bytesPerHost)} bytes/host`);
}

function writeResult(): void {
  mkdirSync(resolve('bench/results'), { recursive: true });
  writeFileSync(resolve(values.out!), JSON.stringify(result, null, 2));
}

if (syncOnly) process.exit(0);
const w = result.withMirror as any;
const wo = result.withoutMirror as any;
const ms = (n: number) => fmt(n, 0);
console.log(`\n| measure | figure | target |`);
console.log(`| --- | --- | --- |`);
console.log(`| initial sync of all ${size.vcenters} vCenters (mirrors created → the last one LIVE with the feed's first report applied) | ${ms(w.initialSyncMs)} ms | < 30 s: ${w.initialSyncMs < 30_000 ? 'met' : 'not met'} |`);
console.log(`| fleet query with mirrors (p50 / p95 over ${reps}) | ${ms(w.fleetQuery.wall.median)} / ${ms(w.fleetQuery.wall.p95)} ms, gateway CPU ${ms(w.fleetQuery.gatewayCpuMsPerQuery)} ms per query, ${fmt(w.fleetQuery.requestsPerQuery, 1)} upstream requests | p50 < 3 s: ${w.fleetQuery.wall.median < 3_000 ? 'met' : 'not met'} |`);
console.log(`| inventory query with mirrors (p50 / p95 over ${reps}) | ${ms(w.inventoryQuery.wall.median)} / ${ms(w.inventoryQuery.wall.p95)} ms, gateway CPU ${ms(w.inventoryQuery.gatewayCpuMsPerQuery)} ms per query, ${fmt(w.inventoryQuery.requestsPerQuery, 1)} upstream requests | – |`);
if (wo) console.log(`| inventory query without mirrors (p50 over ${wo.inventoryQuery.wall.n}) | ${ms(wo.inventoryQuery.wall.median)} ms, ${fmt(wo.inventoryQuery.requestsPerQuery, 1)} upstream requests | – |`);
console.log(`| gateway peak RSS during the timed queries | ${fmt(w.peakRssMb)} MB | < 1 GB: ${w.peakRssMb < 1024 ? 'met' : 'not met'} |`);
if (wo) console.log(`| mirror heap per host (after GC, idle) | ${fmt(w.bytesPerHost)} bytes | reported |`);
const errors = [...new Set([...w.fleetQuery.errors, ...w.inventoryQuery.errors, ...(wo?.inventoryQuery.errors ?? [])])];
if (errors.length) console.log(`\nerrors: ${errors.join(', ')}`);
console.log(`\nwritten to ${values.out}`);
