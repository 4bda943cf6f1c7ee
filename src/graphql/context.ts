import type { GraphQLError } from 'graphql';
import type { Caller } from '../auth/caller.ts';
import type { Logger } from '../log.ts';
import type { ScanService } from '../scans/service.ts';
import type { VCenterClient } from '../vsphere/index.ts';
import { badInput, toClientError } from './errors.ts';
import { createLoaders } from './loaders.ts';
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
  scans: ScanService;
  logger: Logger;
  /**
   * Records that one vCenter failed under a field that spans several: the field still
   * returns the others' data and the failure is appended to the response's errors.
   */
  reportPartialFailure(error: unknown, path: ReadonlyArray<string | number>, vcenter: string): void;
  /** Errors recorded by reportPartialFailure, drained into the response by the partial-results plugin. */
  partialErrors: GraphQLError[];
  /**
   * Set on the context of a shared subscription execution: a subscription resolver names the
   * key of the event it resolves (a scan), so a late subscriber is replayed the newest result
   * of every key, not only the last one.
   */
  onSubscriptionEvent?: (key: string) => void;
}

/**
 * A context for one operation of `caller`: fresh loaders, its own partial errors. Also the
 * context of a shared subscription execution, which must not borrow a subscriber's.
 */
export function createContext(
  { upstreams, scans, logger }: Pick<GraphQLContext, 'upstreams' | 'scans' | 'logger'>,
  caller: Caller,
): GraphQLContext {
  const partialErrors: GraphQLError[] = [];
  return {
    caller,
    upstreams,
    loaders: createLoaders(upstreams, scans),
    scans,
    logger,
    partialErrors,
    reportPartialFailure(error, path, vcenter) {
      const { error: clientError, unexpected } = toClientError(error, { path });
      if (unexpected) logger.error('unexpected error reading a vCenter', { vcenter, error });
      else logger.warn('vCenter failed; answering with the others', { vcenter, code: clientError.extensions['code'] });
      partialErrors.push(clientError);
    },
  };
}
