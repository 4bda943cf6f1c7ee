// vCenter Tasks, as created by HostPatchManager.ScanHostPatchV2_Task. A
// task's state is a function of time since it was queued (queued → running
// with rising progress → success), so no timers need cleaning up and every
// reader sees a consistent TaskInfo; cancelling freezes it in 'error'.

import { fault } from './faults.ts';
import type { FaultBody } from './faults.ts';
import type { MoRef } from './inventory.ts';
import { bool, data, dateTime, enumOf, int, moref, str } from './vim-values.ts';
import type { VimValue } from './vim-values.ts';

export type TaskState = 'queued' | 'running' | 'success' | 'error';

export interface SimTask {
  moId: string;
  name: string;
  descriptionId: string;
  entity: MoRef;
  entityName: string;
  userName: string;
  eventChainId: number;
  queueTime: number;
  /** How long the task runs before it completes. */
  durationMs: number;
  /** Set when cancelled: the task ends in error with RequestCanceled. */
  cancelledAt?: number;
  /** A fault the task ends with instead of its result. */
  failure?: FaultBody;
  result: (now: number) => VimValue | undefined;
}

/** Time a task waits in the queue before it starts running. */
const QUEUED_MS = 20;

export function taskState(t: SimTask, now: number): { state: TaskState; progress?: number; startTime?: number; completeTime?: number } {
  const end = t.queueTime + QUEUED_MS + t.durationMs;
  const start = t.queueTime + QUEUED_MS;
  // Progress moves in steps of 10 like hostd reports it.
  const progressAt = (at: number): number => Math.min(90, Math.floor(((at - start) / t.durationMs) * 10) * 10);
  if (t.cancelledAt !== undefined) {
    // A cancelled task keeps the progress it had reached: progress never goes backwards.
    return t.cancelledAt < start
      ? { state: 'error', completeTime: t.cancelledAt }
      : { state: 'error', startTime: start, completeTime: t.cancelledAt, progress: progressAt(t.cancelledAt) };
  }
  if (now < start) return { state: 'queued' };
  if (now < end) return { state: 'running', startTime: start, progress: progressAt(now) };
  return { state: t.failure ? 'error' : 'success', startTime: start, completeTime: end, progress: 100 };
}

/** When taskState(t) next changes (start, each progress step, the end); undefined once it no longer will. */
export function nextChangeAt(t: SimTask, now: number): number | undefined {
  const start = t.queueTime + QUEUED_MS;
  const end = start + t.durationMs;
  if (t.cancelledAt !== undefined || now >= end) return undefined;
  if (now < start) return start;
  const step = t.durationMs / 10;
  // Progress steps of 10: the tenth step is the end.
  return Math.min(start + (Math.floor((now - start) / step) + 1) * step, end);
}

export function isTerminal(t: SimTask, now: number): boolean {
  const s = taskState(t, now).state;
  return s === 'success' || s === 'error';
}

/** A fault body as a typed value (strings, numbers, booleans, MoRefs, nested faults). */
function faultValue(f: Record<string, unknown>): VimValue {
  const value = (v: unknown): VimValue | undefined => {
    if (typeof v === 'string') return str(v);
    if (typeof v === 'boolean') return bool(v);
    if (typeof v === 'number') return int(v);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (o._typeName === 'ManagedObjectReference') return moref(String(o.type), String(o.value));
      return faultValue(o);
    }
    return undefined;
  };
  return data(String(f._typeName), Object.fromEntries(Object.entries(f).filter(([k]) => k !== '_typeName').map(([k, v]) => [k, value(v)])));
}

export function taskInfo(t: SimTask, now: number): VimValue {
  const s = taskState(t, now);
  const iso = (ms: number | undefined): VimValue | undefined => (ms === undefined ? undefined : dateTime(new Date(ms).toISOString()));
  let error: VimValue | undefined;
  if (s.state === 'error') error = faultValue(t.cancelledAt !== undefined ? fault.requestCanceled().body : (t.failure ?? fault.systemError('unknown').body));
  return data('TaskInfo', {
    key: str(t.moId),
    task: moref('Task', t.moId),
    name: str(t.name),
    descriptionId: str(t.descriptionId),
    entity: moref(t.entity.type, t.entity.value),
    entityName: str(t.entityName),
    state: enumOf('TaskInfoState', s.state),
    cancelled: bool(t.cancelledAt !== undefined),
    cancelable: bool(!isTerminal(t, now)),
    error,
    result: s.state === 'success' ? t.result(now) : undefined,
    progress: s.progress === undefined ? undefined : int(s.progress),
    reason: data('TaskReasonUser', { userName: str(t.userName) }),
    queueTime: dateTime(new Date(t.queueTime).toISOString()),
    startTime: iso(s.startTime),
    completeTime: iso(s.completeTime),
    eventChainId: int(t.eventChainId),
  });
}

/** How long vCenter keeps a finished task in recentTask and readable, ~10 minutes. */
export const TASK_RETENTION_MS = 10 * 60_000;

export class TaskStore {
  private readonly all = new Map<string, SimTask>();
  private counter = 1000;

  constructor(
    private readonly defaultDurationMs: number,
    private readonly retentionMs = TASK_RETENTION_MS,
    /** Tasks vCenter drops halfway through running (quirks.dropTasksOf). */
    private readonly vanishes: (t: SimTask) => boolean = () => false,
  ) {}

  /** Tasks still known to vCenter (finished ones are forgotten after the retention time). */
  get tasks(): Map<string, SimTask> {
    const now = Date.now();
    for (const [id, t] of this.all) {
      const done = taskState(t, now).completeTime;
      if (done !== undefined && now - done > this.retentionMs) this.all.delete(id);
      else if (t.cancelledAt === undefined && now >= t.queueTime + QUEUED_MS + t.durationMs / 2 && this.vanishes(t)) this.all.delete(id);
    }
    return this.all;
  }

  /** TaskManager.recentTask: queued, running and recently finished tasks, oldest first. */
  recent(): SimTask[] {
    return [...this.tasks.values()];
  }

  /** The next instant any task's state changes, so that a waiting WaitForUpdatesEx answers then, not at its next poll. */
  nextChangeAt(now: number): number | undefined {
    let next: number | undefined;
    for (const t of this.all.values()) {
      const at = nextChangeAt(t, now);
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  counts(): { live: number; running: number } {
    const now = Date.now();
    const tasks = this.recent();
    return { live: tasks.length, running: tasks.filter((t) => !isTerminal(t, now)).length };
  }

  create(init: Omit<SimTask, 'moId' | 'eventChainId' | 'queueTime' | 'durationMs'> & { durationMs?: number }): SimTask {
    const n = ++this.counter;
    const task: SimTask = { ...init, moId: `task-${n}`, eventChainId: n, queueTime: Date.now(), durationMs: init.durationMs ?? this.defaultDurationMs };
    this.all.set(task.moId, task);
    return task;
  }

  /** Tasks on an entity, newest last (HostSystem.recentTask). */
  forEntity(entity: string): SimTask[] {
    return this.recent().filter((t) => t.entity.value === entity);
  }
}
