/**
 * The gateway process without its configuration source: vCenter clients, the GraphQL
 * server and the HTTP listener, with an orderly close.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Upstreams } from './graphql/context.ts';
import { createGatewayYoga } from './graphql/yoga.ts';
import type { GatewayYoga } from './graphql/yoga.ts';
import type { Logger } from './log.ts';
import { silentLogger } from './log.ts';
import { VCenterClient } from './vsphere/index.ts';
import type { VCenterEndpoint } from './vsphere/index.ts';

export interface GatewayOptions {
  vcenters: VCenterEndpoint[];
  logger?: Logger;
  graphiql?: boolean;
}

export interface Gateway {
  yoga: GatewayYoga;
  server: Server;
  upstreams: Upstreams;
  /** Listens and resolves with the URL of the GraphQL endpoint. */
  listen(port: number, host?: string): Promise<string>;
  /** Stops listening, waits up to graceMs for in-flight requests, then logs out of every vCenter. */
  close(graceMs?: number): Promise<void>;
}

export function createGateway({ vcenters, logger = silentLogger, graphiql = true }: GatewayOptions): Gateway {
  const names = new Set<string>();
  for (const vc of vcenters) {
    if (names.has(vc.name)) throw new Error(`Two vCenters are named "${vc.name}"; names must be unique`);
    names.add(vc.name);
  }
  const upstreams = new Upstreams(vcenters.map((endpoint) => new VCenterClient(endpoint, { logger: logger.child({ vcenter: endpoint.name }) })));
  const yoga = createGatewayYoga({ upstreams, logger, graphiql });
  const server = createServer(yoga);

  return {
    yoga,
    server,
    upstreams,
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
      // Stop accepting, let in-flight requests finish, then cut what is left (long-lived streams).
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      clearTimeout(cut);
      await Promise.allSettled(upstreams.list.map((c) => c.close()));
    },
  };
}
