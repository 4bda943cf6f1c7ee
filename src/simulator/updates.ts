// PropertyFilter + WaitForUpdatesEx: each filter remembers what it last
// reported; a wait computes the difference against the current inventory
// and task states, answering at once when something changed and otherwise
// re-checking until maxWaitSeconds passes (then 200 null, per the spec).
// Task states change at known instants, so a wait wakes exactly then (as a
// vCenter answers as soon as a task moves); inventory changes (dynamics.ts)
// wake it at once; anything else is polled.

import { setTimeout as sleep } from 'node:timers/promises';
import { inventoryChangeSignal, inventoryRevision } from './dynamics.ts';
import { VimFault, fault } from './faults.ts';
import type { MoRef } from './inventory.ts';
import { retrieveContents } from './property-collector.ts';
import type { ObjectContentJson } from './property-collector.ts';
import type { CollectorState, SessionStore, VimSession } from './sessions.ts';
import type { VimContext } from './vim-model.ts';
import { resolve } from './vim-model.ts';
import { lookupPath, morefJson } from './vim-values.ts';

export interface FilterState {
  moId: string;
  /** The PropertyCollector the filter was created on. */
  collector: string;
  spec: Record<string, unknown>;
  partialUpdates: boolean;
  /** object key → property name → value (boxed JSON) last reported */
  reported: Map<string, { obj: unknown; props: Map<string, unknown> }>;
  /**
   * For a filter whose results depend only on the inventory (no tasks, sessions or clocks):
   * the inventory revision and the session's views when it last matched what it reported.
   * Waits skip recomputing it until either moves: a 2,500-host view is not re-read every poll.
   */
  settledAt?: string;
  inventoryOnly: boolean;
  /**
   * What CreateFilter read to validate the spec, with the settled key it was read at: the
   * filter's initial calculation uses it when nothing has changed since, instead of reading
   * every object again (2,500 hosts per vCenter).
   */
  created?: { at: string; quirks: VimContext['quirks']; contents: ObjectContentJson[] };
}

/** Types whose properties move without an inventory change (tasks, sessions, clocks, filters). */
const VOLATILE_TYPES = new Set(['Task', 'TaskManager', 'SessionManager', 'ServiceInstance', 'PropertyCollector', 'PropertyFilter', 'ViewManager']);

function dependsOnInventoryOnly(spec: Record<string, unknown>): boolean {
  const propSet = Array.isArray(spec.propSet) ? (spec.propSet as Array<Record<string, unknown>>) : [];
  return propSet.every(
    (ps) =>
      ps.all !== true &&
      !VOLATILE_TYPES.has(String(ps.type)) &&
      (Array.isArray(ps.pathSet) ? (ps.pathSet as string[]) : []).every((p) => !p.startsWith('recentTask')),
  );
}

/** How often a waiting WaitForUpdatesEx looks for changes other than task progress. */
const POLL_MS = 25;

/**
 * When the results of an inventory-only filter were last computed: the inventory revision and
 * the session's views (a view's contents are part of the results).
 */
function settledKey(ctx: VimContext): string {
  return `${inventoryRevision(ctx.inv)}:${[...(ctx.session?.views.keys() ?? [])].join(',')}`;
}

/** Validates a filter spec the way CreateFilter does (same faults as RetrievePropertiesEx). */
export function createFilter(ctx: VimContext, session: VimSession, collector: string, spec: unknown, partialUpdates: boolean, moId: string): MoRef {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw fault.invalidArgument('spec');
  const contents = retrieveContents(ctx, [spec]);
  const s = spec as Record<string, unknown>;
  const filter: FilterState = { moId, collector, spec: s, partialUpdates, reported: new Map(), inventoryOnly: dependsOnInventoryOnly(s) };
  if (filter.inventoryOnly) filter.created = { at: settledKey(ctx), quirks: ctx.quirks, contents };
  session.filters.set(moId, filter);
  return { type: 'PropertyFilter', value: moId };
}

type Json = Record<string, unknown>;
const isDataObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Json)._typeName === 'string';
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * PropertyChanges of one property. With partialUpdates a data object that
 * keeps its type reports only its changed nested fields ("info.state");
 * without, the whole property named in the filter is assigned again.
 */
function propertyChanges(name: string, before: unknown, after: unknown, partial: boolean): Json[] {
  if (same(before, after)) return [];
  if (partial && isDataObject(before) && isDataObject(after) && before._typeName === after._typeName && before._typeName !== 'ManagedObjectReference') {
    const out: Json[] = [];
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (key === '_typeName') continue;
      // A field that became unset: assign without a value ('remove' is for collection elements).
      if (!(key in after)) out.push({ _typeName: 'PropertyChange', name: `${name}.${key}`, op: 'assign' });
      else out.push(...propertyChanges(`${name}.${key}`, before[key], after[key], partial));
    }
    return out;
  }
  return [{ _typeName: 'PropertyChange', name, op: 'assign', val: after }];
}

/**
 * The change for a reported property that is now unset. Per PropertyChangeOp: when a
 * containing property ("config" of "config.product") is unset, indirectRemove; when the
 * property itself is, assign without a value.
 */
function unsetChange(ctx: VimContext, obj: MoRef, name: string): Json {
  const parts = name.split('.');
  const mo = resolve(ctx, obj);
  for (let i = 1; i < parts.length && mo; i++) {
    const lookup = lookupPath(mo.get(parts[0] ?? ''), parts.slice(1, i), () => undefined);
    if (lookup.found && lookup.value === undefined) return { _typeName: 'PropertyChange', name, op: 'indirectRemove' };
  }
  return { _typeName: 'PropertyChange', name, op: 'assign' };
}

/** One pending ObjectUpdate and how to record it as reported once it is handed out. */
interface PendingUpdate {
  update: Json;
  commit(): void;
}

/** An ObjectUpdate of a truncated calculation that was not handed out yet. */
export type SuspendedUpdate = PendingUpdate;

function filterUpdates(ctx: VimContext, f: FilterState): PendingUpdate[] {
  const settled = f.inventoryOnly ? settledKey(ctx) : undefined;
  const created = f.created;
  f.created = undefined;
  if (settled !== undefined && f.settledAt === settled) return [];
  // Objects that disappear are reported as 'leave', never as a fault. CreateFilter's read
  // stands when it still describes the inventory (its objects all existed then, so it equals
  // a read that reports missing objects).
  const contents =
    created && created.at === settled && created.quirks === ctx.quirks && f.reported.size === 0
      ? created.contents
      : retrieveContents(ctx, [{ ...f.spec, reportMissingObjectsInResults: true }]);
  const pending: PendingUpdate[] = [];
  const seen = new Set<string>();
  for (const content of contents) {
    const obj = content.obj as { type: string; value: string };
    const key = `${obj.type}:${obj.value}`;
    seen.add(key);
    const props = new Map<string, unknown>();
    const changeSet: Json[] = [];
    const before = f.reported.get(key);
    for (const p of (content.propSet ?? []) as Array<{ name: string; val: unknown }>) {
      props.set(p.name, p.val);
      if (!before || !before.props.has(p.name)) changeSet.push({ _typeName: 'PropertyChange', name: p.name, op: 'assign', val: p.val });
      else changeSet.push(...propertyChanges(p.name, before.props.get(p.name), p.val, f.partialUpdates));
    }
    for (const name of before?.props.keys() ?? []) {
      if (!props.has(name)) changeSet.push(unsetChange(ctx, obj, name));
    }
    if (before && changeSet.length === 0) continue;
    const update: Json = { _typeName: 'ObjectUpdate', kind: before ? 'modify' : 'enter', obj: content.obj, changeSet };
    // An object the filter names but the user may not read enters with its properties missing (NoPermission).
    if (content.missingSet && !before) update.missingSet = content.missingSet;
    pending.push({
      update,
      commit: () => f.reported.set(key, { obj: content.obj, props }),
    });
  }
  for (const [key, { obj }] of f.reported) {
    if (seen.has(key)) continue;
    pending.push({ update: { _typeName: 'ObjectUpdate', kind: 'leave', obj }, commit: () => f.reported.delete(key) });
  }
  // Settled once everything pending is handed out (a truncated set leaves some for the next call).
  if (settled !== undefined) {
    let left = pending.length;
    const markSettled = (): void => {
      if (--left === 0) f.settledAt = settled;
    };
    if (left === 0) f.settledAt = settled;
    for (const p of pending) {
      const commit = p.commit;
      p.commit = () => {
        commit();
        markSettled();
      };
    }
  }
  return pending;
}

/**
 * The next UpdateSet of the session's filters, or undefined when nothing
 * changed. At most maxObjectUpdates ObjectUpdates are handed out; the rest
 * stay pending and the set says truncated (the next call continues).
 */
function collectUpdates(
  ctx: VimContext,
  session: VimSession,
  collector: CollectorState,
  maxObjectUpdates: number | undefined,
  resumed: Map<string, SuspendedUpdate[]> | undefined,
): Json | undefined {
  let budget = maxObjectUpdates ?? Number.POSITIVE_INFINITY;
  let truncated = false;
  const suspended = new Map<string, SuspendedUpdate[]>();
  const filterSet: Json[] = [];
  for (const f of session.filters.values()) {
    if (f.collector !== collector.moId) continue;
    // A resumed calculation starts where it stopped (UpdateSet.truncated): with what is left of it.
    const pending = resumed?.get(f.moId) ?? filterUpdates(ctx, f);
    if (pending.length === 0) continue;
    if (budget <= 0) {
      truncated = true;
      break;
    }
    const taken = pending.slice(0, budget);
    if (taken.length < pending.length) {
      truncated = true;
      suspended.set(f.moId, pending.slice(taken.length));
    }
    budget -= taken.length;
    for (const p of taken) p.commit();
    filterSet.push({ _typeName: 'PropertyFilterUpdate', filter: morefJson({ type: 'PropertyFilter', value: f.moId }), objectSet: taken.map((p) => p.update) });
  }
  if (filterSet.length === 0) return undefined;
  collector.updateVersion++;
  const set: Json = { _typeName: 'UpdateSet', version: String(collector.updateVersion), filterSet };
  if (truncated) {
    set.truncated = true;
    collector.suspended = { version: String(collector.updateVersion), pending: suspended };
  }
  return set;
}

export interface WaitOptions {
  maxWaitSeconds: number | undefined;
  maxObjectUpdates: number | undefined;
  /** Aborted when the client goes away or the server shuts down. */
  signal: AbortSignal;
}

export async function waitForUpdates(
  ctx: VimContext,
  sessions: SessionStore,
  session: VimSession,
  collector: CollectorState,
  version: unknown,
  options: WaitOptions,
): Promise<unknown> {
  const { signal } = options;
  if (version === undefined || version === null || version === '') {
    for (const f of session.filters.values()) {
      if (f.collector !== collector.moId) continue;
      f.reported.clear();
      f.settledAt = undefined;
    }
  } else if (version !== String(collector.updateVersion)) {
    throw new VimFault({ _typeName: 'InvalidCollectorVersion', faultstring: 'The collector version is not valid.' });
  }
  // A truncated version resumes its calculation once; any other call abandons it.
  const suspended = collector.suspended;
  const resumed = suspended && suspended.version === version ? suspended.pending : undefined;
  collector.suspended = undefined;
  const generation = collector.waitGeneration;
  const deadline = options.maxWaitSeconds === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.maxWaitSeconds * 1000;
  const changes = inventoryChangeSignal(ctx.inv);
  let first = true;
  for (;;) {
    // CancelWaitForUpdates, logout/expiry, DestroyPropertyCollector and shutdown all end the wait.
    if (signal.aborted || generation !== collector.waitGeneration || !sessions.vim.has(session.id) || session.collectors.get(collector.moId) !== collector) {
      throw fault.requestCanceled();
    }
    const set = collectUpdates(ctx, session, collector, options.maxObjectUpdates, first ? resumed : undefined);
    first = false;
    if (set) return set;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return null;
    const taskChange = ctx.tasks.nextChangeAt(Date.now());
    // +1: timers have millisecond resolution; wake just after the boundary, not just before.
    const untilTaskChange = taskChange === undefined ? POLL_MS : Math.max(1, Math.ceil(taskChange - Date.now()) + 1);
    const woken = new AbortController();
    const wake = (): void => woken.abort();
    changes.addEventListener('change', wake, { once: true });
    try {
      await sleep(Math.min(POLL_MS, untilTaskChange, remaining), undefined, { signal: AbortSignal.any([signal, woken.signal]) });
    } catch {
      if (signal.aborted) throw fault.requestCanceled();
    } finally {
      changes.removeEventListener('change', wake);
    }
  }
}
