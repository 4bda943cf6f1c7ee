// OpenTelemetry traces: a span per GraphQL operation with one child per upstream request (as
// many as the simulator counted), the client's traceparent honoured, no secret in any attribute,
// subscriptions traced for their subscribe only, shared work in traces of its own; off without
// OTEL_* configuration (no span, no SDK loaded); and the OTLP/HTTP exporter path end to end.

import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';
import { createTracing } from '../src/tracing-sdk.ts';
import { tracingFromEnvironment, tracingRequest } from '../src/tracing.ts';
import { sseFollow, wsFollow } from './clients.ts';
import { eventually, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { FLEET_QUERY } from './queries.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01`;

async function post(url: string, query: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

/** Upstream requests the simulator counted, per vCenter and "METHOD route-template" (the upstream spans' names). */
function simulatorCounts(h: Harness): Map<string, number> {
  const counts = new Map<string, number>();
  for (const vc of h.sim.vcenters) for (const [route, n] of Object.entries(vc.stats().requests)) if (n > 0) counts.set(`${vc.name} ${route}`, n);
  return counts;
}

function spanCounts(spans: ReadableSpan[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of spans) {
    const key = `${String(s.attributes['vsphere.vcenter'])} ${s.name}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The (first) finished operation span that `match` accepts, waited for: it ends once the response is done. */
async function operationSpan(exporter: InMemorySpanExporter, match: (s: ReadableSpan) => boolean = () => true): Promise<ReadableSpan> {
  const found = await eventually(() => exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && match(s)), Boolean);
  return found!;
}

const isChildOf = (parent: ReadableSpan) => (s: ReadableSpan) =>
  s.parentSpanContext?.spanId === parent.spanContext().spanId && s.spanContext().traceId === parent.spanContext().traceId;

/** Every attribute value of every span (and of their events), as text. */
function attributeTexts(spans: ReadableSpan[]): string[] {
  return spans.flatMap((s) => [s.name, ...[s.attributes, ...s.events.map((e) => e.attributes ?? {})].flatMap((a) => Object.values(a).map((v) => JSON.stringify(v)))]);
}

describe('traces with an in-memory exporter', () => {
  const exporter = new InMemorySpanExporter();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 3 } }, undefined, {
      tracing: createTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    });
    // Logins and bootstrap reads happen once: the measured query below makes only its own calls.
    expect((await post(h.url, FLEET_QUERY)).body.errors).toBeUndefined();
  });
  afterAll(() => h?.close());

  it('gives a fleet query one operation span, child of the client traceparent, with one child span per upstream request', async () => {
    for (const vc of h.sim.vcenters) vc.resetStats();
    exporter.reset();
    const response = await post(h.url, FLEET_QUERY, { traceparent: TRACEPARENT, tracestate: 'vendor=opaque', 'x-request-id': 'trace-fleet-1' });
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data.clusters.totalCount).toBe(h.sim.vcenters.reduce((n, v) => n + v.inventory.clusters.length, 0));

    const operation = await operationSpan(exporter);
    expect(operation.name).toBe('query Fleet');
    expect(operation.attributes).toMatchObject({
      'graphql.operation.name': 'Fleet',
      'graphql.operation.type': 'query',
      'gateway.request_id': 'trace-fleet-1',
      'gateway.transport': 'http',
      'gateway.caller.kind': 'anonymous',
      'http.response.status_code': 200,
    });
    expect(operation.status.code).toBe(SpanStatusCode.UNSET);
    expect(operation.spanContext().traceId).toBe(TRACE_ID);
    expect(operation.parentSpanContext?.spanId).toBe(CLIENT_SPAN_ID);
    expect(operation.parentSpanContext?.isRemote).toBe(true);
    // The client's tracestate travels with its trace.
    expect(operation.spanContext().traceState?.get('vendor')).toBe('opaque');

    const expected = simulatorCounts(h);
    const simulatorTotal = [...expected.values()].reduce((a, b) => a + b, 0);
    expect(simulatorTotal).toBeGreaterThanOrEqual(2 * h.sim.vcenters.length);
    const upstream = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    const children = upstream.filter(isChildOf(operation));
    // Exactly the requests the simulator counted, route by route, each a child of the operation.
    expect(children.length).toBe(simulatorTotal);
    expect(upstream.length).toBe(simulatorTotal);
    expect(spanCounts(children)).toEqual(expected);
    expect(operation.attributes['gateway.upstream_calls']).toBe(simulatorTotal);
    for (const child of children) {
      expect(child.spanContext().traceId).toBe(TRACE_ID);
      expect(child.attributes['http.response.status_code']).toBe(200);
      expect(h.sim.vcenters.map((v) => v.name)).toContain(child.attributes['vsphere.vcenter']);
      expect(['rest', 'vim']).toContain(child.attributes['vsphere.api']);
      expect(child.name).toBe(`${String(child.attributes['http.request.method'])} ${String(child.attributes['url.template'])}`);
      // A template: no moref or cluster id, no query string.
      expect(String(child.attributes['url.template'])).not.toMatch(/\?|domain-c\d|host-\d|group-d\d/);
      expect(child.startTime[0] * 1e3 + child.startTime[1] / 1e6).toBeGreaterThanOrEqual(operation.startTime[0] * 1e3 + operation.startTime[1] / 1e6 - 1);
    }
  });

  it('puts no password, session id or Authorization value in any span, logins included', async () => {
    // Fresh sessions: their logins (detached work) and the query run again under tracing.
    exporter.reset();
    for (const vc of h.sim.vcenters) vc.expireSessions();
    expect((await post(h.url, FLEET_QUERY)).body.errors).toBeUndefined();
    const spans = await eventually(() => exporter.getFinishedSpans(), (all) => all.some((s) => s.kind === SpanKind.SERVER));
    const logins = spans.filter((s) => s.name === 'POST /api/session' || s.name.endsWith('/SessionManager/{moId}/Login'));
    expect(logins.length).toBeGreaterThanOrEqual(2 * h.sim.vcenters.length);
    // Logins are shared work: traces of their own, not the client's.
    for (const login of logins) expect(login.parentSpanContext).toBeUndefined();

    const password = h.sim.password;
    expect(password.length).toBeGreaterThan(3);
    const basic = Buffer.from(`${h.sim.username}:${password}`).toString('base64');
    // What a session id looks like: learn it from a real login, so the pattern below would catch one.
    const dispatcher = new Agent({ connect: { ca: h.sim.caPem } });
    const login = await request(`${h.sim.vcenters[0]!.url}/api/session`, { method: 'POST', dispatcher, headers: { authorization: `Basic ${basic}` } });
    const sessionId = (await login.body.json()) as string;
    await dispatcher.close();
    const sessionIdShape = /[0-9a-f]{32,}/i;
    expect(sessionId).toMatch(sessionIdShape);

    const texts = attributeTexts(spans);
    expect(texts.length).toBeGreaterThan(spans.length * 3);
    for (const text of texts) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(basic);
      expect(text).not.toContain(sessionId);
      expect(text).not.toMatch(sessionIdShape);
      expect(text).not.toMatch(/basic |bearer |vmware-api-session-id|authorization|cookie/i);
    }
  });

  it('starts a trace of its own without a valid traceparent, and records error codes', async () => {
    exporter.reset();
    const response = await post(h.url, 'query Broken { nosuchfield }', { traceparent: '00-zzzz-not-a-trace-01' });
    expect(response.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const operation = await operationSpan(exporter);
    expect(operation.parentSpanContext).toBeUndefined();
    expect(operation.spanContext().traceId).not.toBe(TRACE_ID);
    expect(operation.status.code).toBe(SpanStatusCode.ERROR);
    expect(operation.attributes['gateway.error_codes']).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(operation.attributes['error.type']).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('traces graphql-ws operations with the traceparent of the upgrade request', async () => {
    exporter.reset();
    for (const vc of h.sim.vcenters) vc.resetStats();
    const sub = wsFollow(h.url, FLEET_QUERY, {}, { headers: { traceparent: TRACEPARENT } });
    try {
      const result = await sub.waitFor((e) => e.data !== undefined);
      expect(result.errors).toBeUndefined();
    } finally {
      await sub.leave();
    }
    const operation = await operationSpan(exporter);
    expect(operation.name).toBe('query Fleet');
    expect(operation.attributes['gateway.transport']).toBe('ws');
    expect(operation.spanContext().traceId).toBe(TRACE_ID);
    expect(operation.parentSpanContext?.spanId).toBe(CLIENT_SPAN_ID);
    const children = exporter.getFinishedSpans().filter(isChildOf(operation));
    expect(spanCounts(children)).toEqual(simulatorCounts(h));
  });

  it('records each retry of an upstream request as its own span, with its resend count and status', async () => {
    const v = h.sim.vcenters[0]!;
    for (const vc of h.sim.vcenters) vc.resetStats();
    exporter.reset();
    v.setFaults([{ route: 'GET /api/vcenter/cluster', errorRate: 1, error: '503' }]);
    try {
      const response = await post(h.url, 'query Counted { clusters(first: 5) { totalCount } }');
      expect(response.body.errors?.length).toBeGreaterThan(0);
    } finally {
      v.clearFaults();
    }
    const operation = await operationSpan(exporter);
    expect(operation.status.code).toBe(SpanStatusCode.ERROR);
    expect(operation.attributes['gateway.error_codes']).toContain(String(operation.attributes['error.type']));
    const attempts = exporter
      .getFinishedSpans()
      .filter(isChildOf(operation))
      .filter((s) => s.attributes['vsphere.vcenter'] === v.name && s.name === 'GET /api/vcenter/cluster');
    // The first attempt and both retries (DEFAULT_RETRY.maxRetries), as many as the simulator answered.
    expect(attempts).toHaveLength(v.stats().requests['GET /api/vcenter/cluster']!);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([undefined, 1, 2]);
    for (const attempt of attempts) {
      expect(attempt.attributes['http.response.status_code']).toBe(503);
      expect(attempt.attributes['error.type']).toBe('503');
      expect(attempt.status.code).toBe(SpanStatusCode.ERROR);
    }
  });
});

const HOSTS_CHANGED = /* GraphQL */ `
  subscription HostsFeed { hostsChanged { kind host { moId } } }
`;

describe('subscriptions and shared work', () => {
  const exporter = new InMemorySpanExporter();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 2 } }, undefined, {
      inventoryMirror: { maxWaitSeconds: 120 },
      tracing: createTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    });
    await Promise.all(h.gateway.mirrors!.list().map((m) => m.until((s) => s.state === 'LIVE' && s.feedVersion !== '')));
  });
  afterAll(() => h?.close());

  it('gives an SSE subscription one span for its subscribe, ended while the stream stays open', async () => {
    const sub = sseFollow(h.url, HOSTS_CHANGED, {}, { headers: { traceparent: TRACEPARENT } });
    try {
      const operation = await operationSpan(exporter, (s) => s.name === 'subscription HostsFeed');
      expect(sub.completed()).toBe(false);
      expect(operation.spanContext().traceId).toBe(TRACE_ID);
      expect(operation.attributes['graphql.operation.type']).toBe('subscription');
      // The stream still delivers after its span ended.
      const v = h.sim.vcenters[0]!;
      const host = v.inventory.clusters[0]!.hosts[0]!;
      v.changeInventory({ action: 'enterMaintenance', host });
      await sub.waitFor((e) => e.data?.hostsChanged?.host?.moId === host);
      expect(exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)).toHaveLength(1);
    } finally {
      await sub.leave();
    }
  });

  it('traces the mirror feed in traces of its own, never in a client trace', async () => {
    const feed = await eventually(() => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT && s.name.endsWith('/WaitForUpdatesEx')), (s) => s.length > 0);
    for (const span of feed) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(span.spanContext().traceId).not.toBe(TRACE_ID);
    }
  });
});

describe('traces off', () => {
  it('is off unless the OTEL_* environment asks for it, and OTEL_SDK_DISABLED wins', () => {
    expect(tracingRequest({})).toBeUndefined();
    expect(tracingRequest({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' })).toBeUndefined();
    expect(tracingRequest({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })?.exporters).toEqual(['otlp']);
    expect(tracingRequest({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })?.exporters).toEqual(['otlp']);
    expect(tracingRequest({ OTEL_TRACES_EXPORTER: 'otlp' })?.exporters).toEqual(['otlp']);
    expect(tracingRequest({ OTEL_TRACES_EXPORTER: 'console, otlp' })?.exporters).toEqual(['console', 'otlp']);
    expect(tracingRequest({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBeUndefined();
    expect(tracingRequest({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBeUndefined();
    expect(tracingRequest({ OTEL_SDK_DISABLED: 'TRUE', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBeUndefined();
    expect(tracingRequest({ OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual({ exporters: [], unsupported: ['zipkin'] });
  });

  it('loads no SDK module and registers no tracer provider in a gateway process without OTEL_* variables', async () => {
    const script = fileURLToPath(new URL('./fixtures/tracing-off.ts', import.meta.url));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { env, timeout: 60_000 });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as { fleetClusters: number; loaded: string[]; tracerProvider: string; tracingOn: boolean };
    // The gateway did work (a fleet query answered) and resolved modules (so the hook saw them) ...
    expect(report.fleetClusters).toBeGreaterThan(0);
    expect(report.loaded.some((url) => url.includes('/graphql-yoga/'))).toBe(true);
    expect(report.loaded.some((url) => url.includes('/@opentelemetry/api/'))).toBe(true);
    // ... but no SDK package, exporter or the gateway's SDK module, and no global provider.
    expect(report.tracingOn).toBe(false);
    expect(report.loaded.filter((url) => /@opentelemetry\/(?!api\/)|tracing-sdk/.test(url))).toEqual([]);
    expect(report.tracerProvider).toBe('none');
  }, 90_000);
});

describe('OTLP/HTTP export', () => {
  it('sends the spans to OTEL_EXPORTER_OTLP_ENDPOINT, flushed when the gateway closes', async () => {
    const posts: { path: string; contentType: string | undefined; body: any }[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        posts.push({ path: `${req.method} ${req.url}`, contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    let h: Harness | undefined;
    try {
      Object.assign(process.env, {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
        // A long batch delay: only the flush on close can have sent the spans.
        OTEL_BSP_SCHEDULE_DELAY: '600000',
      });
      const tracing = await tracingFromEnvironment(process.env, createLogger({ write: () => {} }));
      expect(tracing).toBeDefined();
      h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 2 } }, undefined, { tracing });
      expect((await post(h.url, FLEET_QUERY, { traceparent: TRACEPARENT })).body.errors).toBeUndefined();
      expect(posts).toHaveLength(0);
      await h.close();
      h = undefined;
      await eventually(() => posts.length, (n) => n > 0, 10_000);
    } finally {
      process.env = saved;
      await h?.close();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
    expect(posts[0]!.path).toBe('POST /v1/traces');
    expect(posts[0]!.contentType).toContain('application/json');
    const resourceSpans = posts.flatMap((p) => p.body.resourceSpans as any[]);
    const resource = Object.fromEntries((resourceSpans[0].resource.attributes as any[]).map((a) => [a.key, a.value.stringValue]));
    expect(resource['service.name']).toBe('vsphere-graphql-gateway');
    expect(resource['deployment.environment.name']).toBe('test');
    const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s: any) => s.spans as any[]));
    const operation = spans.find((s) => s.name === 'query Fleet');
    expect(operation).toBeDefined();
    expect(operation.traceId).toBe(TRACE_ID);
    expect(operation.parentSpanId).toBe(CLIENT_SPAN_ID);
    expect(spans.filter((s) => s.parentSpanId === operation.spanId).length).toBeGreaterThan(0);
    // The logouts on close are exported too.
    expect(spans.some((s) => s.name === 'DELETE /api/session')).toBe(true);
  });
});
