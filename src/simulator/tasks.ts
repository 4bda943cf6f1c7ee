// vCenter Tasks, as created by HostPatchManager.ScanHostPatchV2_Task. A
// task's state is a function of time since it was queued (queued → running
// with rising progress → success), so no timers need cleaning up and every
// reader sees a consistent TaskInfo; cancelling freezes it in 'error'.

import { ESXI_RELEASES, releaseRank } from './catalog.ts';
import type { MoRef, SimHost } from './inventory.ts';
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
  failure?: Record<string, unknown>;
  result: (now: number) => VimValue | undefined;
}

/** Time a task waits in the queue before it starts running. */
const QUEUED_MS = 20;

export function taskState(t: SimTask, now: number): { state: TaskState; progress?: number; startTime?: number; completeTime?: number } {
  const end = t.queueTime + QUEUED_MS + t.durationMs;
  const start = t.queueTime + QUEUED_MS;
  if (t.cancelledAt !== undefined) {
    return t.cancelledAt < start ? { state: 'error', completeTime: t.cancelledAt } : { state: 'error', startTime: start, completeTime: t.cancelledAt };
  }
  if (now < start) return { state: 'queued' };
  if (now < end) {
    // Progress moves in steps of 10 like hostd reports it.
    return { state: 'running', startTime: start, progress: Math.min(90, Math.floor(((now - start) / t.durationMs) * 10) * 10) };
  }
  return { state: t.failure ? 'error' : 'success', startTime: start, completeTime: end, progress: 100 };
}

export function isTerminal(t: SimTask, now: number): boolean {
  const s = taskState(t, now).state;
  return s === 'success' || s === 'error';
}

export function taskInfo(t: SimTask, now: number): VimValue {
  const s = taskState(t, now);
  const iso = (ms: number | undefined): VimValue | undefined => (ms === undefined ? undefined : dateTime(new Date(ms).toISOString()));
  const faultValue = (f: Record<string, unknown>): VimValue =>
    data(String(f._typeName), Object.fromEntries(Object.entries(f).filter(([k]) => k !== '_typeName').map(([k, v]) => [k, str(String(v))])));
  let error: VimValue | undefined;
  if (s.state === 'error') error = t.cancelledAt !== undefined ? data('RequestCanceled', {}) : faultValue(t.failure ?? { _typeName: 'SystemError' });
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

/** Bulletin id as ESXi reports it, e.g. 'ESXi80U3b-24280767'. */
function bulletinId(displayVersion: string, build: string): string {
  return `ESXi${displayVersion.replace(/[ .]/g, '')}-${build}`;
}

/**
 * HostPatchManagerResult of a scan: one status per ESXi 8.0 release, those at
 * or below the host's build installed, newer ones applicable.
 */
export function scanResult(host: SimHost): VimValue {
  const rank = releaseRank(host.image.release);
  const status = ESXI_RELEASES.filter((r) => r.version.startsWith(host.image.release.version.slice(0, 3))).map((r) => {
    const installed = releaseRank(r) <= rank;
    return data('HostPatchManagerStatus', {
      id: str(bulletinId(r.displayVersion, r.build)),
      applicable: bool(!installed),
      reason: installed && releaseRank(r) < rank ? { kind: 'array', type: 'ArrayOfString', items: [str('obsoleted')] } : undefined,
      integrity: str('validated'),
      installed: bool(installed),
      restartRequired: bool(!installed),
      reconnectRequired: bool(false),
      vmOffRequired: bool(!installed),
    });
  });
  return data('HostPatchManagerResult', {
    version: str('1.0'),
    status: { kind: 'array', type: 'ArrayOfHostPatchManagerStatus', items: status },
  });
}

export class TaskStore {
  readonly tasks = new Map<string, SimTask>();
  private counter = 1000;

  constructor(private readonly defaultDurationMs: number) {}

  create(init: Omit<SimTask, 'moId' | 'eventChainId' | 'queueTime' | 'durationMs'> & { durationMs?: number }): SimTask {
    const n = ++this.counter;
    const task: SimTask = { ...init, moId: `task-${n}`, eventChainId: n, queueTime: Date.now(), durationMs: init.durationMs ?? this.defaultDurationMs };
    this.tasks.set(task.moId, task);
    return task;
  }

  /** Tasks on an entity, newest last (HostSystem.recentTask). */
  forEntity(entity: string): SimTask[] {
    return [...this.tasks.values()].filter((t) => t.entity.value === entity);
  }
}
