/**
 * Entry point of the benchmark's child processes (forked by bench/procs.ts, never run by hand).
 * `argv[2]` is the role:
 *  - `sim`: the vCenter simulator (its own process, like a vCenter on another machine, so its
 *    CPU does not count against the gateway);
 *  - `gateway`: the gateway exactly as `createGateway` builds it;
 *  - `bare`: a bare graphql-yoga server answering the engine-overhead query from static data;
 *  - `floor`: a bare graphql-yoga server with the gateway's own SDL and default resolvers over one
 *    captured fleet answer: the same query, schema and response from memory (the floor's CPU part);
 *  - `peer`: the Mesh-style peer over the vCenter REST OpenAPI spec (bench/peer.ts).
 * The driver talks to each over Node IPC: `{ id, cmd, args }` → `{ id, ok, result | error }`.
 * Memory figures come from the child's own `process.memoryUsage()` (with `--expose-gc`, a full
 * GC first when asked), sampled every 20 ms for peaks.
 */
import { createServer } from 'node:http';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { RpcRequest, RpcResponse, MemorySample, SimStart, SimInfo, GatewayStart } from './protocol.ts';

const role = process.argv[2];
type Handler = (args: any) => unknown;
const handlers = new Map<string, Handler>();
let closeRole: () => Promise<void> = async () => {};

// ---------- memory ----------
const gc = (globalThis as { gc?: () => void }).gc;
let peakRss = 0;
let peakHeap = 0;
const sampleMemory = (): void => {
  const m = process.memoryUsage();
  if (m.rss > peakRss) peakRss = m.rss;
  if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
};
const sampler = setInterval(sampleMemory, 20);
sampler.unref();

handlers.set('memory', (args: { gc?: boolean } = {}): MemorySample => {
  if (args.gc && gc) {
    gc();
    gc();
  }
  sampleMemory();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, peakRss, peakHeap };
});
handlers.set('resetPeak', () => {
  const m = process.memoryUsage();
  peakRss = m.rss;
  peakHeap = m.heapUsed;
  return null;
});
handlers.set('cpuUsage', () => process.cpuUsage());

// ---------- roles ----------
if (role === 'sim') {
  handlers.set('start', async (opts: SimStart): Promise<SimInfo> => {
    const mod = (await import('../src/simulator/index.ts')) as typeof import('../src/simulator/index.ts') & { DEPOT_URLS?: unknown };
    const sim = await mod.startSimulator({
      seed: 1,
      size: opts.size,
      latencyMs: opts.latencyMs,
      ...(opts.patchScanDurationMs !== undefined ? { patchScanDurationMs: opts.patchScanDurationMs } : {}),
    });
    handlers.set('stats', () => sim.vcenters.map((v) => v.stats()));
    handlers.set('reset', () => {
      for (const v of sim.vcenters) v.resetStats();
      return null;
    });
    handlers.set('setLatency', (ms: number) => {
      for (const v of sim.vcenters) v.setLatency(ms);
      return null;
    });
    handlers.set('hosts', () =>
      sim.vcenters.map((v) => ({ vcenter: v.name, hosts: v.inventory.hosts.map((h) => ({ moId: h.moId, connectionState: h.connectionState })) })),
    );
    closeRole = () => sim.close();
    const depot = mod.DEPOT_URLS;
    const depotUrls = Array.isArray(depot) ? depot.map(String) : depot && typeof depot === 'object' ? Object.values(depot).map(String) : undefined;
    return {
      vcenters: sim.vcenters.map((v) => ({ name: v.name, url: v.url, hosts: v.inventory.hosts.length, clusters: v.inventory.clusters.length })),
      caPem: sim.caPem,
      username: sim.username,
      password: sim.password,
      ...(depotUrls ? { depotUrls } : {}),
    };
  });
} else if (role === 'gateway') {
  // Bench-only instrumentation: count TLS secure contexts built (one per new upstream TLS
  // connection when the client passes `ca` instead of a shared secureContext) and their cost.
  const tlsCounter = { contexts: 0, ms: 0 };
  const original = tls.createSecureContext;
  (tls as { createSecureContext: typeof tls.createSecureContext }).createSecureContext = (options) => {
    const t = performance.now();
    try {
      return original(options);
    } finally {
      tlsCounter.contexts++;
      tlsCounter.ms += performance.now() - t;
    }
  };
  handlers.set('tlsStats', (args: { reset?: boolean } = {}) => {
    const out = { ...tlsCounter };
    if (args.reset) Object.assign(tlsCounter, { contexts: 0, ms: 0 });
    return out;
  });
  handlers.set('start', async (opts: GatewayStart): Promise<string> => {
    const { createGateway } = await import('../src/gateway.ts');
    const createdAt = Date.now();
    const createdCpu = process.cpuUsage();
    handlers.set('createdAt', () => createdAt);
    // CPU the gateway spent since it created its mirrors (µs, user + system).
    handlers.set('cpuSinceCreated', () => {
      const d = process.cpuUsage(createdCpu);
      return d.user + d.system;
    });
    const { withoutCallerLimits } = await import('../src/auth/config.ts');
    // In front of the simulator, as `npm start` is: its depots are allowed.
    const { DEPOT_URLS } = await import('../src/simulator/index.ts');
    // The benchmarks load the engine from one address on purpose: per-caller limits out of the way.
    const gateway = createGateway({
      vcenters: opts.vcenters,
      graphiql: false,
      auth: withoutCallerLimits(),
      depots: { allow: DEPOT_URLS },
      ...(opts.inventoryMirror ? { inventoryMirror: {} } : {}),
      ...(opts.jit !== undefined ? { jit: opts.jit } : {}),
    });
    // Per vCenter, when its mirror turned LIVE and when it applied the filter's first report
    // (feedVersion set): the sync breakdown of bench/mirror.ts.
    const timeline = new Map<string, { live?: number; firstReport?: number; objectCount?: number }>();
    for (const mirror of gateway.mirrors?.list() ?? []) {
      const entry: { live?: number; firstReport?: number; objectCount?: number } = {};
      timeline.set(mirror.vcenter, entry);
      mirror.onUpdate((status) => {
        if (status.state === 'LIVE' && entry.live === undefined) entry.live = Date.now();
        if (status.feedVersion !== '' && entry.firstReport === undefined) {
          entry.firstReport = Date.now();
          entry.objectCount = status.objectCount;
        }
      });
    }
    handlers.set('mirrorTimeline', () => Object.fromEntries(timeline));
    const url = await gateway.listen(0, '127.0.0.1');
    // Production waits for nothing, but timing a query while the mirrors still sync would
    // measure the sync: resolve once every vCenter's mirror is LIVE.
    handlers.set('untilLive', (timeoutMs: number) => Promise.all((gateway.mirrors?.list() ?? []).map((m) => m.until((s) => s.state === 'LIVE', timeoutMs))).then((l) => l.length));
    handlers.set('diagnostics', () => gateway.upstreams.list.map((c) => ({ name: c.name, ...c.diagnostics() })));
    closeRole = () => gateway.close(1_000);
    return url;
  });
} else if (role === 'bare') {
  handlers.set('start', async (opts: { vcenters: { name: string; about: Record<string, string> }[] }): Promise<string> => {
    const { createSchema, createYoga } = await import('graphql-yoga');
    const typeDefs = /* GraphQL */ `
      type About { version: String! build: String! apiVersion: String! }
      type VCenter { name: String! about: About! }
      type Query { vcenters: [VCenter!]! }
    `;
    const data = opts.vcenters;
    const yoga = createYoga({
      schema: createSchema({ typeDefs, resolvers: { Query: { vcenters: () => data } } }),
      graphqlEndpoint: '/graphql',
      landingPage: false,
      graphiql: false,
      logging: false,
    });
    return listen(createServer(yoga));
  });
} else if (role === 'floor') {
  handlers.set('start', async (opts: { data: unknown }): Promise<string> => {
    const { createSchema, createYoga } = await import('graphql-yoga');
    const { loadTypeDefs } = await import('../src/graphql/yoga.ts');
    // Default resolvers read the captured answer's fields by name: no gateway code runs.
    const query = Object.fromEntries(Object.entries(opts.data as Record<string, unknown>).map(([field, value]) => [field, () => value]));
    const yoga = createYoga({
      schema: createSchema({ typeDefs: loadTypeDefs(), resolvers: { Query: query } }),
      graphqlEndpoint: '/graphql',
      landingPage: false,
      graphiql: false,
      logging: false,
    });
    return listen(createServer(yoga));
  });
} else if (role === 'peer') {
  handlers.set('start', async (opts: import('./peer.ts').PeerStart): Promise<{ url: string; prefixes: string[] }> => {
    const { startPeer } = await import('./peer.ts');
    const peer = await startPeer(opts);
    closeRole = peer.close;
    return { url: peer.url, prefixes: peer.prefixes };
  });
} else {
  console.error(`bench/child.ts: unknown role ${String(role)}`);
  process.exit(2);
}

/** Serves on an ephemeral port of 127.0.0.1; closing the role closes the server. */
async function listen(server: import('node:http').Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closeRole = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

handlers.set('close', async () => {
  await closeRole();
  setImmediate(() => process.exit(0));
  return null;
});

process.on('message', (msg: RpcRequest) => {
  const handler = handlers.get(msg.cmd);
  const reply = (r: RpcResponse): void => {
    process.send?.(r);
  };
  if (!handler) {
    reply({ id: msg.id, ok: false, error: `unknown command ${msg.cmd} for role ${role}` });
    return;
  }
  Promise.resolve()
    .then(() => handler(msg.args))
    .then(
      (result) => reply({ id: msg.id, ok: true, result: result ?? null }),
      (err: unknown) => reply({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
});
// The driver going away must never leave a child behind.
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, result: 'ready' } satisfies RpcResponse);
