/**
 * What the gateway serves besides GraphQL: probes (/healthz, /readyz), Prometheus metrics
 * (/metrics), the GraphiQL page, the favicon and a redirect from /. Every request gets a
 * request id (the client's x-request-id when it is safe, else a fresh one), returned in the
 * response; every GraphQL request runs inside its operation record and ends with one access line.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../graphql/context.ts';
import { finishOperation, observabilityPlugin } from '../graphql/observability.ts';
import type { Logger } from '../log.ts';
import { GatewayMetrics } from '../metrics.ts';
import { newOperation, requestIdFrom, runInOperation } from '../operation-context.ts';
import type { InventoryMirrors } from '../mirror/index.ts';
import type { ScanService } from '../scans/service.ts';
import type { Tracing } from '../tracing.ts';
import type { VCenterClient } from '../vsphere/index.ts';
import { GraphiQLPage, ICON_SVG } from './graphiql-page.ts';

export interface OpsOptions {
  logger: Logger;
  graphqlEndpoint: string;
  /** GraphiQL's options, or false: no page (production). */
  graphiql: GraphiQLOptions | false;
  /** How long a readiness probe's view of a vCenter stays fresh (default 1 s). */
  readinessCacheMs?: number;
  /** Traces (src/tracing.ts); undefined: off. */
  tracing?: Tracing | undefined;
  /** /metrics has a listener of its own (metricsListener): the GraphQL port answers 404 there. */
  separateMetrics?: boolean;
}

export interface OpsAttachment {
  server: Server;
  vcenters: readonly VCenterClient[];
  scans: ScanService;
  mirrors?: InventoryMirrors;
}

export interface Ops {
  metrics: GatewayMetrics;
  /** The yoga plugin that fills each operation's record. */
  plugin: Plugin<GraphQLContext>;
  /**
   * Wraps the GraphQL request listener: ops routes first, then `next` inside the operation's
   * record. `pageGuard` decides who may load GraphiQL's page (it calls `serve` when allowed).
   */
  routes(next: RequestListener, pageGuard?: (req: IncomingMessage, res: ServerResponse, serve: () => void) => void): RequestListener;
  /** Gives the probes and the scrape-time gauges what they read, once it exists. */
  attach(parts: OpsAttachment): void;
  /** The request listener of a metrics-only port: /metrics, and 404 for anything else. */
  metricsListener(): RequestListener;
}

export function createOps({ logger, graphqlEndpoint, graphiql, readinessCacheMs = 1_000, tracing, separateMetrics = false }: OpsOptions): Ops {
  const metrics = new GatewayMetrics();
  const page = graphiql ? new GraphiQLPage(graphiql) : undefined;
  let readiness: Readiness | undefined;

  const serveMetrics = (req: IncomingMessage, res: ServerResponse, fail: (error: unknown) => void) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res);
    void metrics.scrape().then(({ contentType, body }) => {
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    }, fail);
  };

  const routes = (next: RequestListener, pageGuard?: (req: IncomingMessage, res: ServerResponse, serve: () => void) => void): RequestListener => (req, res) => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    const fail = (error: unknown) => {
      logger.error('ops route failed', { path, error });
      if (!res.headersSent) sendJson(res, 500, { status: 'error' });
      else res.destroy();
    };
    switch (path) {
      case '/healthz':
        if (!read) return notAllowed(res);
        return sendJson(res, 200, { status: 'ok' });
      case '/readyz':
        if (!read) return notAllowed(res);
        if (!readiness) return sendJson(res, 503, { status: 'not ready', reason: 'starting' });
        return void readiness.check().then(({ ready, ...rest }) => sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...rest }), fail);
      case '/metrics':
        if (separateMetrics) return sendJson(res, 404, { status: 'not found', reason: 'metrics are served on the metrics port' });
        return serveMetrics(req, res, fail);
      case '/':
        if (!read) return notAllowed(res);
        res.writeHead(302, { location: graphqlEndpoint, 'content-length': 0 });
        return res.end();
      case '/favicon.ico':
      case '/favicon.svg':
        if (!read) return notAllowed(res);
        res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'public, max-age=86400', 'content-length': Buffer.byteLength(ICON_SVG) });
        return res.end(method === 'HEAD' ? undefined : ICON_SVG);
    }
    if (page && path === graphqlEndpoint && read && wantsPage(req)) {
      const serve = () => void page.serve(req, res).catch(fail);
      return pageGuard ? pageGuard(req, res, serve) : serve();
    }
    const operation = newOperation(requestId, 'http');
    if (tracing) operation.traceParent = tracing.extract(req.headers);
    res.once('close', () => {
      if (operation.graphql) finishOperation(operation, metrics, logger, res.statusCode, tracing);
    });
    runInOperation(operation, () => next(req, res));
  };

  return {
    metrics,
    plugin: observabilityPlugin(metrics, logger, tracing),
    routes,
    attach(attached) {
      readiness = new Readiness(attached.server, attached.vcenters, readinessCacheMs);
      let webSockets = 0;
      attached.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
        if ((req.url ?? '').split('?')[0] !== graphqlEndpoint) return;
        webSockets++;
        socket.once('close', () => webSockets--);
      });
      metrics.attach({ vcenters: attached.vcenters, scans: attached.scans, webSockets: () => webSockets, ...(attached.mirrors ? { mirrors: attached.mirrors } : {}) });
    },
    metricsListener: () => (req, res) => {
      if ((req.url ?? '/').split('?')[0] !== '/metrics') return sendJson(res, 404, { status: 'not found' });
      serveMetrics(req, res, (error) => {
        logger.error('metrics scrape failed', { error });
        if (!res.headersSent) sendJson(res, 500, { status: 'error' });
        else res.destroy();
      });
    },
  };
}

/** A browser navigating to the endpoint (as yoga decides it): HTML accepted, no query in the URL. */
function wantsPage(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html') && !(req.url ?? '').includes('query=');
}

/** Kubernetes' probe timeout is seconds: a readiness answer never waits longer than this. */
const PROBE_WAIT_MS = 2_000;

type VCenterState = 'reachable' | 'down' | 'unknown';

/**
 * Ready when the process listens and every vCenter is either reachable or known to be down
 * (its breaker open, or its last probe unanswered), and at least one is reachable: with every
 * vCenter down, or not yet checked, the gateway cannot answer anything useful.
 */
class Readiness {
  private readonly probed = new Map<string, { reachable: boolean; at: number }>();
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly server: Server,
    private readonly vcenters: readonly VCenterClient[],
    private readonly cacheMs: number,
  ) {}

  async check(): Promise<{ ready: boolean; reason?: string; vcenters: Record<string, VCenterState> }> {
    if (this.vcenters.some((c) => this.isStale(c))) {
      // A vCenter that swallows packets answers no probe until its timeout: answer the probe
      // in time with what is known, and let the round finish for the next one.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.refresh(), new Promise<void>((resolve) => (timer = setTimeout(resolve, PROBE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    const vcenters: Record<string, VCenterState> = {};
    for (const c of this.vcenters) {
      const probe = this.probed.get(c.name);
      vcenters[c.name] = c.health().state === 'open' ? 'down' : probe === undefined ? 'unknown' : probe.reachable ? 'reachable' : 'down';
    }
    const states = Object.values(vcenters);
    if (!this.server.listening) return { ready: false, reason: 'not listening', vcenters };
    if (states.includes('unknown')) return { ready: false, reason: 'vCenters not checked yet', vcenters };
    if (!states.includes('reachable')) return { ready: false, reason: 'every vCenter is unreachable', vcenters };
    return { ready: true, vcenters };
  }

  private isStale(c: VCenterClient): boolean {
    const last = this.probed.get(c.name);
    return c.health().state !== 'open' && (!last || performance.now() - last.at > this.cacheMs);
  }

  /** One probe round at a time, shared by concurrent readiness requests. */
  private refresh(): Promise<void> {
    this.refreshing ??= Promise.all(
      this.vcenters.filter((c) => this.isStale(c)).map(async (c) => {
        const reachable = await c.probe().catch(() => false);
        this.probed.set(c.name, { reachable, at: performance.now() });
      }),
    ).then(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function notAllowed(res: ServerResponse): void {
  res.setHeader('allow', 'GET, HEAD');
  sendJson(res, 405, { status: 'method not allowed' });
}
