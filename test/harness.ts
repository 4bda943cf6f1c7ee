/**
 * Test harness: a simulator and a gateway on ephemeral loopback ports, and a GraphQL client
 * that speaks plain HTTP to the gateway like any other client would.
 */
import { createGateway } from '../src/gateway.ts';
import type { Gateway, GatewayOptions } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';
import { withoutCallerLimits } from '../src/auth/config.ts';
import { DEPOT_URLS, startSimulator } from '../src/simulator/index.ts';
import type { SimStats, Simulator, SimulatorOptions } from '../src/simulator/index.ts';
import { Agent, fetch as undiciFetch } from 'undici';
import type { VCenterEndpoint } from '../src/vsphere/index.ts';

export interface GraphQLResponse<T = any> {
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

/** GET /_sim/stats of a simulated vCenter over HTTPS, verified with the simulator's CA. */
export async function simStatsOverHttp(sim: Simulator, vcenterUrl: string): Promise<SimStats> {
  const dispatcher = new Agent({ connect: { ca: sim.caPem } });
  try {
    const response = await undiciFetch(`${vcenterUrl}/_sim/stats`, { dispatcher, signal: AbortSignal.timeout(5_000) });
    return (await response.json()) as SimStats;
  } finally {
    await dispatcher.close();
  }
}

export interface Harness {
  sim: Simulator;
  gateway: Gateway;
  url: string;
  /** Every line the gateway logged. */
  logs: string[];
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

export const LOGIN_ROUTES = [
  'POST /api/session',
  'POST /sdk/vim25/{release}/SessionManager/{moId}/Login',
];

/** Upstream requests of one simulated vCenter since its last reset, logins excluded. */
export function requestsWithoutLogins(stats: { requests: Record<string, number> }): number {
  return Object.entries(stats.requests)
    .filter(([route]) => !LOGIN_ROUTES.includes(route))
    .reduce((sum, [, n]) => sum + n, 0);
}

export async function startHarness(
  options: SimulatorOptions = {},
  endpoints?: (sim: Simulator) => VCenterEndpoint[],
  gatewayOptions: Pick<GatewayOptions, 'taskWatcher' | 'client' | 'limits' | 'auth' | 'bearer' | 'audit' | 'inventoryMirror' | 'depots' | 'trustedDocuments'> = {},
): Promise<Harness> {
  const sim = await startSimulator({ seed: 1, ...options });
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const vcenters =
    endpoints?.(sim) ??
    sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: sim.username, password: sim.password, caPem: sim.caPem }));
  // As `npm start` does in front of the simulator: its depots are allowed unless the test says otherwise.
  // Tests of other things send bursts from one loopback address; the per-caller limits have tests of their own.
  const gateway = createGateway({ vcenters, logger, auth: withoutCallerLimits(), depots: { allow: DEPOT_URLS }, ...gatewayOptions });
  const url = await gateway.listen(0, '127.0.0.1');
  return {
    sim,
    gateway,
    url,
    logs,
    async gql(query, variables) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(20_000),
      });
      return (await response.json()) as GraphQLResponse;
    },
    async close() {
      await gateway.close(1_000);
      await sim.close();
    },
  };
}

export function codes(response: GraphQLResponse): string[] {
  return (response.errors ?? []).map((e) => e.extensions?.['code']);
}

/** Polls `read` until `ok` accepts its value (bounded by `ms`); for state that settles asynchronously. */
export async function eventually<T>(read: () => T | Promise<T>, ok: (value: T) => boolean = Boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in ${ms} ms; last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
