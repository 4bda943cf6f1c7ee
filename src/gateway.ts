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
import type { JwtAlgorithm } from './auth/jwt.ts';
import { ConcurrencyLimiter, RateLimiter } from './auth/rate-limit.ts';
import type { AuthConfig } from './auth/config.ts';
import type { AuditSink } from './graphql/audit.ts';
import { authenticateWebSocket, originAllowed, withAccessControl } from './http/access.ts';
import type { AccessOptions, WebSocketConnectContext } from './http/access.ts';
import type { Caller } from './auth/caller.ts';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upstreams } from './graphql/context.ts';
import { DEFAULT_LIMITS } from './graphql/limits.ts';
import type { RequestLimits } from './graphql/limits.ts';
import { createGatewayYoga } from './graphql/yoga.ts';
import { trustedQuery } from './graphql/trusted-documents.ts';
import type { TrustedDocuments } from './graphql/trusted-documents.ts';
import type { GatewayYoga } from './graphql/yoga.ts';
import { WebSocketServer } from 'ws';
import { createGraphQLError } from 'graphql-yoga';
import type { GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';
import type { Duplex } from 'node:stream';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from './log.ts';
import { InventoryMirrors } from './mirror/index.ts';
import type { InventoryMirrorOptions } from './mirror/index.ts';
import { ScanService } from './scans/service.ts';
import type { TaskWatcherOptions } from './scans/task-watcher.ts';
import { silentLogger } from './log.ts';
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
  /** Trusted-documents mode: only the manifest's operations run (for every caller, or anonymous ones). */
  trustedDocuments?: TrustedDocuments;
}

export interface Gateway {
  yoga: GatewayYoga;
  server: Server;
  upstreams: Upstreams;
  scans: ScanService;
  /** The inventory mirrors, when enabled. */
  mirrors?: InventoryMirrors;
  /** Listens and resolves with the URL of the GraphQL endpoint. */
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
  trustedDocuments,
}: GatewayOptions): Gateway {
  const limits = { ...DEFAULT_LIMITS, ...limitOverrides };
  const names = new Set<string>();
  for (const vc of vcenters) {
    if (names.has(vc.name)) throw new Error(`Two vCenters are named "${vc.name}"; names must be unique`);
    names.add(vc.name);
  }
  const upstreams = new Upstreams(
    vcenters.map(
      (endpoint) =>
        new VCenterClient(endpoint, {
          ...client,
          logger: logger.child({ vcenter: endpoint.name }),
          userSessions: { maxUsers: auth.passthrough.maxUsers, idleMs: auth.passthrough.idleMs },
        }),
    ),
  );
  const scans = new ScanService(upstreams.list, { ...taskWatcher, logger });
  const mirrors = inventoryMirror ? new InventoryMirrors(upstreams.list, { ...inventoryMirror, logger }) : undefined;
  mirrors?.start();
  const yoga = createGatewayYoga({ upstreams, scans, logger, graphiql, limits, ...(audit ? { audit } : {}), ...(mirrors ? { mirrors } : {}), ...(trustedDocuments ? { trustedDocuments } : {}) });
  const tokens = bearer ?? (auth.mode === 'jwt' && auth.jwt ? createJwtAuthenticator({ ...auth.jwt, algorithms: auth.jwt.algorithms as JwtAlgorithm[] | undefined }) : undefined);
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
  const server = createServer(
    guardHttp(
      withAccessControl((req, res, context) => yoga(req, res, context), access),
      limits,
    ),
  );
  const webSockets = serveGraphQLOverWebSocket(yoga, server, {
    ...access,
    webSocketsPerCaller,
    connectionInitWaitTimeoutMs: auth.callerLimits.connectionInitWaitTimeoutMs,
    ...(trustedDocuments ? { trustedDocuments } : {}),
  });

  return {
    yoga,
    server,
    upstreams,
    scans,
    ...(mirrors ? { mirrors } : {}),
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`http://${shownHost}:${address.port}${yoga.graphqlEndpoint}`);
        });
      });
    },
    async close(graceMs = 5_000) {
      // 1. Stop accepting; idle keep-alive connections go now.
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
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
      await drained;
      clearTimeout(cut);
      clearInterval(reap);
      // 4. Log out of every vCenter (every passthrough user's sessions too).
      await Promise.allSettled(upstreams.list.map((c) => c.close()));
      await authenticator.close();
    },
  };
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

/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the same path as HTTP and SSE,
 * executed through yoga's envelop so both transports share schema, context and plugins.
 */
function serveGraphQLOverWebSocket(
  yoga: GatewayYoga,
  server: Server,
  access: AccessOptions & { webSocketsPerCaller: ConcurrencyLimiter; connectionInitWaitTimeoutMs: number; trustedDocuments?: TrustedDocuments },
): WebSocketServer {
  const wss = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    // Browsers send their page's origin on the upgrade: only listed origins (and the gateway's own pages) get in.
    verifyClient: ({ req }: { req: IncomingMessage }) => originAllowed(req, access.corsOrigins),
  });
  wss.on('connection', (ws, request) => coalesceWrites(ws, request.socket));
  const callers = new WeakMap<object, Caller>();
  useServer(
    {
      connectionInitWaitTimeout: access.connectionInitWaitTimeoutMs,
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onConnect: async (ctx) => {
        const caller = await authenticateWebSocket(ctx as unknown as WebSocketConnectContext, access);
        if (!caller) return false;
        const release = access.webSocketsPerCaller.acquire(caller.key);
        if (!release) {
          ctx.extra.socket.close(4429, 'Too many WebSocket connections for this caller');
          return false;
        }
        ctx.extra.socket.once('close', release);
        callers.set(ctx.extra, caller);
        return true;
      },
      onSubscribe: async (ctx, _id, sent) => {
        // yoga's onParams hook does not run here: the same check, on the message's payload.
        let params = sent;
        if (access.trustedDocuments) {
          const outcome = trustedQuery(access.trustedDocuments, sent, callers.get(ctx.extra));
          if ('error' in outcome) return [outcome.error];
          params = { ...sent, query: outcome.query ?? sent.query };
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          caller: callers.get(ctx.extra),
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(params.query);
        } catch (error) {
          // A syntax error is the client's: answer it on this subscription, keep the socket.
          // (Same code as over HTTP; yoga's createGraphQLError is the class graphql-ws checks for.)
          if (!(error instanceof Error) || error.name !== 'GraphQLError') throw error;
          const { source, positions } = error as GraphQLError;
          return [createGraphQLError(error.message, { source, positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
        }
        const args = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
  );
  return wss;
}

/**
 * One scan change goes to many subscriptions at once, often on the same socket. Corking the
 * socket on the first message of a burst and uncorking once the burst is sent turns hundreds
 * of small writes (a syscall each) into one.
 */
function coalesceWrites(ws: WebSocket, socket: Duplex): void {
  const send = ws.send.bind(ws) as (...args: unknown[]) => void;
  let corked = false;
  ws.send = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    send(...args);
  }) as WebSocket['send'];
}

/** CORS-safelisted content types: a browser sends these cross-site without a preflight. */
const SIMPLE_CONTENT_TYPES = new Set(['', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);
const PREFLIGHT_HEADERS = ['graphql-require-preflight', 'apollo-require-preflight', 'x-apollo-operation-name'];

/**
 * Checks made before GraphQL sees a request: bounded body size (known up front, so a large
 * body is refused without being read), and CSRF prevention in the style of Apollo Router:
 * a POST a browser could send cross-site without a preflight must carry a preflight header.
 */
function guardHttp(handler: RequestListener, limits: RequestLimits): RequestListener {
  return (req, res) => {
    if (req.method === 'POST') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (SIMPLE_CONTENT_TYPES.has(contentType) && !PREFLIGHT_HEADERS.some((h) => req.headers[h] !== undefined)) {
        return refuse(req, res, 400, 'CSRF_PREVENTED', 'Send Content-Type: application/json (or a graphql-require-preflight header)');
      }
      const length = req.headers['content-length'];
      if (length === undefined) return refuse(req, res, 411, 'LENGTH_REQUIRED', 'A Content-Length header is required');
      if (Number(length) > limits.maxBodyBytes) {
        return refuse(req, res, 413, 'PAYLOAD_TOO_LARGE', `Request body over ${limits.maxBodyBytes} bytes`);
      }
    }
    return handler(req, res);
  };
}

function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
  req.resume();
}
