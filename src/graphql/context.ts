import type { GraphQLError } from 'graphql';
import type { Caller } from '../auth/caller.ts';
import type { AuditSink } from './audit.ts';
import type { Logger } from '../log.ts';
import type { InventoryMirrors } from '../mirror/index.ts';
import type { OperationRecord } from '../operation-context.ts';
import type { ScanService } from '../scans/service.ts';
import type { VCenterClient } from '../vsphere/index.ts';
import { badInput, toClientError } from './errors.ts';
import { inventoryReader } from './live-inventory.ts';
import type { InventoryReader } from './live-inventory.ts';
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

  /**
   * The vCenters as `caller` reaches them: its own sessions under credential passthrough (so
   * vCenter's permissions decide what it sees), the service account's otherwise.
   */
  forCaller(caller: Caller): Upstreams {
    const credential = caller.credential;
    return credential ? new Upstreams(this.list.map((client) => client.forUser(credential))) : this;
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
  /** The inventory mirrors, when the gateway runs them. */
  mirrors?: InventoryMirrors;
  /**
   * Where this operation reads inventory: the mirrors for service-account callers, unset
   * (read vCenter live) for callers passing their own credential through.
   */
  inventory?: InventoryReader;
  /** Bound to this operation's request id. */
  logger: Logger;
  /** This operation's request id and the counters of its access-log line. */
  operation: OperationRecord;
  /** Where mutations record who changed what. */
  audit: AuditSink;
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
/** What every operation's context is made from: the gateway's own parts, and this operation's record and logger. */
export interface ContextDeps {
  upstreams: Upstreams;
  scans: ScanService;
  logger: Logger;
  audit: AuditSink;
  operation: OperationRecord;
  mirrors?: InventoryMirrors;
}

/**
 * A context for one operation of `caller`: its vCenters as the caller reaches them, fresh
 * loaders, its own partial errors. Also the context of a shared subscription execution,
 * which must not borrow a subscriber's.
 */
export function createContext(deps: ContextDeps, caller: Caller): GraphQLContext {
  const { logger } = deps;
  const upstreams = deps.upstreams.forCaller(caller);
  const scans = upstreams === deps.upstreams ? deps.scans : deps.scans.forCaller((vcenter) => upstreams.get(vcenter));
  const inventory = inventoryReader(deps.mirrors, caller);
  const partialErrors: GraphQLError[] = [];
  return {
    caller,
    upstreams,
    loaders: createLoaders(upstreams, scans, inventory),
    scans,
    ...(deps.mirrors ? { mirrors: deps.mirrors } : {}),
    ...(inventory ? { inventory } : {}),
    logger,
    audit: deps.audit,
    operation: deps.operation,
    partialErrors,
    reportPartialFailure(error, path, vcenter) {
      const { error: clientError, unexpected } = toClientError(error, { path });
      if (unexpected) logger.error('unexpected error reading a vCenter', { vcenter, error });
      else logger.warn('vCenter failed; answering with the others', { vcenter, code: clientError.extensions['code'] });
      partialErrors.push(clientError);
    },
  };
}
