/**
 * Operations: probes, Prometheus metrics, request ids and access lines, over real HTTP against
 * the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../src/gateway.ts';
import * as simulator from '../src/simulator/index.ts';
import { wsFollow } from './clients.ts';
import type { Gateway } from '../src/gateway.ts';
import { simStatsOverHttp, startHarness, eventually } from './harness.ts';
import type { Harness } from './harness.ts';
import { parseMetrics } from './http-helpers.ts';
import type { Sample } from './http-helpers.ts';

const FLEET = `query Fleet { clusters { totalCount nodes { name hosts { nodes { name connectionState } } } } }`;

const origin = (h: { url: string }) => h.url.replace(/\/graphql$/, '');

async function scrape(h: { url: string }): Promise<Sample[]> {
  const res = await fetch(`${origin(h)}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseMetrics(await res.text());
}

const sum = (samples: Sample[], name: string, match: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

async function post(h: Harness, query: string, headers: Record<string, string> = {}) {
  return fetch(h.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(20_000),
  });
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 2 } }, undefined, {
    client: { retry: { maxRetries: 0 }, breaker: { failureThreshold: 2, probeIntervalMs: 100 } },
  });
});
afterAll(async () => h?.close());

describe('request ids and access lines', () => {
  it('returns the client x-request-id and logs one access line, with it, for the operation; every line of the operation carries it', async () => {
    const res = await post(h, FLEET, { 'x-request-id': 'req-ops-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-ops-1');
    expect(((await res.json()) as any).data.clusters.totalCount).toBe(4);

    const stats = await Promise.all(h.sim.vcenters.map((v) => simStatsOverHttp(h.sim, v.url)));
    const upstream = stats.reduce((n, s) => n + Object.entries(s.requests).filter(([r]) => !r.includes('/_sim/')).reduce((m, [, c]) => m + c, 0), 0);
    expect(upstream).toBeGreaterThan(4);

    const records = h.logs.map((l) => JSON.parse(l) as Record<string, any>);
    const access = await eventually(() => records.concat(h.logs.slice(records.length).map((l) => JSON.parse(l))).filter((r) => r.msg === 'graphql operation' && r.requestId === 'req-ops-1'), (a) => a.length > 0);
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      level: 'info', operationName: 'Fleet', operationType: 'query', callerName: 'anonymous', callerKind: 'anonymous',
      status: 200, upstreamCalls: upstream, errorCodes: [],
    });
    expect(access[0]!.durationMs).toBeGreaterThan(0);
    // The vSphere clients know nothing of GraphQL, yet their lines for this operation name it.
    const upstreamLines = h.logs.map((l) => JSON.parse(l)).filter((r) => r.msg === 'upstream request' && r.requestId === 'req-ops-1');
    expect(upstreamLines).toHaveLength(upstream);
  });

  it('replaces an unsafe or oversized x-request-id with a generated one', async () => {
    for (const bad of ['has space', 'x'.repeat(129), 'quote"d']) {
      const res = await post(h, '{ __typename }', { 'x-request-id': bad });
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(h.logs.join('\n')).not.toContain(bad);
    }
    const none = await post(h, '{ __typename }');
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('/metrics', () => {
  it('has the operation series and, per vCenter, upstream calls by route template matching the simulator counters, with histograms', async () => {
    const before = await scrape(h);
    const statsBefore = await Promise.all(h.sim.vcenters.map((v) => simStatsOverHttp(h.sim, v.url)));
    expect((await h.gql(FLEET)).data.clusters.totalCount).toBe(4);
    const statsAfter = await Promise.all(h.sim.vcenters.map((v) => simStatsOverHttp(h.sim, v.url)));
    const after = await scrape(h);

    const op = { operation: 'Fleet', type: 'query' };
    expect(sum(after, 'gateway_graphql_operations_total', op) - sum(before, 'gateway_graphql_operations_total', op)).toBe(1);
    expect(sum(after, 'gateway_graphql_operation_duration_seconds_count', op) - sum(before, 'gateway_graphql_operation_duration_seconds_count', op)).toBe(1);
    expect(sum(after, 'gateway_graphql_operation_duration_seconds_bucket', { ...op, le: '+Inf' })).toBe(sum(after, 'gateway_graphql_operation_duration_seconds_count', op));

    h.sim.vcenters.forEach((vc, i) => {
      const routes = new Set([...Object.keys(statsAfter[i]!.requests)].filter((r) => !r.includes('/_sim/')));
      expect(routes.size).toBeGreaterThan(1);
      for (const key of routes) {
        const [method, route] = key.split(' ') as [string, string];
        const delta = (statsAfter[i]!.requests[key] ?? 0) - (statsBefore[i]!.requests[key] ?? 0);
        const labels = { vcenter: vc.name, method, route };
        // The gateway's count by route template is the simulator's, request for request.
        expect(sum(after, 'gateway_upstream_requests_total', labels) - sum(before, 'gateway_upstream_requests_total', labels), key).toBe(delta);
        expect(sum(after, 'gateway_upstream_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(sum(after, 'gateway_upstream_requests_total', labels));
      }
      // Route labels are templates: no managed object ID of the inventory appears in them.
      const labelled = after.filter((s) => s.name === 'gateway_upstream_requests_total' && s.labels.vcenter === vc.name);
      for (const s of labelled) expect(routes.has(`${s.labels.method} ${s.labels.route}`), s.labels.route).toBe(true);
      expect(sum(after, 'gateway_upstream_sessions', { vcenter: vc.name, api: 'rest' })).toBe(statsAfter[i]!.logins.rest);
      expect(sum(after, 'gateway_upstream_sessions', { vcenter: vc.name, api: 'vim' })).toBe(statsAfter[i]!.logins.vim);
      expect(after.some((s) => s.name === 'gateway_upstream_in_flight' && s.labels.vcenter === vc.name)).toBe(true);
      expect(after.some((s) => s.name === 'gateway_upstream_queued' && s.labels.vcenter === vc.name)).toBe(true);
      expect(sum(after, 'gateway_vcenter_breaker_open', { vcenter: vc.name })).toBe(0);
    });
    const buckets = after.filter((s) => s.name === 'gateway_upstream_request_duration_seconds_bucket' && s.labels.vcenter === h.sim.vcenters[0]!.name);
    expect(new Set(buckets.map((b) => b.labels.le)).size).toBeGreaterThan(5);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'gateway_graphql_subscriptions', 'gateway_websocket_connections']) {
      expect(after.some((s) => s.name === name), name).toBe(true);
    }
  });

  it('counts errors by the code the client saw', async () => {
    const res = await post(h, '{ noSuchField }');
    const body = (await res.json()) as any;
    const code = body.errors[0].extensions.code as string;
    expect(code).toBeTruthy();
    const samples = await eventually(() => scrape(h), (s) => sum(s, 'gateway_graphql_errors_total', { code }) === 1);
    expect(sum(samples, 'gateway_graphql_errors_total', { code })).toBe(1);
  });

  it('keeps one registry per gateway: a second gateway in the same process counts only its own operations', async () => {
    const other: Gateway = createGateway({ vcenters: h.sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: h.sim.username, password: h.sim.password, caPem: h.sim.caPem })) });
    try {
      const url = await other.listen(0, '127.0.0.1');
      const samples = await scrape({ url });
      expect(sum(samples, 'gateway_graphql_operations_total')).toBe(0);
      expect(sum(samples, 'gateway_upstream_requests_total')).toBe(0);
      expect(sum(await scrape(h), 'gateway_graphql_operations_total', { operation: 'Fleet' })).toBeGreaterThanOrEqual(2);
    } finally {
      await other.close(1_000);
    }
  });
});

describe('probes', () => {
  it('/healthz answers 200; /readyz 200, then 503 with a reason while every vCenter is down, then 200 again', async () => {
    const healthz = await fetch(`${origin(h)}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ status: 'ok' });

    const ready = await fetch(`${origin(h)}/readyz`);
    expect(ready.status).toBe(200);
    const names = h.sim.vcenters.map((v) => v.name);
    expect(await ready.json()).toEqual({ status: 'ready', vcenters: Object.fromEntries(names.map((n) => [n, 'reachable'])) });

    // One vCenter down: still ready (the other answers), and the down one is named.
    await h.sim.vcenters[0]!.down();
    const partly = await eventually(async () => (await fetch(`${origin(h)}/readyz`)).json() as Promise<any>, (b) => b.vcenters[names[0]!] === 'down');
    expect(partly.status).toBe('ready');

    await h.sim.vcenters[1]!.down();
    const down = await eventually(() => fetch(`${origin(h)}/readyz`), (r) => r.status === 503);
    expect(await down.json()).toEqual({ status: 'not ready', reason: 'every vCenter is unreachable', vcenters: Object.fromEntries(names.map((n) => [n, 'down'])) });
    expect((await fetch(`${origin(h)}/healthz`)).status).toBe(200);

    await Promise.all(h.sim.vcenters.map((v) => v.up()));
    const back = await eventually(() => fetch(`${origin(h)}/readyz`), (r) => r.status === 200);
    expect(((await back.json()) as any).status).toBe('ready');
  });

  it('refuses other methods on the ops routes', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await fetch(`${origin(h)}${path}`, { method: 'POST' });
      expect(res.status).toBe(405);
    }
  });
});

describe('streams in /metrics and the access log', () => {
  let s: Harness;
  beforeAll(async () => {
    s = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 2 }, patchScanDurationMs: 3_000 });
  });
  afterAll(async () => s?.close());

  it('counts a WebSocket subscription, its connection, the watch loop and the followed task while it runs, and logs it once it ends', async () => {
    const depot = (simulator as { DEPOT_URLS?: readonly string[] }).DEPOT_URLS![0]!;
    const hosts = await s.gql(`{ hosts(first: 1) { nodes { id } } }`);
    const started = await s.gql(`mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code } } }`, {
      input: { hostIds: [hosts.data.hosts.nodes[0].id], metaUrls: [depot] },
    });
    const [scanId] = started.data.hostPatchScanStart.scans.map((x: any) => x.id);
    const vcenter = s.sim.vcenters[0]!.name;
    const live = wsFollow(s.url, `subscription Follow($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state } }`, { ids: [scanId] });
    try {
      await live.waitFor((e: any) => e.data?.patchScanUpdated?.id === scanId);
      const during = await scrape(s);
      expect(sum(during, 'gateway_graphql_subscriptions')).toBe(1);
      expect(sum(during, 'gateway_websocket_connections')).toBe(1);
      expect(sum(during, 'gateway_task_watch_loops', { vcenter })).toBe(1);
      expect(sum(during, 'gateway_followed_tasks', { vcenter })).toBe(1);
    } finally {
      await live.leave();
    }
    const after = await eventually(() => scrape(s), (m) => sum(m, 'gateway_graphql_subscriptions') === 0 && sum(m, 'gateway_websocket_connections') === 0 && sum(m, 'gateway_followed_tasks') === 0);
    expect(sum(after, 'gateway_graphql_operations_total', { operation: 'Follow', type: 'subscription' })).toBe(1);
    const lines = s.logs.map((l) => JSON.parse(l)).filter((r) => r.msg === 'graphql operation' && r.operationName === 'Follow');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ transport: 'ws', operationType: 'subscription', callerKind: 'anonymous', errorCodes: [] });
    expect(lines[0].requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
