/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the same path as HTTP and SSE,
 * executed through yoga's envelop so both transports share schema, context, plugins and
 * limits. What HTTP bounds per request is bounded here per message and per socket:
 *
 * - a message over the body limit closes the socket with 1009 (ws's maxPayload), before it is parsed;
 * - a refused operation (syntax, validation, depth, tokens, caps) gets an `error` message for
 *   that operation id; the socket stays open;
 * - operations and subscriptions running at once per socket are capped;
 * - backpressure: while more than maxSocketBufferBytes wait to be sent to the client, the
 *   gateway stops reading the socket and holds new operations; a socket that stays there
 *   for socketStallMs is closed, which ends its subscriptions and aborts its operations.
 */
import type { IncomingMessage, Server } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { getOperationAST } from 'graphql';
import type { GraphQLError } from 'graphql';
import type { DocumentNode, ExecutionArgs, ExecutionResult } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { hideSuggestions, isGraphQLError, toClientError } from '../graphql/errors.ts';
import type { GatewayYoga } from '../graphql/yoga.ts';
import { Semaphore } from '../vsphere/index.ts';
import type { Caller } from '../auth/caller.ts';
import type { ConcurrencyLimiter } from '../auth/rate-limit.ts';
import { trustedQuery } from '../graphql/trusted-documents.ts';
import type { TrustedDocuments } from '../graphql/trusted-documents.ts';
import { authenticateWebSocket, originAllowed } from './access.ts';
import type { AccessOptions, WebSocketConnectContext } from './access.ts';

export interface WebSocketLimits {
  /** Largest message, bytes (the HTTP body limit). */
  maxPayloadBytes: number;
  maxOperationsPerSocket: number;
  maxSubscriptionsPerSocket: number;
  maxSocketBufferBytes: number;
  socketStallMs: number;
}

/** Who may open a socket (see src/http/access.ts), and how many each caller may hold. */
export interface WebSocketAccess extends AccessOptions {
  webSocketsPerCaller: ConcurrencyLimiter;
  /** Time a client has to send connection_init (graphql-ws closes with 4408 after it). */
  connectionInitWaitTimeoutMs: number;
}

export interface WebSocketOptions {
  yoga: GatewayYoga;
  server: Server;
  limits: WebSocketLimits;
  access: WebSocketAccess;
  /** Connections accepted over the gateway's cap: closed with 1013 (try again later). */
  overCapacity?: (socket: Socket) => boolean;
  /** Trusted-documents mode: the same check as yoga's on HTTP (whose onParams hook does not run here). */
  trustedDocuments?: TrustedDocuments;
}

/** What the gateway holds for one open socket. */
interface SocketState {
  /** Operations accepted or being prepared, by id. */
  operations: Map<string, Operation>;
  subscriptions: number;
  /** Resolves when the socket's send buffer is below the bound again (undefined: it is). */
  drained: Promise<void> | undefined;
  closed: boolean;
  /** Queries and mutations executing on this socket whose result is not yet handed to it. */
  executions: Semaphore;
}

interface Operation {
  controller: AbortController;
  subscription: boolean;
}

export interface WebSocketDiagnostics {
  sockets: number;
  /** Operations held right now, over all sockets. */
  operations: number;
  /** Sockets closed because their client stopped reading. */
  stalledClosed: number;
  /** Operations that started executing, since the gateway started. */
  executed: number;
}

export interface GraphQLWebSocketServer {
  wss: WebSocketServer;
  diagnostics(): WebSocketDiagnostics;
}

/**
 * graphql-ws accepts refusals only as instances of the GraphQLError it loaded: the package's
 * "main" (CommonJS) build, which is what Node resolves for every importer, while bundlers and
 * vitest give TypeScript sources the ESM build. Refusals are made with that class.
 */
const WsGraphQLError = createRequire(import.meta.url)('graphql').GraphQLError as typeof GraphQLError;

/** The code HTTP gives the same refusal (yoga's, or the limit's own); suggestions hidden. */
function withCode(error: GraphQLError, fallback: string): GraphQLError {
  const { http: _status, ...extensions } = toClientError(error).error.extensions as Record<string, unknown>;
  const code = error.extensions?.['code'];
  return new WsGraphQLError(hideSuggestions(error.message), { nodes: error.nodes, extensions: { ...extensions, code: typeof code === 'string' ? code : fallback } });
}

/** Queries and mutations executing at once per socket (see whenWritable). */
const EXECUTIONS_PER_SOCKET = 16;

const refusal = (code: string, message: string) => [new WsGraphQLError(message, { extensions: { code } })];

export function serveGraphQLOverWebSocket({ yoga, server, limits, overCapacity, access, trustedDocuments }: WebSocketOptions): GraphQLWebSocketServer {
  const wss = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: limits.maxPayloadBytes,
    // Browsers send their page's origin on the upgrade: only listed origins (and the gateway's own pages) get in.
    verifyClient: ({ req }: { req: IncomingMessage }) => originAllowed(req, access.corsOrigins),
  });
  /** The caller each socket authenticated as in connection_init. */
  const callers = new WeakMap<object, Caller>();
  const states = new Map<WebSocket, SocketState>();
  let stalledClosed = 0;
  let executed = 0;

  /**
   * Runs an accepted query or mutation once its socket can take more output. Operations
   * arrive in bursts (one TCP read holds hundreds of messages), so at most
   * EXECUTIONS_PER_SOCKET run at once, each holding its place until its result has been
   * written (a turn of the event loop after it resolves): a full buffer is then seen before
   * the next one starts.
   */
  const whenWritable = async (state: SocketState, signal: AbortSignal | undefined, run: () => unknown): Promise<any> => {
    try {
      await state.executions.acquire(false, '', signal);
    } catch {
      return { errors: refusal('CANCELLED', 'The connection is closing') } satisfies ExecutionResult;
    }
    try {
      while (state.drained && !state.closed) await state.drained;
      if (state.closed) return { errors: refusal('CANCELLED', 'The connection is closing') } satisfies ExecutionResult;
      executed++;
      return await run();
    } finally {
      setImmediate(() => state.executions.release());
    }
  };

  wss.on('connection', (ws, request) => {
    if (overCapacity?.(request.socket)) {
      ws.close(1013, 'too many connections; retry later');
      return;
    }
    const state: SocketState = { operations: new Map(), subscriptions: 0, drained: undefined, closed: false, executions: new Semaphore(EXECUTIONS_PER_SOCKET) };
    states.set(ws, state);
    coalesceWrites(ws, request.socket);
    applyBackpressure(ws, request.socket, state, limits, () => stalledClosed++);
    // graphql-ws only notices a client's `complete` for a query once the query is done:
    // peek at it so the query's upstream calls stop now.
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary || data.length > 200 || !data.includes('"complete"')) return;
      try {
        const message = JSON.parse(String(data)) as { type?: unknown; id?: unknown };
        if (message.type === 'complete' && typeof message.id === 'string') state.operations.get(message.id)?.controller.abort();
      } catch {
        // graphql-ws answers malformed messages itself
      }
    });
    ws.once('close', () => {
      state.closed = true;
      for (const operation of state.operations.values()) operation.controller.abort();
      states.delete(ws);
    });
  });

  const stateOf = (ctx: { extra: { socket: WebSocket } }) => states.get(ctx.extra.socket);
  const release = (state: SocketState | undefined, id: string) => {
    const operation = state?.operations.get(id);
    if (!state || !operation) return;
    state.operations.delete(id);
    if (operation.subscription) state.subscriptions--;
  };

  useServer(
    {
      connectionInitWaitTimeout: access.connectionInitWaitTimeoutMs,
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
      execute: (args: any) => whenWritable(args.rootValue.state, args.contextValue.operationSignal, () => args.rootValue.execute(args)),
      // A subscription's events wait for the socket on their own (graphql-ws awaits each send).
      subscribe: async (args: any) => {
        const state: SocketState = args.rootValue.state;
        while (state.drained && !state.closed) await state.drained;
        return args.rootValue.subscribe(args);
      },
      onSubscribe: async (ctx, id, sent) => {
        let params = sent;
        if (trustedDocuments) {
          const outcome = trustedQuery(trustedDocuments, sent, callers.get(ctx.extra));
          if ('error' in outcome) return [outcome.error];
          params = { ...sent, query: outcome.query ?? sent.query };
        }
        const state = stateOf(ctx);
        if (!state || state.closed) return refusal('CANCELLED', 'The connection is closing');
        if (state.operations.size >= limits.maxOperationsPerSocket) {
          return refusal('TOO_MANY_OPERATIONS', `At most ${limits.maxOperationsPerSocket} operations may run at once on one connection`);
        }
        const caller = callers.get(ctx.extra);
        const budget = caller ? access.rateLimiter?.take(caller.key) : undefined;
        if (budget && !budget.ok) return refusal('RATE_LIMITED', `Too many requests; retry after ${Math.ceil(budget.retryAfterMs / 1000)} s`);
        const operation: Operation = { controller: new AbortController(), subscription: false };
        state.operations.set(id, operation);
        try {
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            ...ctx,
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params,
            operationSignal: operation.controller.signal,
            caller,
          });
          let document: DocumentNode;
          try {
            document = parse(params.query);
          } catch (error) {
            release(state, id);
            if (!isGraphQLError(error)) throw error;
            return [withCode(error, 'GRAPHQL_PARSE_FAILED')];
          }
          const errors = validate(schema, document);
          if (errors.length) {
            release(state, id);
            return errors.map((e: GraphQLError) => withCode(e, 'GRAPHQL_VALIDATION_FAILED'));
          }
          operation.subscription = getOperationAST(document, params.operationName)?.operation === 'subscription';
          if (operation.subscription) {
            if (state.subscriptions >= limits.maxSubscriptionsPerSocket) {
              release(state, id);
              return refusal('TOO_MANY_SUBSCRIPTIONS', `At most ${limits.maxSubscriptionsPerSocket} subscriptions may be open on one connection`);
            }
            state.subscriptions++;
          }
          const args: ExecutionArgs & { rootValue: unknown } = {
            schema,
            operationName: params.operationName ?? null,
            document,
            variableValues: params.variables ?? null,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe, state },
          };
          return args;
        } catch (error) {
          release(state, id);
          // Refusals thrown while parsing (syntax, token limit) are the client's, not the socket's.
          if (isGraphQLError(error)) return [withCode(error, 'BAD_USER_INPUT')];
          throw error;
        }
      },
      onComplete: (ctx, id) => release(stateOf(ctx), id),
      onClose: (ctx) => {
        const state = stateOf(ctx);
        if (state) for (const id of [...state.operations.keys()]) release(state, id);
      },
    },
    wss,
  );
  return {
    wss,
    diagnostics: () => ({
      sockets: states.size,
      operations: [...states.values()].reduce((n, s) => n + s.operations.size, 0),
      stalledClosed,
      executed,
    }),
  };
}

/**
 * Watches what waits to be sent to the client. Over the bound, the socket is no longer read
 * (no new messages, so no new work) and `state.drained` holds new operations; below it again,
 * reading resumes. Over the bound for stallMs, the socket is cut: its client is not reading.
 */
function applyBackpressure(ws: WebSocket, socket: Duplex, state: SocketState, limits: WebSocketLimits, onStalled: () => void): void {
  let resume: (() => void) | undefined;
  let stallTimer: NodeJS.Timeout | undefined;
  const check = () => {
    if (state.closed) return;
    if (ws.bufferedAmount > limits.maxSocketBufferBytes) {
      if (resume) return;
      socket.pause();
      state.drained = new Promise<void>((r) => (resume = r));
      stallTimer = setTimeout(() => {
        onStalled();
        ws.terminate();
      }, limits.socketStallMs);
      stallTimer.unref();
    } else if (resume) {
      clearTimeout(stallTimer);
      socket.resume();
      state.drained = undefined;
      resume();
      resume = undefined;
    }
  };
  const send = ws.send.bind(ws) as (...args: unknown[]) => void;
  ws.send = ((...args: unknown[]) => {
    // Cut off (stalled): what was still being produced for it goes nowhere, quietly.
    if (socket.destroyed) return (args.find((a) => typeof a === 'function') as (() => void) | undefined)?.();
    send(...args);
    check();
  }) as WebSocket['send'];
  socket.on('drain', check);
  ws.once('close', () => {
    clearTimeout(stallTimer);
    resume?.();
  });
}

/**
 * One scan change goes to many subscriptions at once, often on the same socket. Corking the
 * socket on the first message of a burst and uncorking once the burst is sent turns hundreds
 * of small writes (a syscall each) into one.
 */
export function coalesceWrites(ws: WebSocket, socket: Duplex): void {
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
