/**
 * One watcher per vCenter follows every Task that anybody follows, with a single
 * PropertyCollector WaitForUpdatesEx loop: vCenter's own change feed, the way govc waits
 * on tasks, instead of every client polling Task.info. One PropertyFilter per task is
 * created while someone follows it and destroyed when nobody does (or the task is done).
 *
 * The spec advises one waiting call per session: the loop is the only caller of
 * WaitForUpdatesEx on its client's session. When the session is renewed the old filters
 * are gone with it, so the loop recreates them (and restarts its version) in the new one.
 * Where the change feed is unavailable it falls back to one batched RetrievePropertiesEx
 * of every followed task per poll interval.
 */
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { ManagedObjectReference, ObjectContent, TaskInfo, UpdateSet, VCenterClient } from '../vsphere/index.ts';
import { Semaphore, detached, isUpstreamError, moRef, propsOf } from '../vsphere/index.ts';

export type TaskListener = (info: TaskInfo) => void;
/** Called when the watcher gives up on a task: the vCenter stayed unreachable, or the task vanished. */
export type TaskFailureListener = (error: Error) => void;

/** The task is gone from vCenter (a filter reported `leave`, or a read no longer finds it). */
export class TaskVanishedError extends Error {
  constructor(
    readonly taskMoId: string,
    vcenter: string,
  ) {
    super(`Task ${taskMoId} no longer exists in vCenter ${vcenter}`);
    this.name = 'TaskVanishedError';
  }
}

export interface TaskWatcherOptions {
  /** WaitForUpdatesEx maxWaitSeconds: how long one wait may block when nothing changes. */
  maxWaitSeconds?: number;
  /** Poll interval of the fallback mode. */
  pollIntervalMs?: number;
  /** Backoff after a failed round trip, doubled per consecutive failure up to 8×. */
  retryDelayMs?: number;
  /** After failing this long without one success, followers are told the vCenter is unreachable. */
  giveUpAfterMs?: number;
  logger?: Logger;
}

interface Follower {
  onInfo: TaskListener;
  onFailure: TaskFailureListener;
}

interface WatchedTask {
  moId: string;
  followers: Set<Follower>;
  /** The PropertyFilter following this task, and the session generation it was created in. */
  filter?: { moId: string; generation: number };
  /** CreateFilter in flight, so that the loop and follow() never create two. */
  creating?: Promise<void>;
  last?: TaskInfo;
}

const RELEASE_CONCURRENCY = 4;

export function isTerminal(info: TaskInfo | undefined): boolean {
  return info?.state === 'success' || info?.state === 'error';
}

const TASK_INFO_SPEC = (moIds: string[]) => ({
  _typeName: 'PropertyFilterSpec',
  propSet: [{ _typeName: 'PropertySpec', type: 'Task', pathSet: ['info'] }],
  objectSet: moIds.map((moId) => ({ _typeName: 'ObjectSpec', obj: moRef('Task', moId) })),
  reportMissingObjectsInResults: true,
});

export class TaskWatcher {
  private readonly tasks = new Map<string, WatchedTask>();
  private readonly opts: Required<Omit<TaskWatcherOptions, 'logger'>>;
  private readonly logger: Logger;
  private loop: Promise<void> | undefined;
  private version = '';
  private mode: 'wait' | 'poll' = 'wait';
  private waiting = false;
  private closed = false;
  /** Filters being destroyed in the background. */
  private readonly releasing = new Set<Promise<void>>();
  /**
   * Filter clean-up runs a few at a time: when many scans finish together, their releases
   * must leave the vCenter's connection slots to the wait loop and to queries.
   */
  private readonly releaseSlots = new Semaphore(RELEASE_CONCURRENCY);
  /** Resolves an in-progress sleep early (new task, close). */
  private wake: (() => void) | undefined;

  constructor(
    private readonly client: VCenterClient,
    options: TaskWatcherOptions = {},
  ) {
    this.opts = {
      maxWaitSeconds: options.maxWaitSeconds ?? 20,
      pollIntervalMs: options.pollIntervalMs ?? 1_000,
      retryDelayMs: options.retryDelayMs ?? 250,
      giveUpAfterMs: options.giveUpAfterMs ?? 60_000,
    };
    this.logger = (options.logger ?? silentLogger).child({ vcenter: client.name, component: 'task-watcher' });
  }

  /** Whether the watch loop runs now (it stops when no task is followed). */
  loopRunning(): boolean {
    return this.loop !== undefined;
  }

  /** Tasks followed now (diagnostics and tests). */
  followedTasks(): number {
    return this.tasks.size;
  }

  /**
   * Follows a task. `onInfo` gets the task's info now if the watcher already knows it, then
   * every change; it is never called again after a terminal state. Returns the unfollow.
   */
  follow(taskMoId: string, onInfo: TaskListener, onFailure: TaskFailureListener): () => void {
    // The loop, the filters and their release serve every follower: whichever subscriber
    // started them leaving (its call scope aborting) must not cancel them.
    return detached(() => this.followDetached(taskMoId, onInfo, onFailure));
  }

  private followDetached(taskMoId: string, onInfo: TaskListener, onFailure: TaskFailureListener): () => void {
    let task = this.tasks.get(taskMoId);
    if (!task) this.tasks.set(taskMoId, (task = { moId: taskMoId, followers: new Set() }));
    const follower: Follower = { onInfo, onFailure };
    task.followers.add(follower);
    if (task.last) {
      const known = task.last;
      queueMicrotask(() => task.followers.has(follower) && onInfo(known));
    }
    this.start();
    // A wait in progress only returns when something it follows changes: give the new
    // task its filter now, whose initial update ends that wait.
    if (this.waiting) void this.ensureFilter(task).catch(() => this.wake?.());
    return () => detached(() => {
      const current = this.tasks.get(taskMoId);
      if (!current?.followers.delete(follower) || current.followers.size > 0) return;
      this.tasks.delete(taskMoId);
      if (current.filter) this.release(current.filter.moId);
      if (this.activeTasks().length === 0) void this.cancelWait();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const filters = [...this.tasks.values()].flatMap((t) => (t.filter ? [t.filter.moId] : []));
    this.tasks.clear();
    this.wake?.();
    await this.cancelWait();
    await Promise.allSettled([...filters.map((f) => this.destroyFilter(f)), ...this.releasing]);
    await this.loop;
  }

  /** Tasks that still need updates: followed and not yet terminal. */
  private activeTasks(): WatchedTask[] {
    return [...this.tasks.values()].filter((t) => !isTerminal(t.last));
  }

  private start(): void {
    if (this.loop) {
      this.wake?.();
      return;
    }
    this.loop = this.run()
      .catch((error: unknown) => this.logger.error('task watcher stopped unexpectedly', { error }))
      .finally(() => {
        this.loop = undefined;
        // A task may have been followed while the loop was winding down.
        if (!this.closed && this.activeTasks().length > 0) this.start();
      });
  }

  private async run(): Promise<void> {
    let failingSince: number | undefined;
    let failures = 0;
    while (!this.closed && this.activeTasks().length > 0) {
      try {
        if (this.mode === 'wait') await this.waitOnce();
        else await this.pollOnce();
        failingSince = undefined;
        failures = 0;
      } catch (error) {
        if (this.closed) return;
        if (this.mode === 'wait' && isChangeFeedUnavailable(error)) {
          this.logger.warn('WaitForUpdatesEx unavailable: following tasks by batched polling', { error: String(error) });
          this.mode = 'poll';
          continue;
        }
        if (isUpstreamError(error) && error.fault === 'InvalidCollectorVersion') {
          // Same session: the filters still exist upstream. Destroy them, then start over.
          this.releaseFilters();
          continue;
        }
        if (this.mode === 'wait' && this.client.sessionGeneration('vim') !== this.filterGeneration()) {
          // The wait was refused because its session expired, and the session is renewed now:
          // the filters died with the old one. Recreate them in the new session and wait again.
          this.resetFilters();
          continue;
        }
        failures++;
        failingSince ??= Date.now();
        this.logger.warn('task watcher round trip failed; retrying', { error: String(error), failures });
        if (Date.now() - failingSince >= this.opts.giveUpAfterMs) {
          this.failAll(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        await this.sleep(Math.min(this.opts.retryDelayMs * 2 ** (failures - 1), this.opts.retryDelayMs * 8));
      }
    }
  }

  /** One WaitForUpdatesEx round: make sure every active task has a filter, then wait. */
  private async waitOnce(): Promise<void> {
    await this.syncFilters();
    const collector = (await this.client.serviceContent()).propertyCollector.value;
    this.waiting = true;
    let updates: UpdateSet | undefined;
    try {
      updates = await this.client.invoke<UpdateSet | undefined>(
        'PropertyCollector',
        collector,
        'WaitForUpdatesEx',
        { version: this.version, options: { _typeName: 'WaitOptions', maxWaitSeconds: this.opts.maxWaitSeconds } },
        { idempotent: true, timeoutMs: (this.opts.maxWaitSeconds + 15) * 1_000, urgent: true, sessionBound: true },
      );
    } catch (error) {
      // CancelWaitForUpdates (nobody follows any more) ends the wait with RequestCanceled.
      if (isUpstreamError(error) && error.fault === 'RequestCanceled') return;
      throw error;
    } finally {
      this.waiting = false;
    }
    if (!updates) return;
    if (this.client.sessionGeneration('vim') !== this.filterGeneration()) {
      // The session was renewed during the wait: the version belongs to the old session.
      this.resetFilters();
      return;
    }
    this.version = updates.version;
    for (const filterUpdate of updates.filterSet ?? []) {
      for (const objectUpdate of filterUpdate.objectSet ?? []) {
        const task = this.tasks.get(objectUpdate.obj.value);
        if (!task) continue;
        if (objectUpdate.kind === 'leave') {
          this.failTask(task, new TaskVanishedError(task.moId, this.client.name));
          continue;
        }
        const change = objectUpdate.changeSet?.find((c) => c.name === 'info' && c.op !== 'remove');
        if (change?.val) this.deliver(task, change.val as TaskInfo);
      }
    }
  }

  private async pollOnce(): Promise<void> {
    const active = this.activeTasks();
    const objects: ObjectContent[] = await this.client.retrieveProperties([TASK_INFO_SPEC(active.map((t) => t.moId))]);
    const seen = new Set<string>();
    for (const object of objects) {
      const info = propsOf(object)['info'] as TaskInfo | undefined;
      const task = this.tasks.get(object.obj.value);
      if (!task || !info) continue;
      seen.add(task.moId);
      this.deliver(task, info);
    }
    for (const task of active) {
      if (!seen.has(task.moId) && this.tasks.get(task.moId) === task) {
        this.failTask(task, new TaskVanishedError(task.moId, this.client.name));
      }
    }
    if (this.activeTasks().length > 0) await this.sleep(this.opts.pollIntervalMs);
  }

  /** Creates the filters active tasks lack, destroys those of finished tasks. */
  private async syncFilters(): Promise<void> {
    const generation = this.client.sessionGeneration('vim');
    if (generation !== this.filterGeneration()) this.resetFilters();
    await Promise.all(this.activeTasks().map((task) => this.ensureFilter(task)));
  }

  private ensureFilter(task: WatchedTask): Promise<void> {
    if (task.filter) return Promise.resolve();
    task.creating ??= (async () => {
      const collector = (await this.client.serviceContent()).propertyCollector.value;
      const filter = await this.client.invoke<ManagedObjectReference>(
        'PropertyCollector',
        collector,
        'CreateFilter',
        { spec: TASK_INFO_SPEC([task.moId]), partialUpdates: false },
        { idempotent: false },
      );
      // Read after the call: a renewal during it put the filter in the newest session.
      const generation = this.client.sessionGeneration('vim');
      if (this.tasks.get(task.moId) === task && !this.closed) task.filter = { moId: filter.value, generation };
      else await this.destroyFilter(filter.value); // unfollowed while the filter was being created
    })().finally(() => (task.creating = undefined));
    return task.creating;
  }

  /** The session generation the current filters belong to (all share one). */
  private filterGeneration(): number | undefined {
    for (const t of this.tasks.values()) if (t.filter) return t.filter.generation;
    return this.client.sessionGeneration('vim');
  }

  /** Forgets filters that died with an old session; the next round recreates them. */
  private resetFilters(): void {
    this.version = '';
    for (const t of this.tasks.values()) t.filter = undefined;
  }

  /** Destroys every filter of the live session (in the background), then starts over like resetFilters. */
  private releaseFilters(): void {
    for (const t of this.tasks.values()) {
      if (t.filter) this.release(t.filter.moId);
      t.filter = undefined;
    }
    this.version = '';
  }

  private deliver(task: WatchedTask, info: TaskInfo): void {
    const last = task.last;
    if (isTerminal(last)) return; // a terminal state is delivered once, never replaced
    if (last && last.state === info.state && (info.progress ?? 0) < (last.progress ?? 0)) return; // progress never goes back
    if (last && last.state === info.state && last.progress === info.progress && !isTerminal(info)) return;
    task.last = info;
    for (const f of [...task.followers]) this.notify(() => f.onInfo(info));
    if (isTerminal(info) && task.filter) {
      // Nothing more to follow: release the filter now, off the wait loop's path.
      this.release(task.filter.moId);
      task.filter = undefined;
    }
  }

  /** One follower's failing listener must not keep the change from the others nor stop the loop. */
  private notify(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.logger.error('a task follower failed to take an update', { error });
    }
  }

  /** Destroys a filter in the background; close() waits for those still under way. */
  /** Filters already given to release(), newest last (bounded). */
  private readonly released = new Set<string>();

  private release(filterMoId: string): void {
    // Two paths may end the same task (its terminal state and its follower leaving): destroy once.
    if (this.released.has(filterMoId)) return;
    this.released.add(filterMoId);
    if (this.released.size > 10_000) this.released.delete(this.released.values().next().value as string);
    const destroying: Promise<void> = (async () => {
      await this.releaseSlots.acquire();
      try {
        await this.destroyFilter(filterMoId);
      } finally {
        this.releaseSlots.release();
      }
    })().finally(() => this.releasing.delete(destroying));
    this.releasing.add(destroying);
  }

  private failTask(task: WatchedTask, error: Error): void {
    if (isTerminal(task.last)) return;
    this.tasks.delete(task.moId);
    // No filter is forgotten without being destroyed: a `leave` leaves the filter in place upstream.
    if (task.filter) this.release(task.filter.moId);
    task.filter = undefined;
    for (const f of [...task.followers]) this.notify(() => f.onFailure(error));
  }

  private failAll(error: Error): void {
    for (const task of this.activeTasks()) this.failTask(task, error);
    this.resetFilters();
  }

  private async destroyFilter(filterMoId: string): Promise<void> {
    try {
      await this.client.invoke('PropertyFilter', filterMoId, 'DestroyPropertyFilter', undefined, { idempotent: true });
    } catch (error) {
      // Already gone (session renewed, vCenter restarted): nothing to release.
      this.logger.debug('DestroyPropertyFilter failed', { filter: filterMoId, error: String(error) });
    }
  }

  private async cancelWait(): Promise<void> {
    if (!this.waiting) return;
    try {
      const collector = (await this.client.serviceContent()).propertyCollector.value;
      await this.client.invoke('PropertyCollector', collector, 'CancelWaitForUpdates', undefined, { idempotent: true });
    } catch (error) {
      this.logger.debug('CancelWaitForUpdates failed', { error: String(error) });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => (this.wake = undefined));
  }
}

/** vCenters or proxies without the change feed answer NotSupported, or 404 for the method. */
function isChangeFeedUnavailable(error: unknown): boolean {
  return isUpstreamError(error) && (error.fault === 'NotSupported' || (error.code === 'NOT_FOUND' && error.fault !== 'ManagedObjectNotFound'));
}
