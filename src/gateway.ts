/**
 * The gateway process without its configuration source: vCenter clients, the GraphQL
 * server and the HTTP listener, with an orderly close.
 */
import { createServer } from 'node:http';
import { Authenticator } from './auth/authenticate.ts';
import type { BearerVerifier, PassthroughVerdict } from './auth/authenticate.ts';
import type { PassthroughCredential } from './auth/caller.ts';
import { DEFAULT_AUTH } from './auth/config.ts';
import { createJwtAuthenticator } from './auth/jwt.ts';
import { ConcurrencyLimiter, RateLimiter } from './auth/rate-limit.ts';
import type { AuthConfig } from './auth/config.ts';
import type { AuditSink } from './graphql/audit.ts';
import { withAccessControl } from './http/access.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upstreams } from './graphql/context.ts';
import { DEFAULT_LIMITS } from './graphql/limits.ts';
import type { RequestLimits } from './graphql/limits.ts';
import { GRAPHIQL_OPTIONS, createGatewayYoga } from './graphql/yoga.ts';
import { createOps } from './http/ops-routes.ts';
import type { GatewayYoga } from './graphql/yoga.ts';
import { guardHttp, limitConnections } from './http/guard.ts';
import { serveGraphQLOverWebSocket } from './http/websocket.ts';
import type { WebSocketDiagnostics } from './http/websocket.ts';
import type { TrustedDocuments } from './graphql/trusted-documents.ts';
import type { Logger } from './log.ts';
import { InventoryMirrors } from './mirror/index.ts';
import type { InventoryMirrorOptions } from './mirror/index.ts';
import { ScanService } from './scans/service.ts';
import type { TaskWatcherOptions } from './scans/task-watcher.ts';
import type { DepotPolicyOptions } from './scans/depots.ts';
import { silentLogger } from './log.ts';
import type { Tracing } from './tracing.ts';
import { VCenterClient, isUpstreamError } from './vsphere/index.ts';
import type { VCenterClientOptions, VCenterEndpoint } from './vsphere/index.ts';

export interface GatewayOptions {
  vcenters: VCenterEndpoint[];
  logger?: Logger;
  graphiql?: boolean;
  /** Tuning of the per-vCenter task watch loops (tests shorten the waits). */
  taskWatcher?: Omit<TaskWatcherOptions, 'logger'>;
  limits?: Partial<RequestLimits>;
  /** Retry and circuit-breaker tuning for every vCenter client (tests shorten them). */
  client?: Pick<VCenterClientOptions, 'retry' | 'breaker'>;
  /** Authentication mode, CORS origins, per-caller limits; default: `none` (loopback only), no CORS. */
  auth?: AuthConfig;
  /** Validates bearer tokens in `jwt` mode. */
  bearer?: BearerVerifier;
  /** Where mutation audit records go; default: the logger, as `"log":"audit"` lines. */
  audit?: AuditSink;
  /**
   * Run an inventory mirror per vCenter (kept current by the change feed) and answer
   * service-account inventory queries from it. Off unless given; `{}` for the defaults.
   */
  inventoryMirror?: Omit<InventoryMirrorOptions, 'logger'>;
  /** Which depots and scan options clients may use; without it, no depot is allowed. */
  depots?: DepotPolicyOptions;
  /** Trusted-documents mode: only the manifest's operations run (for every caller, or anonymous ones). */
  trustedDocuments?: TrustedDocuments;
  /**
   * OpenTelemetry traces (`tracingFromEnvironment` in src/tracing.ts, or `createTracing` in
   * tests); off without it. The gateway flushes and shuts it down when it closes.
   */
  tracing?: Tracing | undefined;
  /**
   * Serve /metrics on a listener of its own (opened by listen(), closed by close()) and answer
   * 404 for it on the GraphQL port; default: /metrics on the GraphQL port.
   */
  metrics?: { port: number; host?: string };
  /** Queries and mutations executed by graphql-jit (default false; bench only, needs @envelop/graphql-jit installed). */
  jit?: boolean;
}

export interface GatewayLoad extends WebSocketDiagnostics {
  /** Open client connections, HTTP and WebSocket. */
  connections: number;
}

export interface Gateway {
  yoga: GatewayYoga;
  server: Server;
  upstreams: Upstreams;
  scans: ScanService;
  /** The inventory mirrors, when enabled. */
  mirrors?: InventoryMirrors;
  /** Open client connections and WebSocket state (diagnostics and tests). */
  load(): GatewayLoad;
  /** The metrics-only listener, when the options ask for one. */
  metricsServer?: Server;
  /** Listens (and opens the metrics listener) and resolves with the URL of the GraphQL endpoint. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops listening, waits up to graceMs for in-flight requests, then logs out of every vCenter. */
  close(graceMs?: number): Promise<void>;
}

export function createGateway({
  vcenters,
  logger = silentLogger,
  graphiql = true,
  taskWatcher,
  limits: limitOverrides,
  client,
  auth = DEFAULT_AUTH,
  bearer,
  audit,
  inventoryMirror,
  depots,
  trustedDocuments,
  tracing,
  metrics: metricsListen,
  jit,
}: GatewayOptions): Gateway {
  const limits = { ...DEFAULT_LIMITS, ...limitOverrides };
  const names = new Set<string>();
  for (const vc of vcenters) {
    if (names.has(vc.name)) throw new Error(`Two vCenters are named "${vc.name}"; names must be unique`);
    names.add(vc.name);
  }
  const ops = createOps({ logger, graphqlEndpoint: '/graphql', graphiql: graphiql && GRAPHIQL_OPTIONS, tracing, separateMetrics: metricsListen !== undefined });
  const metricsServer = metricsListen ? createServer(ops.metricsListener()) : undefined;
  const observeUpstreamCall: VCenterClientOptions['onUpstreamCall'] = tracing
    ? (call) => {
        ops.metrics.observeUpstreamCall(call);
        tracing.upstreamCall(call);
      }
    : ops.metrics.observeUpstreamCall;
  const upstreams = new Upstreams(
    vcenters.map(
      (endpoint) =>
        new VCenterClient(endpoint, {
          ...client,
          logger,
          onUpstreamCall: observeUpstreamCall,
          userSessions: { maxUsers: auth.passthrough.maxUsers, idleMs: auth.passthrough.idleMs },
        }),
    ),
  );
  const scans = new ScanService(upstreams.list, { ...taskWatcher, logger, depots });
  const mirrors = inventoryMirror ? new InventoryMirrors(upstreams.list, { ...inventoryMirror, logger }) : undefined;
  mirrors?.start();
  const yoga = createGatewayYoga({ upstreams, scans, logger, graphiql, limits, plugins: [ops.plugin], ...(audit ? { audit } : {}), ...(mirrors ? { mirrors } : {}), ...(trustedDocuments ? { trustedDocuments } : {}), ...(jit !== undefined ? { jit } : {}) });
  const tokens = bearer ?? (auth.mode === 'jwt' && auth.jwt ? createJwtAuthenticator(auth.jwt) : undefined);
  const authenticator = new Authenticator({
    config: auth,
    verifyPassthrough: (credential) => verifyOnEveryVCenter(upstreams.list, credential),
    ...(tokens ? { bearer: tokens } : {}),
  });
  // Keys are identities (or addresses): bounded however many callers come and go.
  const rateLimiter = new RateLimiter({ ratePerSecond: auth.callerLimits.requestsPerSecond, burst: auth.callerLimits.burst, maxKeys: 100_000 });
  const failedLogins = new RateLimiter({ ratePerSecond: FAILED_LOGINS_PER_SECOND, burst: auth.callerLimits.failedLoginBurst, maxKeys: 100_000 });
  const webSocketsPerCaller = new ConcurrencyLimiter({ max: auth.callerLimits.webSocketsPerCaller, maxKeys: 100_000 });
  const access = { authenticator, corsOrigins: auth.corsOrigins, rateLimiter, failedLogins, logger };
  const server = createServer();
  const connections = limitConnections(server, limits.maxConnections);
  server.on(
    'request',
    ops.routes(
      guardHttp(withAccessControl((req, res, context) => yoga(req, res, context), access), {
        maxBodyBytes: limits.maxBodyBytes,
        maxDiscardedBodyBytes: limits.maxDiscardedBodyBytes,
        overCapacity: connections.overCapacity,
      }),
      // GraphiQL's page needs the same identity as the API (in vcenter mode: the browser's Basic prompt).
      (req, res, serve) => withAccessControl(() => serve(), access)(req, res),
    ),
  );
  ops.attach({ server, vcenters: upstreams.list, scans, ...(mirrors ? { mirrors } : {}) });
  const graphqlWs = serveGraphQLOverWebSocket({
    yoga,
    server,
    overCapacity: connections.overCapacity,
    ...(trustedDocuments ? { trustedDocuments } : {}),
    access: { ...access, webSocketsPerCaller, connectionInitWaitTimeoutMs: auth.callerLimits.connectionInitWaitTimeoutMs },
    limits: {
      maxPayloadBytes: limits.maxBodyBytes,
      maxOperationsPerSocket: limits.maxOperationsPerSocket,
      maxSubscriptionsPerSocket: limits.maxSubscriptionsPerSocket,
      maxSocketBufferBytes: limits.maxSocketBufferBytes,
      socketStallMs: limits.socketStallMs,
    },
  });
  const webSockets = graphqlWs.wss;

  return {
    yoga,
    server,
    upstreams,
    scans,
    ...(mirrors ? { mirrors } : {}),
    ...(metricsServer ? { metricsServer } : {}),
    load: () => ({ connections: connections.open(), ...graphqlWs.diagnostics() }),
    async listen(port, host = '127.0.0.1') {
      const address = await listenOn(server, port, host);
      if (metricsServer && metricsListen) await listenOn(metricsServer, metricsListen.port, metricsListen.host ?? host);
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${shownHost}:${address.port}${yoga.graphqlEndpoint}`;
    },
    async close(graceMs = 5_000) {
      // 1. Stop accepting; idle keep-alive connections go now. Scrapes are short: the metrics
      //    listener's connections are cut at once.
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const metricsClosed = metricsServer?.listening ? new Promise<void>((resolve) => metricsServer.close(() => resolve())) : undefined;
      metricsServer?.closeAllConnections();
      // 2. Complete every subscription (SSE streams end with `complete`, WebSocket clients
      //    get a normal close), which also ends the watch loops and destroys their filters.
      for (const socket of webSockets.clients) socket.close(1001, 'gateway shutting down');
      webSockets.close();
      await Promise.all([scans.close(), mirrors?.close()]);
      // 3. Let in-flight requests finish (closing each connection as it goes idle), then cut
      //    whatever is left.
      const reap = setInterval(() => server.closeIdleConnections(), 50);
      const cut = setTimeout(() => {
        server.closeAllConnections();
        for (const socket of webSockets.clients) socket.terminate();
      }, graceMs);
      await Promise.all([drained, metricsClosed]);
      clearTimeout(cut);
      clearInterval(reap);
      // 4. Log out of every vCenter (every passthrough user's sessions too).
      await Promise.allSettled(upstreams.list.map((c) => c.close()));
      await authenticator.close();
      // 5. Export the spans still buffered (the logouts' included).
      await tracing?.shutdown().catch((error: unknown) => logger.warn('could not export the last traces', { error }));
    },
  };
}

function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Refused logins per address per second, once its burst (callerLimits.failedLoginBurst) is spent. */
const FAILED_LOGINS_PER_SECOND = 0.5;

/**
 * Credential passthrough: logs the credential in on every vCenter (or finds its session), in
 * parallel. A credential refused somewhere is forgotten there at once, so that guessed
 * passwords never push real users' sessions out of the bounded pool.
 */
async function verifyOnEveryVCenter(clients: readonly VCenterClient[], credential: PassthroughCredential): Promise<PassthroughVerdict> {
  const settled = await Promise.allSettled(clients.map((c) => c.forUser(credential).verifyLogin()));
  const verdict: PassthroughVerdict = { accepted: 0, refused: 0, unreachable: 0 };
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') verdict.accepted++;
    else if (isUpstreamError(outcome.reason) && (outcome.reason.code === 'UNAUTHENTICATED' || outcome.reason.code === 'FORBIDDEN')) {
      verdict.refused++;
      clients[i]!.dropUser(credential);
    } else verdict.unreachable++;
  });
  return verdict;
}
