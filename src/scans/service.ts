/**
 * Patch scans as the gateway knows them: starting ScanHostPatchV2_Task on hosts, reading
 * and cancelling the Tasks, and following them live through one TaskWatcher per vCenter.
 */
import type { Logger } from '../log.ts';
import { redactUrlQuery, silentLogger } from '../log.ts';
import type {
  HostPatchManagerPatchManagerOperationSpec,
  ManagedObjectReference,
  TaskInfo,
  VCenterClient,
} from '../vsphere/index.ts';
import { moRef, propsOf } from '../vsphere/index.ts';
import { DepotPolicy } from './depots.ts';
import type { DepotPolicyOptions } from './depots.ts';
import { LatestPerKeyQueue } from './latest-queue.ts';
import { TaskVanishedError, TaskWatcher, isTerminal } from './task-watcher.ts';
import type { TaskWatcherOptions } from './task-watcher.ts';

export interface ScanRef {
  vcenter: string;
  taskMoId: string;
}

export interface ScanEvent extends ScanRef {
  /** The latest state; for an expired scan, the last state seen before vCenter dropped the task. */
  info: TaskInfo;
  /** vCenter no longer has the task: the stream's last event for this scan. */
  expired?: boolean;
}


/** What patch scans need to know of a host; `patchManager` is optional in HostConfigManager. */
export interface ScanTarget {
  patchManager?: string;
  connectionState?: string;
  /** vCenter answered the host's properties with NoPermission: the caller may not use it. */
  forbidden?: true;
}

/** How many started scans' hosts are remembered (TaskInfo.entity is optional: the host must not depend on it). */
const REMEMBERED_SCANS = 10_000;

export type ScanStartOutcome = { host: string; task: string } | { host: string; error: unknown };

export interface ScanOptions {
  proxy?: string | null;
  port?: number | null;
  userName?: string | null;
  password?: string | null;
  cmdOption?: string | null;
}

/** A host the gateway can tell cannot be scanned before asking it: the client's mistake, not a failure. */
export class ScanTargetError extends Error {
  override name = 'ScanTargetError';
  constructor(
    readonly code: 'NOT_FOUND' | 'NOT_SUPPORTED' | 'HOST_NOT_CONNECTED' | 'FORBIDDEN',
    message: string,
  ) {
    super(message);
  }
}

export interface ScanServiceOptions extends TaskWatcherOptions {
  /** Which depots and options clients may hand to hosts. */
  depots?: DepotPolicyOptions;
}

/** The method name vCenter records in TaskInfo.name for a patch scan. */
export const SCAN_TASK_NAME = 'ScanHostPatchV2_Task';

export class ScanService {
  private readonly clients: Map<string, VCenterClient>;
  private readonly watchers = new Map<string, TaskWatcher>();
  /** Stops of the live subscriber streams, so that shutdown can complete them. */
  private readonly streams = new Set<() => void>();
  private readonly logger: Logger;
  private readonly watcherOptions: TaskWatcherOptions;
  readonly depots: DepotPolicy;
  /** scanKey → host MoID of scans started here, oldest first (bounded). */
  private readonly startedOn = new Map<string, string>();

  constructor(clients: readonly VCenterClient[], { depots, ...watcherOptions }: ScanServiceOptions = {}) {
    this.clients = new Map(clients.map((c) => [c.name, c]));
    this.watcherOptions = watcherOptions;
    this.logger = watcherOptions.logger ?? silentLogger;
    this.depots = new DepotPolicy(depots);
  }

  /** Set on a caller's view (forCaller): the client that acts as that caller on a vCenter. */
  private callerClient: ((vcenter: string) => VCenterClient) | undefined;

  /**
   * The same service acting as a caller (credential passthrough): scans are started, cancelled
   * and read through the caller's own sessions, so vCenter's permissions apply and its task list
   * names the caller; the watch loops and subscriber streams stay shared (the view inherits them).
   */
  forCaller(clientOf: (vcenter: string) => VCenterClient): ScanService {
    const view = Object.create(this) as ScanService;
    view.callerClient = clientOf;
    return view;
  }

  private serviceClient(vcenter: string): VCenterClient {
    const client = this.clients.get(vcenter);
    if (!client) throw new Error(`No vCenter named "${vcenter}" is configured`);
    return client;
  }

  private client(vcenter: string): VCenterClient {
    const client = this.serviceClient(vcenter);
    return this.callerClient?.(vcenter) ?? client;
  }

  watcher(vcenter: string): TaskWatcher {
    let watcher = this.watchers.get(vcenter);
    if (!watcher) {
      // One loop per vCenter for everybody, on the service account's session: it only follows
      // tasks that a caller was first allowed to read through its own session.
      watcher = new TaskWatcher(this.serviceClient(vcenter), { ...this.watcherOptions, logger: this.logger });
      this.watchers.set(vcenter, watcher);
    }
    return watcher;
  }

  /**
   * Each host's HostPatchManager and connection state, in one PropertyCollector call. Hosts
   * vCenter does not know are absent; a host the caller may not read is marked forbidden (vCenter
   * answers its properties with NoPermission); a host without a patch manager has none.
   */
  async scanTargets(vcenter: string, hostMoIds: readonly string[]): Promise<Map<string, ScanTarget>> {
    const objects = await this.client(vcenter).retrieveProperties([
      {
        _typeName: 'PropertyFilterSpec',
        propSet: [{ _typeName: 'PropertySpec', type: 'HostSystem', pathSet: ['configManager.patchManager', 'runtime.connectionState'] }],
        objectSet: hostMoIds.map((moId) => ({ _typeName: 'ObjectSpec', obj: moRef('HostSystem', moId) })),
        reportMissingObjectsInResults: true,
      },
    ]);
    const targets = new Map<string, ScanTarget>();
    for (const object of objects) {
      if (object.missingSet?.some((m) => m.fault?._typeName === 'NoPermission')) {
        targets.set(object.obj.value, { forbidden: true });
        continue;
      }
      if (object.missingSet?.length && !object.propSet?.length) continue;
      const props = propsOf(object);
      const manager = props['configManager.patchManager'] as ManagedObjectReference | undefined;
      const state = props['runtime.connectionState'] as string | undefined;
      targets.set(object.obj.value, { ...(manager ? { patchManager: manager.value } : {}), ...(state ? { connectionState: state } : {}) });
    }
    return targets;
  }

  /** The host a scan started here runs on (undefined for scans started elsewhere, or long ago). */
  hostOf(ref: ScanRef): string | undefined {
    return this.startedOn.get(scanKey(ref));
  }

  private remember(ref: ScanRef, host: string): void {
    this.startedOn.set(scanKey(ref), host);
    if (this.startedOn.size > REMEMBERED_SCANS) this.startedOn.delete(this.startedOn.keys().next().value as string);
  }

  /**
   * Starts one scan per host, in parallel; each host's outcome stands alone, so one host
   * that refuses does not fail the others. Never retried: a repeated call would start a
   * second scan (or fail with TaskInProgress).
   */
  async start(vcenter: string, hostMoIds: readonly string[], metaUrls: readonly string[], options?: ScanOptions | null): Promise<ScanStartOutcome[]> {
    const client = this.client(vcenter);
    const targets = await this.scanTargets(vcenter, hostMoIds);
    const spec = operationSpec(options);
    return Promise.all(
      hostMoIds.map(async (host): Promise<ScanStartOutcome> => {
        const target = targets.get(host);
        if (!target) return { host, error: new ScanTargetError('NOT_FOUND', `Host ${host} does not exist in vCenter ${vcenter}`) };
        if (target.forbidden) return { host, error: new ScanTargetError('FORBIDDEN', `vCenter ${vcenter} does not let this caller read host ${host}`) };
        if (target.connectionState !== undefined && target.connectionState !== 'connected') {
          return { host, error: new ScanTargetError('HOST_NOT_CONNECTED', `Host ${host} is ${target.connectionState}: vCenter cannot scan it`) };
        }
        const manager = target.patchManager;
        if (!manager) {
          return { host, error: new ScanTargetError('NOT_SUPPORTED', `Host ${host} has no patch manager (configManager.patchManager is unset): vCenter cannot scan it`) };
        }
        try {
          const task = await client.invoke<ManagedObjectReference>(
            'HostPatchManager',
            manager,
            'ScanHostPatchV2_Task',
            { metaUrls: [...metaUrls], ...(spec ? { spec } : {}) },
            { idempotent: false },
          );
          this.logger.info('patch scan started', { vcenter, host, task: task.value, metaUrls: metaUrls.map(redactUrlQuery) });
          this.remember({ vcenter, taskMoId: task.value }, host);
          return { host, task: task.value };
        } catch (error) {
          return { host, error };
        }
      }),
    );
  }

  /** Task.info of many tasks in one call per vCenter; tasks vCenter no longer has are absent. */
  async taskInfos(refs: readonly ScanRef[]): Promise<Map<string, TaskInfo>> {
    const byVCenter = new Map<string, string[]>();
    for (const ref of refs) byVCenter.set(ref.vcenter, [...(byVCenter.get(ref.vcenter) ?? []), ref.taskMoId]);
    const infos = new Map<string, TaskInfo>();
    await Promise.all(
      [...byVCenter].map(async ([vcenter, moIds]) => {
        const objects = await this.client(vcenter).retrieveProperties([
          {
            _typeName: 'PropertyFilterSpec',
            propSet: [{ _typeName: 'PropertySpec', type: 'Task', pathSet: ['info'] }],
            objectSet: moIds.map((moId) => ({ _typeName: 'ObjectSpec', obj: moRef('Task', moId) })),
            reportMissingObjectsInResults: true,
          },
        ]);
        for (const object of objects) {
          const info = propsOf(object)['info'] as TaskInfo | undefined;
          if (info) infos.set(scanKey({ vcenter, taskMoId: object.obj.value }), info);
        }
      }),
    );
    return infos;
  }

  /** Recent patch scans of many hosts: HostSystem.recentTask followed to each Task's info, one call. */
  async recentScans(vcenter: string, hostMoIds: readonly string[]): Promise<Map<string, TaskInfo[]>> {
    const objects = await this.client(vcenter).retrieveProperties([
      {
        _typeName: 'PropertyFilterSpec',
        propSet: [{ _typeName: 'PropertySpec', type: 'Task', pathSet: ['info'] }],
        objectSet: hostMoIds.map((moId) => ({
          _typeName: 'ObjectSpec',
          obj: moRef('HostSystem', moId),
          skip: true,
          selectSet: [{ _typeName: 'TraversalSpec', name: 'recentTasks', type: 'HostSystem', path: 'recentTask', skip: false }],
        })),
        reportMissingObjectsInResults: true,
      },
    ]);
    const byHost = new Map<string, TaskInfo[]>(hostMoIds.map((h) => [h, []]));
    for (const object of objects) {
      const info = propsOf(object)['info'] as TaskInfo | undefined;
      if (info?.name === SCAN_TASK_NAME && info.entity) byHost.get(info.entity.value)?.push(info);
    }
    return byHost;
  }

  cancel(ref: ScanRef): Promise<void> {
    return this.client(ref.vcenter).invoke('Task', ref.taskMoId, 'CancelTask', undefined, { idempotent: false }) as Promise<void>;
  }

  /**
   * A stream for one subscriber: `initial` first (read fresh from vCenter by the caller),
   * then every change the watchers see. Per scan, progress never goes back and the terminal
   * state arrives exactly once; the stream ends when every scan is terminal, or with an
   * error when a vCenter stays unreachable.
   */
  follow(refs: readonly ScanRef[], initial: ReadonlyMap<string, TaskInfo>): AsyncIterableIterator<ScanEvent> {
    let unfollows: (() => void)[] = [];
    const finish = () => {
      this.streams.delete(end);
      for (const unfollow of unfollows) unfollow();
      unfollows = [];
    };
    // Unread changes of a scan collapse into its newest state: a subscriber that reads slowly
    // holds one pending event per scan, and the watch loop that feeds every follower never
    // waits for it nor fails because of it. A terminal state is a scan's last, so never lost.
    const stream = new LatestPerKeyQueue<ScanEvent>(finish);
    const end = (error?: unknown) => {
      stream.end(error);
      finish();
    };
    this.streams.add(end);
    const lastSent = new Map<string, TaskInfo>();
    const open = new Set(refs.map(scanKey));
    const send = (ref: ScanRef, info: TaskInfo) => {
      const key = scanKey(ref);
      const last = lastSent.get(key);
      if (!open.has(key) || stream.isEnded) return;
      if (last && last.state === info.state && (info.progress ?? 0) <= (last.progress ?? 0) && !isTerminal(info)) return;
      if (last && stateRank(info.state) < stateRank(last.state)) return;
      lastSent.set(key, info);
      stream.push({ ...ref, info }, key);
      if (isTerminal(info)) {
        open.delete(key);
        if (open.size === 0) end();
      }
    };
    // vCenter dropped the task: the scan ends EXPIRED with the last state seen; the others go on.
    const expire = (ref: ScanRef) => {
      const key = scanKey(ref);
      if (!open.has(key) || stream.isEnded) return;
      const info = lastSent.get(key) ?? initial.get(key);
      open.delete(key);
      if (info) stream.push({ ...ref, info, expired: true }, key);
      if (open.size === 0) end();
    };
    for (const ref of refs) {
      const info = initial.get(scanKey(ref));
      if (info) send(ref, info);
    }
    if (!stream.isEnded) {
      unfollows = refs
        .filter((ref) => open.has(scanKey(ref)))
        .map((ref) =>
          this.watcher(ref.vcenter).follow(
            ref.taskMoId,
            (info) => send(ref, info),
            (error) => (error instanceof TaskVanishedError ? expire(ref) : end(error)),
          ),
        );
      if (stream.isEnded) finish(); // ended while subscribing: release what was just followed
    }
    return stream;
  }

  /** Watch loops and followed tasks per vCenter (diagnostics and tests). */
  diagnostics(): Record<string, { followedTasks: number; watchLoop: boolean }> {
    return Object.fromEntries([...this.watchers].map(([name, w]) => [name, { followedTasks: w.followedTasks(), watchLoop: w.loopRunning() }]));
  }

  /** Completes every subscriber stream, then stops the watch loops (destroying their filters). */
  async close(): Promise<void> {
    for (const end of [...this.streams]) end();
    await Promise.allSettled([...this.watchers.values()].map((w) => w.close()));
  }
}

export function scanKey(ref: ScanRef): string {
  return `${ref.vcenter}\u0000${ref.taskMoId}`;
}

function stateRank(state: TaskInfo['state']): number {
  return { queued: 0, running: 1, success: 2, error: 2 }[state];
}

function operationSpec(options: ScanOptions | null | undefined): HostPatchManagerPatchManagerOperationSpec | undefined {
  if (!options) return undefined;
  const spec: HostPatchManagerPatchManagerOperationSpec = { _typeName: 'HostPatchManagerPatchManagerOperationSpec' };
  if (options.proxy != null) spec.proxy = options.proxy;
  if (options.port != null) spec.port = options.port;
  if (options.userName != null) spec.userName = options.userName;
  if (options.password != null) spec.password = options.password;
  if (options.cmdOption != null) spec.cmdOption = options.cmdOption;
  return Object.keys(spec).length > 1 ? spec : undefined;
}
