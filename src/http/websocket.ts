/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the same path as HTTP and SSE,
 * executed through yoga's envelop so both transports share schema, context and plugins.
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { GatewayYoga } from '../graphql/yoga.ts';

export interface WebSocketOptions {
  yoga: GatewayYoga;
  server: Server;
}

export function serveGraphQLOverWebSocket({ yoga, server }: WebSocketOptions): WebSocketServer {
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
