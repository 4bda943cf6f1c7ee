/**
 * The gateway process without its configuration source: vCenter clients, the GraphQL
 * server and the HTTP listener, with an orderly close.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upstreams } from './graphql/context.ts';
import { DEFAULT_LIMITS } from './graphql/limits.ts';
import type { RequestLimits } from './graphql/limits.ts';
import { createGatewayYoga } from './graphql/yoga.ts';
import type { GatewayYoga } from './graphql/yoga.ts';
import { guardHttp, limitConnections } from './http/guard.ts';
import { serveGraphQLOverWebSocket } from './http/websocket.ts';
import type { WebSocketDiagnostics } from './http/websocket.ts';
import type { Logger } from './log.ts';
import { ScanService } from './scans/service.ts';
import type { TaskWatcherOptions } from './scans/task-watcher.ts';
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
  /** Open client connections and WebSocket state (diagnostics and tests). */
  load(): GatewayLoad;
  /** Listens and resolves with the URL of the GraphQL endpoint. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops listening, waits up to graceMs for in-flight requests, then logs out of every vCenter. */
  close(graceMs?: number): Promise<void>;
}

export function createGateway({ vcenters, logger = silentLogger, graphiql = true, taskWatcher, limits: limitOverrides, client }: GatewayOptions): Gateway {
  const limits = { ...DEFAULT_LIMITS, ...limitOverrides };
  const names = new Set<string>();
  for (const vc of vcenters) {
    if (names.has(vc.name)) throw new Error(`Two vCenters are named "${vc.name}"; names must be unique`);
    names.add(vc.name);
  }
  const upstreams = new Upstreams(vcenters.map((endpoint) => new VCenterClient(endpoint, { ...client, logger: logger.child({ vcenter: endpoint.name }) })));
  const scans = new ScanService(upstreams.list, { ...taskWatcher, logger });
  const yoga = createGatewayYoga({ upstreams, scans, logger, graphiql, limits });
  const server = createServer();
  const connections = limitConnections(server, limits.maxConnections);
  server.on(
    'request',
    guardHttp(yoga, { maxBodyBytes: limits.maxBodyBytes, maxDiscardedBodyBytes: limits.maxDiscardedBodyBytes, overCapacity: connections.overCapacity }),
  );
  const graphqlWs = serveGraphQLOverWebSocket({
    yoga,
    server,
    overCapacity: connections.overCapacity,
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
    load: () => ({ connections: connections.open(), ...graphqlWs.diagnostics() }),
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
