/**
 * Prometheus metrics of one gateway, in its own Registry (not prom-client's global one): tests
 * run several gateways in one process, and each must count only its own work. Gauges of state
 * owned elsewhere (in-flight calls, breakers, sessions, watch loops) are read when scraped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { currentOperation } from './operation-context.ts';
import type { OperationRecord } from './operation-context.ts';
import type { InventoryMirrors, ReportCacheCounters } from './mirror/index.ts';
import type { ScanService } from './scans/service.ts';
import type { UpstreamCall, VCenterClient } from './vsphere/index.ts';

export interface MetricSources {
  vcenters: readonly VCenterClient[];
  scans: ScanService;
  /** WebSocket connections open now. */
  webSockets(): number;
  /** The inventory mirrors and their image caches, when the gateway runs them. */
  mirrors?: InventoryMirrors;
}

/** Operation names come from clients: past this many distinct names, new ones count as "other". */
const MAX_OPERATION_NAMES = 200;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly operationNames = new Set<string>();
  private readonly operations: Counter<'operation' | 'type'>;
  private readonly operationDuration: Histogram<'operation' | 'type'>;
  private readonly operationErrors: Counter<'operation' | 'type' | 'code'>;
  private readonly upstreamRequests: Counter<'vcenter' | 'api' | 'method' | 'route' | 'status'>;
  private readonly upstreamDuration: Histogram<'vcenter' | 'api' | 'method' | 'route' | 'status'>;
  private readonly subscriptions: Gauge;
  private sources: MetricSources | undefined;
  private processMetrics = false;

  constructor() {
    const registers = [this.registry];
    this.operations = new Counter({
      name: 'gateway_graphql_operations_total', help: 'GraphQL operations finished, by operation name and type', labelNames: ['operation', 'type'], registers,
    });
    this.operationDuration = new Histogram({
      name: 'gateway_graphql_operation_duration_seconds', help: 'Duration of GraphQL queries and mutations (subscriptions excluded: they last as long as the client wants)',
      labelNames: ['operation', 'type'], buckets: SECONDS, registers,
    });
    this.operationErrors = new Counter({
      name: 'gateway_graphql_errors_total', help: 'Errors in GraphQL results, by extensions.code', labelNames: ['operation', 'type', 'code'], registers,
    });
    this.upstreamRequests = new Counter({
      name: 'gateway_upstream_requests_total', help: 'Requests sent to vCenters (every attempt), by route template and status (HTTP status or error code)',
      labelNames: ['vcenter', 'api', 'method', 'route', 'status'], registers,
    });
    this.upstreamDuration = new Histogram({
      name: 'gateway_upstream_request_duration_seconds', help: 'Duration of requests to vCenters', labelNames: ['vcenter', 'api', 'method', 'route', 'status'],
      buckets: SECONDS, registers,
    });
    this.subscriptions = new Gauge({ name: 'gateway_graphql_subscriptions', help: 'GraphQL subscriptions streaming now (SSE and WebSocket)', registers });
    this.gaugeFromSources('gateway_upstream_in_flight', 'Requests to the vCenter in flight now', ['vcenter'], (set) => {
      for (const c of this.sources?.vcenters ?? []) set({ vcenter: c.name }, c.diagnostics().inFlight);
    });
    this.gaugeFromSources('gateway_upstream_queued', 'Requests waiting for a slot under the per-vCenter concurrency cap', ['vcenter'], (set) => {
      for (const c of this.sources?.vcenters ?? []) set({ vcenter: c.name }, c.diagnostics().queued);
    });
    this.gaugeFromSources('gateway_vcenter_breaker_open', 'Circuit breaker per vCenter: 1 open (failing fast, probing), 0 closed', ['vcenter'], (set) => {
      for (const c of this.sources?.vcenters ?? []) set({ vcenter: c.name }, c.health().state === 'open' ? 1 : 0);
    });
    this.gaugeFromSources('gateway_upstream_sessions', 'vCenter sessions logged in now, per API', ['vcenter', 'api'], (set) => {
      for (const c of this.sources?.vcenters ?? []) {
        const { sessions } = c.diagnostics();
        set({ vcenter: c.name, api: 'rest' }, sessions.rest);
        set({ vcenter: c.name, api: 'vim' }, sessions.vim);
      }
    });
    this.gaugeFromSources('gateway_task_watch_loops', 'Task watch loops running now (at most one per vCenter)', ['vcenter'], (set) => {
      const watchers = this.sources?.scans.diagnostics() ?? {};
      for (const c of this.sources?.vcenters ?? []) set({ vcenter: c.name }, watchers[c.name]?.watchLoop ? 1 : 0);
    });
    this.gaugeFromSources('gateway_followed_tasks', 'vCenter tasks the watch loops follow now', ['vcenter'], (set) => {
      const watchers = this.sources?.scans.diagnostics() ?? {};
      for (const c of this.sources?.vcenters ?? []) set({ vcenter: c.name }, watchers[c.name]?.followedTasks ?? 0);
    });
    // The image caches keep plain counts (the mirror knows nothing of metrics); read when scraped.
    const imageCaches = (each: (vcenter: string, report: string, counters: ReportCacheCounters) => void) => {
      for (const c of this.sources?.vcenters ?? []) {
        const reports = this.sources?.mirrors?.reports(c.name);
        if (!reports) continue;
        each(c.name, 'installedImages', reports.installedImages.counters);
        each(c.name, 'desiredSoftware', reports.desiredSoftware.counters);
      }
    };
    new Counter({
      name: 'gateway_image_cache_lookups_total', help: 'Reads of the per-cluster installed-images and desired-software cache: hit (answered from memory) or miss (waited for a fetch)',
      labelNames: ['vcenter', 'report', 'result'], registers,
      collect() {
        this.reset();
        imageCaches((vcenter, report, n) => {
          this.inc({ vcenter, report, result: 'hit' }, n.hits);
          this.inc({ vcenter, report, result: 'miss' }, n.misses);
        });
      },
    });
    new Counter({
      name: 'gateway_image_cache_fetches_total', help: 'Fetches of the per-cluster image cache from vCenter, by reason: cold (first read), invalidated (host change or mirror resync), expired (older than imageCacheMaxAgeMs)',
      labelNames: ['vcenter', 'report', 'reason'], registers,
      collect() {
        this.reset();
        imageCaches((vcenter, report, n) => {
          for (const [reason, count] of Object.entries(n.fetches)) this.inc({ vcenter, report, reason }, count);
        });
      },
    });
    this.gaugeFromSources('gateway_websocket_connections', 'WebSocket connections open now', [], (set) => {
      set({}, this.sources?.webSockets() ?? 0);
    });
  }

  /** What the scrape-time gauges read; set once the gateway's parts exist. */
  attach(sources: MetricSources): void {
    this.sources = sources;
  }

  /** The transport's observer: one call per upstream request. */
  readonly observeUpstreamCall = (call: UpstreamCall): void => {
    const labels = { vcenter: call.vcenter, api: call.api, method: call.method, route: routeTemplate(call.api, call.path), status: String(call.status) };
    this.upstreamRequests.inc(labels);
    this.upstreamDuration.observe(labels, call.durationMs / 1000);
    const operation = currentOperation();
    if (operation) operation.upstreamCalls++;
  };

  subscriptionStarted(): void { this.subscriptions.inc(); }
  subscriptionEnded(): void { this.subscriptions.dec(); }

  recordOperation(op: OperationRecord, durationSeconds: number): void {
    const labels = { operation: this.operationLabel(op.operationName), type: op.operationType ?? 'unknown' };
    this.operations.inc(labels);
    if (labels.type !== 'subscription') this.operationDuration.observe(labels, durationSeconds);
    for (const code of op.errorCodes) this.operationErrors.inc({ ...labels, code });
  }

  /** Prometheus text exposition. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    // Started by the first scrape: the event-loop monitor samples every few milliseconds for
    // as long as the process lives, which a gateway nobody scrapes (tests, benchmarks) need not pay.
    if (!this.processMetrics) {
      this.processMetrics = true;
      collectDefaultMetrics({ register: this.registry });
    }
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private operationLabel(name: string | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(name);
    return name;
  }

  private gaugeFromSources<L extends string>(name: string, help: string, labelNames: L[], fill: (set: (labels: Partial<Record<L, string>>, value: number) => void) => void): void {
    new Gauge<L>({
      name, help, labelNames, registers: [this.registry],
      collect() {
        this.reset();
        fill((labels, value) => this.set(labels as never, value));
      },
    });
  }
}

/**
 * The route of an upstream path without the IDs in it, in the simulator's notation
 * (`/api/esx/settings/clusters/{cluster}/software`, `/sdk/vim25/{release}/Folder/{moId}/CreateContainerView`),
 * so label values stay few however large the inventory.
 */
export function routeTemplate(api: UpstreamCall['api'], path: string): string {
  const query = path.indexOf('?');
  const segments = (query < 0 ? path : path.slice(0, query)).split('/');
  if (api === 'vim') {
    // '', 'sdk', 'vim25', release, type, moId, method-or-property
    if (segments.length >= 6 && segments[1] === 'sdk') {
      segments[3] = '{release}';
      segments[5] = '{moId}';
      if (segments.length > 7) segments.length = 7;
    }
    return segments.map((s, i) => (i > 3 && i !== 5 && !/^[A-Za-z_]{1,64}$/.test(s) ? '{id}' : s)).join('/');
  }
  return segments
    .map((s, i) => {
      if (/^[a-z][a-z_.-]{0,63}$/.test(s) || (i === 0 && s === '')) return s;
      const collection = segments[i - 1] ?? '';
      return collection.startsWith('cluster') ? '{cluster}' : collection.startsWith('host') ? '{host}' : '{id}';
    })
    .join('/');
}
