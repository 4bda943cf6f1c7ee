/**
 * The same limits on every transport: what HTTP refuses is refused over WebSocket too (per
 * operation, without closing the socket), cost counts variable values, a client that stops
 * reading is cut off, and the gateway refuses connections beyond its cap clearly.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import type { Socket } from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEPOT_URLS } from '../src/simulator/index.ts';
import { sseSubscribe } from './clients.ts';
import { eventually, requestsWithoutLogins, startHarness } from './harness.ts';
import type { GraphQLResponse, Harness } from './harness.ts';

/** A graphql-ws connection driven message by message (no client library smoothing things over). */
interface RawSocket {
  ws: WebSocket;
  /** Resolves with the first message for `id` (next, error or complete) not yet taken. */
  take(id: string, ms?: number): Promise<any>;
  subscribe(id: string, query: string, variables?: Record<string, unknown>): void;
  closed: Promise<number>;
}

async function rawSocket(url: string): Promise<RawSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const inbox: any[] = [];
  const waiters = new Set<() => void>();
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('message', (data) => {
    inbox.push(JSON.parse(String(data)));
    waiters.forEach((w) => w());
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'connection_init' }));
  const take = (id: string | undefined, ms = 10_000) =>
    new Promise<any>((resolve, reject) => {
      const check = () => {
        const at = inbox.findIndex((m) => (id === undefined ? m.type === 'connection_ack' : m.id === id));
        if (at < 0) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(inbox.splice(at, 1)[0]);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no message for ${id ?? 'ack'} within ${ms} ms`));
      }, ms);
      waiters.add(check);
      check();
    });
  await take(undefined);
  return {
    ws,
    take,
    closed,
    subscribe: (id, query, variables) => ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
  };
}

async function post(h: Harness, body: unknown): Promise<{ status: number; body: GraphQLResponse }> {
  const response = await fetch(h.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse };
}

const execFileAsync = promisify(execFile);
const codesOf = (errors: { extensions?: Record<string, any> }[] | undefined) => (errors ?? []).map((e) => e.extensions?.['code']);
const COSTLY = `query($n: Int) { clusters(first: $n) { nodes { hosts(first: $n) { nodes { name product { build } } } } } }`;
const deepIntrospection = (levels: number) => `{ __schema { types { fields { type { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } } } } }`;
/** Typos that graphql-js answers with a suggestion, as literals and as variables. */
const SUGGESTION_BAIT: { query: string; variables?: Record<string, unknown> }[] = [
  { query: '{ clusterz { totalCount } }' },
  { query: '{ hosts(filter: { connectionStates: [CONECTED] }) { totalCount } }' },
  { query: '{ hosts(filter: { nameContain: "x" }) { totalCount } }' },
  { query: 'query($f: HostFilter) { hosts(filter: $f) { totalCount } }', variables: { f: { connectionStates: ['CONECTED'] } } },
  { query: 'query($f: HostFilter) { hosts(filter: $f) { totalCount } }', variables: { f: { nameContain: 'x' } } },
];

describe('query limits, over HTTP and WebSocket alike', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 2, hostsPerCluster: 2 } });
    await h.gql(`{ vcenters { name } clusters { totalCount } }`);
  });
  afterAll(() => h?.close());

  it('costs `first: $n` by the variable’s value: n = 1000 is refused like the literal, before any upstream call', async () => {
    const vc = h.sim.vcenters[0]!;
    vc.resetStats();
    const refused = await post(h, { query: COSTLY, variables: { n: 1000 } });
    expect(refused.status).toBe(400);
    expect(codesOf(refused.body.errors)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(refused.body.data ?? null).toBeNull();
    const socket = await rawSocket(h.url);
    socket.subscribe('1', COSTLY, { n: 1000 });
    const overWs = await socket.take('1');
    expect(codesOf(overWs.payload.errors ?? overWs.payload)).toEqual(['QUERY_TOO_COMPLEX']);
    socket.ws.close();
    expect(requestsWithoutLogins(vc.stats())).toBe(0);
    // The same document with a small n runs.
    const small = await post(h, { query: COSTLY, variables: { n: 2 } });
    expect(small.body.errors).toBeUndefined();
    expect(small.body.data!.clusters.nodes).toHaveLength(2);
  });

  it('counts directives on fragment spreads', async () => {
    const spreads = Array.from({ length: 40 }, () => '...Name @include(if: true)').join(' ');
    const res = await post(h, { query: `{ vcenters { ${spreads} } } fragment Name on VCenter { name }` });
    expect(res.status).toBe(400);
    expect(codesOf(res.body.errors)).toEqual(['TOO_MANY_DIRECTIVES']);
  });

  it('bounds the depth of introspection, and GraphiQL’s own introspection query still passes', async () => {
    const deep = await post(h, { query: deepIntrospection(20) });
    expect(deep.status).toBe(400);
    expect(codesOf(deep.body.errors)).toEqual(['QUERY_TOO_DEEP']);
    const standard = await post(h, { query: getIntrospectionQuery() });
    expect(standard.body.errors).toBeUndefined();
    expect(standard.body.data!.__schema.types.length).toBeGreaterThan(10);
  });

  it('never suggests a name, for fields, enum values or input fields, literal or variable, over HTTP or WebSocket', async () => {
    const socket = await rawSocket(h.url);
    const messages: string[] = [];
    for (const [i, bait] of SUGGESTION_BAIT.entries()) {
      const res = await post(h, bait);
      expect(res.body.errors?.length, bait.query).toBeGreaterThan(0);
      messages.push(...res.body.errors!.map((e) => e.message));
      socket.subscribe(String(i), bait.query, bait.variables);
      const reply = await socket.take(String(i));
      const errors = reply.type === 'error' ? reply.payload : reply.payload.errors;
      expect(errors?.length, bait.query).toBeGreaterThan(0);
      messages.push(...errors.map((e: { message: string }) => e.message));
    }
    socket.ws.close();
    expect(messages.length).toBeGreaterThanOrEqual(2 * SUGGESTION_BAIT.length);
    expect(messages.filter((m) => /did you mean/i.test(m))).toEqual([]);
  });

  it('answers a refused WebSocket operation with an error for that operation, and the socket keeps serving', async () => {
    const socket = await rawSocket(h.url);
    socket.subscribe('tokens', `{ vcenters { ${'name '.repeat(4000)} } }`);
    const tokens = await socket.take('tokens');
    expect(tokens.type).toBe('error');
    expect(codesOf(tokens.payload)).toEqual(['TOO_MANY_TOKENS']);
    socket.subscribe('syntax', '{ clusters {');
    expect(codesOf((await socket.take('syntax')).payload)).toEqual(['GRAPHQL_PARSE_FAILED']);
    socket.subscribe('deep', deepIntrospection(20));
    expect(codesOf((await socket.take('deep')).payload)).toEqual(['QUERY_TOO_DEEP']);
    socket.subscribe('good', '{ clusters { totalCount } }');
    const good = await socket.take('good');
    expect(good).toEqual({ id: 'good', type: 'next', payload: { data: { clusters: { totalCount: 2 } } } });
    socket.ws.close();
    expect(await socket.closed).toBe(1005);
  });

  it('closes a WebSocket whose message is over the body limit (1009), before parsing it', async () => {
    const socket = await rawSocket(h.url);
    socket.subscribe('big', `{ vcenters { name } } #${'x'.repeat(300 * 1024)}`);
    expect(await socket.closed).toBe(1009);
  });

  it('delivers the 413 of a 5 MB POST to a client in another process instead of cutting it off mid-upload', async () => {
    // Another process, as in real life: in this one, the client's writes and the server's
    // close take turns on one event loop and the race that loses the answer does not happen.
    const client = `
      const body = JSON.stringify({ query: '{ vcenters { name } } #' + 'x'.repeat(5 * 1024 * 1024) });
      fetch(process.argv[1], { method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.json() })))
        .catch((e) => console.log(JSON.stringify({ error: String(e.cause?.code ?? e.message) })));`;
    const results: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const { stdout } = await execFileAsync(process.execPath, ['-e', client, h.url], { timeout: 20_000 });
      results.push(JSON.parse(stdout));
    }
    const refused = { status: 413, body: { errors: [{ message: expect.any(String), extensions: { code: 'PAYLOAD_TOO_LARGE' } }] } };
    expect(results).toEqual([refused, refused, refused]);
  });
});

const FOLLOW = `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state } }`;

/** Starts a patch scan (long: patchScanDurationMs) and returns its ID, to follow. */
async function startScan(h: Harness): Promise<string[]> {
  const hosts = await h.gql(`{ hosts(first: 1) { nodes { id } } }`);
  const started = await h.gql(
    `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code } } }`,
    { input: { hostIds: [hosts.data.hosts.nodes[0].id], metaUrls: [DEPOT_URLS[0]] } },
  );
  const ids = started.data.hostPatchScanStart.scans.map((s: { id: string }) => s.id);
  expect(ids).toHaveLength(1);
  return ids;
}

describe('per-socket and per-caller caps', () => {
  const CLUSTER_LIST = 'GET /api/vcenter/cluster';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(
      { size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 2 }, patchScanDurationMs: 60_000 },
      (sim) => sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: sim.username, password: sim.password, caPem: sim.caPem, timeoutMs: 120_000 })),
      { limits: { maxOperationsPerSocket: 2, maxSubscriptionsPerCaller: 2, deadlineMs: 120_000 } },
    );
    await h.gql(`{ vcenters { name } clusters { totalCount } }`);
  });
  afterAll(() => h?.close());

  it('refuses a third concurrent operation on one socket; completing one aborts its upstream call and frees its place; closing aborts the rest', async () => {
    const vc = h.sim.vcenters[0]!;
    vc.setFaults([{ route: CLUSTER_LIST, hangRate: 1 }]);
    vc.resetStats();
    try {
      const socket = await rawSocket(h.url);
      socket.subscribe('a', '{ clusters { totalCount } }');
      socket.subscribe('b', '{ clusters { totalCount } }');
      await eventually(() => vc.stats().faultsInjected['hang'] ?? 0, (n) => n === 2);
      socket.subscribe('c', '{ clusters { totalCount } }');
      expect(codesOf((await socket.take('c')).payload)).toEqual(['TOO_MANY_OPERATIONS']);
      // The simulator counts a hung request once its connection closes.
      expect(vc.stats().requests[CLUSTER_LIST] ?? 0).toBe(0);
      socket.ws.send(JSON.stringify({ id: 'a', type: 'complete' }));
      await eventually(() => vc.stats().requests[CLUSTER_LIST] ?? 0, (n) => n === 1);
      socket.subscribe('d', '{ clusters { totalCount } }');
      await eventually(() => vc.stats().faultsInjected['hang'] ?? 0, (n) => n === 3);
      socket.ws.close();
      await eventually(() => vc.stats().requests[CLUSTER_LIST] ?? 0, (n) => n === 3);
      await eventually(() => h.gateway.load(), (load) => load.operations === 0 && load.sockets === 0);
    } finally {
      vc.setFaults([]);
    }
  });

  it('refuses a caller’s third open subscription, over SSE as over WebSocket, until one ends', async () => {
    const ids = await startScan(h);
    const first = await rawSocket(h.url);
    first.subscribe('s1', FOLLOW, { ids });
    first.subscribe('s2', FOLLOW, { ids });
    expect((await first.take('s1')).type).toBe('next');
    expect((await first.take('s2')).type).toBe('next');
    const overSse = await sseSubscribe(h.url, FOLLOW, { ids }, 10_000);
    expect(overSse.events.flatMap((e) => codesOf(e.errors))).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    const second = await rawSocket(h.url);
    second.subscribe('s3', FOLLOW, { ids });
    const refused = await second.take('s3');
    expect(codesOf(refused.payload.errors ?? refused.payload)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    first.ws.send(JSON.stringify({ id: 's1', type: 'complete' }));
    // Its place is free once the gateway has ended it.
    const admitted = await eventually(async () => {
      second.subscribe('s4', FOLLOW, { ids });
      const reply = await second.take('s4');
      return reply.type === 'next' && !reply.payload.errors;
    });
    expect(admitted).toBe(true);
    first.ws.close();
    second.ws.close();
  });
});

describe('subscriptions per socket', () => {
  it('refuses a second subscription on a socket capped at one, while another socket of the same caller may subscribe', async () => {
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 }, patchScanDurationMs: 60_000 }, undefined, {
      limits: { maxSubscriptionsPerSocket: 1 },
    });
    try {
      const ids = await startScan(h);
      const first = await rawSocket(h.url);
      first.subscribe('a', FOLLOW, { ids });
      expect((await first.take('a')).type).toBe('next');
      first.subscribe('b', FOLLOW, { ids });
      const refused = await first.take('b');
      expect(refused.type).toBe('error');
      expect(refused.payload).toEqual([expect.objectContaining({ message: expect.stringMatching(/one connection/), extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })]);
      // Queries still run on it, and another socket subscribes.
      first.subscribe('q', '{ clusters { totalCount } }');
      expect((await first.take('q')).payload.data.clusters.totalCount).toBe(1);
      const second = await rawSocket(h.url);
      second.subscribe('c', FOLLOW, { ids });
      expect((await second.take('c')).type).toBe('next');
      first.ws.close();
      second.ws.close();
    } finally {
      await h.close();
    }
  });
});

describe('a WebSocket client that stops reading', () => {
  it('is paused, then cut off with everything it held released, long before its 300 queued operations ran', async () => {
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } }, undefined, {
      limits: { maxSocketBufferBytes: 256 * 1024, socketStallMs: 1_000, maxOperationsPerSocket: 1_000 },
    });
    try {
      const socket = await rawSocket(h.url);
      // The client stops reading: what the gateway sends piles up in the kernel, then in the gateway.
      (socket.ws as unknown as { _socket: Socket })._socket.pause();
      const before = h.gateway.load().executed;
      // Introspection answers are large and need no vCenter: 300 of them are ~30 MB of output.
      const query = getIntrospectionQuery();
      for (let i = 0; i < 300; i++) socket.subscribe(String(i), query);
      await eventually(() => h.gateway.load(), (load) => load.stalledClosed === 1 && load.sockets === 0 && load.operations === 0, 20_000);
      const executed = h.gateway.load().executed - before;
      // Executed: what filled the kernel's buffers and the gateway's bound, not all 300.
      expect(executed).toBeGreaterThan(0);
      expect(executed).toBeLessThan(300);
      // Nothing more runs for the socket once it is gone.
      const after = await post(h, { query: '{ clusters { totalCount } }' });
      expect(after.body.data!.clusters.totalCount).toBe(1);
      expect(h.gateway.load().executed - before).toBe(executed);
    } finally {
      await h.close();
    }
  }, 30_000);
});

describe('the connection cap', () => {
  it('answers HTTP 503 TOO_MANY_CONNECTIONS and closes WebSockets with 1013 beyond it, and serves again once connections close', async () => {
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } }, undefined, { limits: { maxConnections: 3 } });
    const held: Socket[] = [];
    try {
      const port = Number(new URL(h.url).port);
      for (let i = 0; i < 3; i++) {
        const socket = connect(port, '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        held.push(socket);
      }
      await eventually(() => h.gateway.load().connections, (n) => n === 3);
      const refused = await post(h, { query: '{ clusters { totalCount } }' });
      expect(refused.status).toBe(503);
      expect(codesOf(refused.body.errors)).toEqual(['TOO_MANY_CONNECTIONS']);
      const ws = new WebSocket(h.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      expect(await new Promise((resolve) => ws.once('close', resolve))).toBe(1013);
      for (const socket of held.splice(0)) socket.destroy();
      await eventually(() => h.gateway.load().connections, (n) => n === 0);
      const served = await post(h, { query: '{ clusters { totalCount } }' });
      expect(served.status).toBe(200);
      expect(served.body.data!.clusters.totalCount).toBe(1);
    } finally {
      for (const socket of held) socket.destroy();
      await h.close();
    }
  });
});
