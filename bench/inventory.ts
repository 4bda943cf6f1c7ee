/**
 * Scenario 5: live inventory subscriptions. The simulator and a gateway with inventory mirrors
 * (`inventoryMirror: {}`) run in their own processes; once every vCenter's mirror is LIVE, N
 * subscribers follow `hostsChanged`, most multiplexed on a few graphql-ws connections (≤ 250
 * subscriptions per WebSocket, as scenario 2), some over SSE (one HTTP stream each). One in
 * four subscribers passes a HostFilter matching two of the fleet's six clusters, so the events
 * expected are not simply N × changes.
 *
 * Changes: a bounded sequence made through the simulator's own control, POST /_sim/inventory
 * on the vCenter concerned (enter/exit maintenance, disconnect/reconnect, build change), one
 * host at a time round-robin over every cluster, spaced by a seeded random 80–200 ms so some
 * land while the mirror's WaitForUpdatesEx waits and some between two waits. The simulator
 * answers each with `appliedAt`, the instant it applied the change; delay = the event's arrival
 * at the client (Date.now(), same machine clock, ms resolution) − appliedAt.
 *
 * Set-up is event-driven: a warm-up host (in a filtered cluster, so every subscriber sees it)
 * toggles maintenance mode until every subscriber has received one of its events, which proves
 * every subscription is established; its events are not measured. Counters of the simulator
 * are reset after that, so "upstream requests" counts the run's changes only.
 *
 * Checked per subscriber: every change it should see arrives exactly once (a second event of
 * the same host and mirror version is a duplicate), changes of one vCenter arrive in the order
 * the mirror applied them (a lower mirror version after a higher one is out of order; changes
 * that one WaitForUpdatesEx answer carried share a version), and nothing its filter excludes
 * arrives (unexpected).
 */
import { createClient } from 'graphql-ws';
import type { Client } from 'graphql-ws';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { readEventStream } from '../test/clients.ts';
import { GatewayProcess, SimProcess } from './procs.ts';
import { gql, percentile, sumRoutes, total } from './util.ts';

export interface DelaySummary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface InventoryRun {
  subscribers: number;
  overWebSocket: number;
  overSse: number;
  /** Subscribers whose HostFilter matches only the two filtered clusters' hosts. */
  filtered: number;
  /** Whether subscribers with the same filter sent the same document (so share one execution). */
  sharedDocuments: boolean;
  webSockets: number;
  changes: number;
  /** Of the changes, those the filter matches. */
  matchingChanges: number;
  /** Σ over subscribers of the changes each should receive. */
  expectedEvents: number;
  /** Events of measured changes received (first copies, duplicates and unexpected ones included). */
  deliveredEvents: number;
  /** Expected events that arrived (first copy). */
  matchedEvents: number;
  missing: number;
  duplicates: number;
  outOfOrder: number;
  /** Events a subscriber's filter excludes, or of no change made. */
  unexpected: number;
  delay: DelaySummary;
  delayWebSocket: DelaySummary;
  delaySse: DelaySummary;
  setupMs: number;
  /** Upstream requests (all routes, logins excluded) from the first measured change to the last delivery. */
  upstreamRequests: number;
  upstreamRoutes: Record<string, number>;
  /** CPU time of the gateway child per change (user + system). */
  gatewayCpuMsPerChange: number;
  errors: string[];
}

export interface InventoryResult {
  fleet: string;
  latencyMs: number;
  note: string;
  runs: InventoryRun[];
}

const SUBSCRIPTION = /* GraphQL */ `
  subscription Changes($filter: HostFilter) {
    hostsChanged(filter: $filter) { kind version host { id connectionState inMaintenanceMode product { build } } changes { field before after } }
  }
`;
const HOSTS = /* GraphQL */ `{ hosts(first: 1000) { nodes { id moId connectionState inMaintenanceMode product { build } cluster { id } vcenter { name } } } }`;
const MIRRORS = /* GraphQL */ `{ vcenters { name inventory { state } } }`;
/** Known ESXi builds (the simulator's catalog) a build change alternates between. */
const BUILDS = ['24022510', '24280767', '24414501', '24585383'];
const ACTIONS = ['enterMaintenance', 'exitMaintenance', 'disconnectHost', 'reconnectHost', 'setHostBuild'] as const;

interface HostChangeEvent {
  kind: string;
  version: number;
  host: { id: string };
}

interface Arrival {
  at: number;
  hostId: string;
  version: number;
}

interface Subscriber {
  index: number;
  sse: boolean;
  filtered: boolean;
  arrivals: Arrival[];
}

interface MadeChange {
  index: number;
  vcenter: string;
  hostId: string;
  appliedAt: number;
  matches: boolean;
}

interface FleetHost {
  id: string;
  moId: string;
  connectionState: string;
  inMaintenanceMode: boolean;
  product: { build: string } | null;
  cluster: { id: string } | null;
  vcenter: { name: string };
}

/** An error or close event of graphql-ws, as text (a CloseEvent has a code and reason, no message). */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const close = error as { code?: unknown; reason?: unknown } | null;
  if (close && typeof close.code === 'number') return `socket closed ${close.code}${close.reason ? ` (${String(close.reason)})` : ''}`;
  return JSON.stringify(error)?.slice(0, 200) ?? String(error);
}

const summary = (d: number[]): DelaySummary => ({ n: d.length, p50: percentile(d, 50), p99: percentile(d, 99), max: d.length ? Math.max(...d) : Number.NaN });

/** A seeded RNG (mulberry32): the same spacing of changes in every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const until = async (ok: () => boolean, ms: number, what: string, poke?: () => Promise<unknown>): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await (poke ? poke() : new Promise((r) => setTimeout(r, 20)));
  }
};

export async function measureInventory(opts: {
  subscribers: number[];
  /** Subscriber counts to measure again with a distinct document per subscriber (no shared execution). */
  distinctDocumentsAt?: number[];
  sse: number;
  changes: number;
  latencyMs: number;
  cpuProfDir?: string;
  log: (l: string) => void;
}): Promise<InventoryResult> {
  const result: InventoryResult = {
    fleet: '3 vCenters × 2 clusters × 8 hosts',
    latencyMs: opts.latencyMs,
    note:
      'Delay = arrival at the client − the instant the simulator applied the change (appliedAt, returned by POST /_sim/inventory). ' +
      'The simulator answers the mirror\'s waiting WaitForUpdatesEx at that instant plus the injected latency; a change made while the next wait is on its way pays up to two latencies. ' +
      'Missing = expected events not arrived 30 s after the last change. Expected = Σ subscribers × the changes each one\'s filter matches (one in four subscribers filters on two of the six clusters). ' +
      'Subscribers with the same filter send the same document and share one execution (src/graphql/shared-subscriptions.ts), except in the row marked "each its own document" (operation Changes<i>).',
    runs: [],
  };
  const plan = [...opts.subscribers.map((n) => ({ n, shared: true })), ...(opts.distinctDocumentsAt ?? []).map((n) => ({ n, shared: false }))];
  for (const { n, shared } of plan) result.runs.push(await oneRun(n, shared, opts));
  return result;
}

async function oneRun(n: number, sharedDocuments: boolean, opts: { sse: number; changes: number; latencyMs: number; cpuProfDir?: string; log: (l: string) => void }): Promise<InventoryRun> {
  const label = `[inventory] N=${n}${sharedDocuments ? '' : ' (distinct documents)'}`;
  const profile = (role: string) => (opts.cpuProfDir ? { cpuProfDir: `${opts.cpuProfDir}/inventory-${n}${sharedDocuments ? '' : '-distinct'}/${role}` } : {});
  const sim = await SimProcess.start({ size: { vcenters: 3, datacentersPerVcenter: 1, clustersPerDatacenter: 2, hostsPerCluster: 8 }, latencyMs: opts.latencyMs }, profile('simulator'));
  const simAgent = new Agent(sim.info.caPem ? { connect: { ca: sim.info.caPem } } : {});
  let gw: GatewayProcess | undefined;
  const clients: Client[] = [];
  const sseStreams = new AbortController();
  const errors: string[] = [];
  try {
    gw = await GatewayProcess.start(sim, profile('gateway'), { inventoryMirror: true });
    const gatewayUrl = gw.url;
    const vcUrl = new Map(sim.info.vcenters.map((v) => [v.name, v.url]));
    const change = async (vcenter: string, body: Record<string, string>): Promise<number> => {
      const res = await request(`${vcUrl.get(vcenter)}/_sim/inventory`, { method: 'POST', dispatcher: simAgent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await res.body.json()) as { appliedAt?: number; error?: string };
      if (res.statusCode !== 200 || typeof json.appliedAt !== 'number') throw new Error(`/_sim/inventory ${JSON.stringify(body)}: ${res.statusCode} ${json.error ?? ''}`);
      return json.appliedAt;
    };

    // Every mirror LIVE (it reads each vCenter's inventory once, then follows its change feed).
    let live = false;
    await until(() => live, 60_000, 'mirrors LIVE', async () => {
      const r = await gql(gatewayUrl, MIRRORS);
      const vcs = (r.result.data?.vcenters ?? []) as { inventory: { state: string } | null }[];
      live = vcs.length === sim.info.vcenters.length && vcs.every((v) => v.inventory?.state === 'LIVE');
      if (!live) await new Promise((res) => setTimeout(res, 50));
    });

    // Hosts by cluster; the filter covers the first cluster of the first two vCenters.
    const hosts = ((await gql(gatewayUrl, HOSTS)).result.data?.hosts?.nodes ?? []) as FleetHost[];
    const byCluster = new Map<string, FleetHost[]>();
    for (const h of hosts) if (h.cluster && h.connectionState === 'CONNECTED' && !h.inMaintenanceMode) byCluster.set(h.cluster.id, [...(byCluster.get(h.cluster.id) ?? []), h]);
    const clusterIds = [...byCluster.keys()];
    const vcenterNames = sim.info.vcenters.map((v) => v.name);
    const firstClusterOf = (vc: string) => clusterIds.find((c) => byCluster.get(c)![0]!.vcenter.name === vc)!;
    const filterClusters = new Set([firstClusterOf(vcenterNames[0]!), firstClusterOf(vcenterNames[1]!)]);
    const filter = { clusterIds: [...filterClusters] };
    // The warm-up host is never changed by the measured sequence.
    const warmup = byCluster.get([...filterClusters][0]!)!.shift()!;

    // ---- subscribe ----
    const overSse = Math.min(opts.sse, n);
    const overWs = n - overSse;
    const perSocket = 250;
    const sockets = Math.min(20, Math.ceil(overWs / perSocket));
    const wsUrl = gatewayUrl.replace(/^http/, 'ws');
    for (let i = 0; i < sockets; i++) {
      clients.push(createClient({ url: wsUrl, webSocketImpl: WebSocket, lazy: false, retryAttempts: 0, onNonLazyError: (e) => errors.push(`socket: ${describe(e)}`) }));
    }
    const subscribers: Subscriber[] = [];
    const onEvent = (s: Subscriber) => (msg: { data?: { hostsChanged?: HostChangeEvent } | null; errors?: readonly { message: string }[] }) => {
      const at = Date.now();
      if (msg.errors?.length) errors.push(msg.errors[0]!.message);
      const e = msg.data?.hostsChanged;
      if (e) s.arrivals.push({ at, hostId: e.host.id, version: e.version });
    };
    const setupStart = Date.now();
    for (let i = 0; i < n; i++) {
      const s: Subscriber = { index: i, sse: i >= overWs, filtered: i % 4 === 3, arrivals: [] };
      subscribers.push(s);
      const query = sharedDocuments ? SUBSCRIPTION : SUBSCRIPTION.replace('subscription Changes', `subscription Changes${i}`);
      const variables = s.filtered ? { filter } : {};
      if (s.sse) {
        void fetch(gatewayUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ query, variables }),
          signal: sseStreams.signal,
        })
          .then((response) => readEventStream(response, onEvent(s)))
          .catch((error: unknown) => {
            if (!sseStreams.signal.aborted) errors.push(`sse: ${error instanceof Error ? error.message : String(error)}`);
          });
      } else {
        clients[i % sockets]!.subscribe<{ hostsChanged: HostChangeEvent }>(
          { query, variables },
          { next: onEvent(s), error: (err) => errors.push(describe(err)), complete: () => undefined },
        );
      }
    }
    // Every subscription is established once it has seen a warm-up change: toggle until then.
    let warmupInMaintenance = false;
    const seenWarmup = () => subscribers.every((s) => s.arrivals.some((a) => a.hostId === warmup.id));
    await until(seenWarmup, 60_000, `${n} subscriptions established`, async () => {
      warmupInMaintenance = !warmupInMaintenance;
      await change(warmup.vcenter.name, { action: warmupInMaintenance ? 'enterMaintenance' : 'exitMaintenance', host: warmup.moId });
      const deadline = Date.now() + 1_000;
      while (!seenWarmup() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    });
    const setupMs = Date.now() - setupStart;
    // Let the last warm-up change reach everyone, so none of its work falls in the measured window.
    await new Promise((r) => setTimeout(r, 300));
    await sim.reset();
    opts.log(`  ${label}: ${n} subscribers (${overWs} over ${sockets} WebSocket(s), ${overSse} over SSE, ${subscribers.filter((s) => s.filtered).length} filtered) established in ${setupMs} ms`);

    // ---- changes ----
    // Round-robin over the clusters: consecutive changes hit different clusters and vCenters.
    const rows = Math.max(...clusterIds.map((c) => byCluster.get(c)!.length));
    const order = Array.from({ length: rows }, (_, k) => clusterIds.map((c) => byCluster.get(c)![k])).flat().filter((h): h is FleetHost => h !== undefined);
    const step = new Map<string, number>();
    const build = new Map(hosts.map((h) => [h.id, h.product?.build ?? '']));
    const random = rng(12);
    const made: MadeChange[] = [];
    const cpuBefore = await gw.child.call<NodeJS.CpuUsage>('cpuUsage');
    for (let k = 0; k < opts.changes; k++) {
      const host = order[k % order.length]!;
      const s = step.get(host.id) ?? 0;
      step.set(host.id, s + 1);
      const action = ACTIONS[s % ACTIONS.length]!;
      const body: Record<string, string> = { action, host: host.moId };
      if (action === 'setHostBuild') {
        const next = BUILDS.find((b) => b !== build.get(host.id))!;
        build.set(host.id, next);
        body['build'] = next;
      }
      const appliedAt = await change(host.vcenter.name, body);
      made.push({ index: k, vcenter: host.vcenter.name, hostId: host.id, appliedAt, matches: filterClusters.has(host.cluster!.id) });
      await new Promise((r) => setTimeout(r, 80 + Math.floor(random() * 120)));
    }
    const matchingChanges = made.filter((c) => c.matches).length;
    const expectedOf = (s: Subscriber) => (s.filtered ? matchingChanges : made.length);
    const expectedEvents = subscribers.reduce((sum, s) => sum + expectedOf(s), 0);
    const measuredArrivals = () => subscribers.reduce((sum, s) => sum + s.arrivals.filter((a) => a.hostId !== warmup.id).length, 0);
    // Late events count as missing: a subscriber waits at most 30 s after the last change.
    await until(() => measuredArrivals() >= expectedEvents, 30_000, 'every expected event').catch((e: Error) => errors.push(e.message));
    // A short grace for duplicates or stragglers (none expected), then the window closes.
    await new Promise((r) => setTimeout(r, 300));
    const cpuAfter = await gw.child.call<NodeJS.CpuUsage>('cpuUsage');
    const routes = sumRoutes(await sim.stats());

    // ---- check and measure ----
    const changesOfHost = new Map<string, MadeChange[]>();
    for (const c of made) changesOfHost.set(c.hostId, [...(changesOfHost.get(c.hostId) ?? []), c]);
    let delivered = 0;
    let matched = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    let unexpected = 0;
    const delays: { sse: boolean; delay: number }[] = [];
    for (const s of subscribers) {
      const seen = new Set<string>();
      const nth = new Map<string, number>();
      const lastVersionOfVcenter = new Map<string, number>();
      for (const a of s.arrivals) {
        if (a.hostId === warmup.id) continue;
        delivered++;
        const key = `${a.hostId}@${a.version}`;
        if (seen.has(key)) {
          duplicates++;
          continue;
        }
        seen.add(key);
        // The k-th event of a host is its k-th change: a host's changes are spaced by ≥ 6 others.
        const k = nth.get(a.hostId) ?? 0;
        nth.set(a.hostId, k + 1);
        const c = changesOfHost.get(a.hostId)?.[k];
        if (!c || (s.filtered && !c.matches)) {
          unexpected++;
          continue;
        }
        matched++;
        // Changes one vCenter reported in one update share a mirror version and come in any
        // order among themselves; an older version after a newer one is out of order.
        const last = lastVersionOfVcenter.get(c.vcenter) ?? -1;
        if (a.version < last) outOfOrder++;
        else lastVersionOfVcenter.set(c.vcenter, a.version);
        delays.push({ sse: s.sse, delay: a.at - c.appliedAt });
      }
    }
    const all = delays.map((d) => d.delay);
    const run: InventoryRun = {
      subscribers: n,
      overWebSocket: overWs,
      overSse,
      filtered: subscribers.filter((s) => s.filtered).length,
      sharedDocuments,
      webSockets: sockets,
      changes: made.length,
      matchingChanges,
      expectedEvents,
      deliveredEvents: delivered,
      matchedEvents: matched,
      missing: expectedEvents - matched,
      duplicates,
      outOfOrder,
      unexpected,
      delay: summary(all),
      delayWebSocket: summary(delays.filter((d) => !d.sse).map((d) => d.delay)),
      delaySse: summary(delays.filter((d) => d.sse).map((d) => d.delay)),
      setupMs,
      upstreamRequests: total(routes),
      upstreamRoutes: routes,
      gatewayCpuMsPerChange: (cpuAfter.user - cpuBefore.user + cpuAfter.system - cpuBefore.system) / 1000 / made.length,
      errors: [...new Set(errors)].slice(0, 10),
    };
    opts.log(
      `  ${label}: ${made.length} changes (${matchingChanges} filtered-in), events expected ${expectedEvents} delivered ${delivered} (missing ${run.missing}, duplicates ${duplicates}, out of order ${outOfOrder}, unexpected ${unexpected}); ` +
        `delay p50 ${run.delay.p50} ms p99 ${run.delay.p99} ms max ${run.delay.max} ms over ${run.delay.n}; upstream requests ${run.upstreamRequests}; gateway CPU ${run.gatewayCpuMsPerChange.toFixed(1)} ms/change`,
    );
    return run;
  } finally {
    sseStreams.abort();
    await Promise.allSettled(clients.map((c) => c.dispose()));
    await gw?.close();
    await sim.close();
    await simAgent.close();
  }
}
