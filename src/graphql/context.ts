import type { GraphQLError } from 'graphql';
import type { Caller } from '../auth/caller.ts';
import type { Logger } from '../log.ts';
import type { ScanService } from '../scans/service.ts';
import type { VCenterClient } from '../vsphere/index.ts';
import { badInput } from './errors.ts';
import type { Loaders } from './loaders.ts';

/** The vCenters behind the gateway, in configuration order (which is also result order). */
export class Upstreams {
  readonly list: readonly VCenterClient[];
  private readonly byName: Map<string, { client: VCenterClient; index: number }>;

  constructor(clients: readonly VCenterClient[]) {
    this.list = clients;
    this.byName = new Map(clients.map((client, index) => [client.name, { client, index }]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The client for a vCenter named by a client-supplied ID; BAD_USER_INPUT when there is none. */
  get(name: string): VCenterClient {
    const entry = this.byName.get(name);
    if (!entry) throw badInput(`No vCenter named "${name}" is configured`);
    return entry.client;
  }

  indexOf(name: string): number {
    return this.byName.get(name)?.index ?? Number.MAX_SAFE_INTEGER;
  }
}

export interface GraphQLContext {
  /** Who runs this operation; decided before execution by the authentication mode. */
  caller: Caller;
  upstreams: Upstreams;
  /** Per-request DataLoaders: batching and de-duplication never outlive one operation. */
  loaders: Loaders;
  /** Aborted when the operation passes its deadline: upstream paged reads stop. */
  operation: AbortController;
  scans: ScanService;
  logger: Logger;
  /**
   * Records that one vCenter failed under a field that spans several: the field still
   * returns the others' data and the failure is appended to the response's errors.
   */
  reportPartialFailure(error: unknown, path: ReadonlyArray<string | number>, vcenter: string): void;
  /** Errors recorded by reportPartialFailure, drained into the response by the partial-results plugin. */
  partialErrors: GraphQLError[];
}
