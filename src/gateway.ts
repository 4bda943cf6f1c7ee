/**
 * The gateway process without its configuration source: vCenter clients, the GraphQL
 * server and the HTTP listener, with an orderly close.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upstreams } from './graphql/context.ts';
import { DEFAULT_LIMITS } from './graphql/limits.ts';
import type { RequestLimits } from './graphql/limits.ts';
import { createGatewayYoga } from './graphql/yoga.ts';
import type { GatewayYoga } from './graphql/yoga.ts';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Duplex } from 'node:stream';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from './log.ts';
import { ScanService } from './scans/service.ts';
import type { TaskWatcherOptions } from './scans/task-watcher.ts';
import type { DepotPolicyOptions } from './scans/depots.ts';
import { silentLogger } from './log.ts';
import { VCenterClient } from './vsphere/index.ts';
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
  /** Which depots and scan options clients may use; without it, no depot is allowed. */
  depots?: DepotPolicyOptions;
}

export interface Gateway {
  yoga: GatewayYoga;
  server: Server;
  upstreams: Upstreams;
  scans: ScanService;
  /** Listens and resolves with the URL of the GraphQL endpoint. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops listening, waits up to graceMs for in-flight requests, then logs out of every vCenter. */
  close(graceMs?: number): Promise<void>;
}

export function createGateway({ vcenters, logger = silentLogger, graphiql = true, taskWatcher, limits: limitOverrides, client, depots }: GatewayOptions): Gateway {
  const limits = { ...DEFAULT_LIMITS, ...limitOverrides };
  const names = new Set<string>();
  for (const vc of vcenters) {
    if (names.has(vc.name)) throw new Error(`Two vCenters are named "${vc.name}"; names must be unique`);
    names.add(vc.name);
  }
  const upstreams = new Upstreams(vcenters.map((endpoint) => new VCenterClient(endpoint, { ...client, logger: logger.child({ vcenter: endpoint.name }) })));
  const scans = new ScanService(upstreams.list, { ...taskWatcher, logger, depots });
  const yoga = createGatewayYoga({ upstreams, scans, logger, graphiql, limits });
  const server = createServer(guardHttp(yoga, limits));
  const webSockets = serveGraphQLOverWebSocket(yoga, server);

  return {
    yoga,
    server,
    upstreams,
    scans,
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
      await scans.close();
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
      // 4. Log out of every vCenter.
      await Promise.allSettled(upstreams.list.map((c) => c.close()));
    },
  };
}

/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the same path as HTTP and SSE,
 * executed through yoga's envelop so both transports share schema, context and plugins.
 */
function serveGraphQLOverWebSocket(yoga: GatewayYoga, server: Server): WebSocketServer {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  wss.on('connection', (ws, request) => coalesceWrites(ws, request.socket));
  useServer(
    {
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
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
