// PropertyFilter + WaitForUpdatesEx: each filter remembers what it last
// reported; a wait computes the difference against the current inventory
// and task states, answering at once when something changed and otherwise
// re-checking until maxWaitSeconds passes (then 200 null, per the spec).
// Task states change at known instants, so a wait wakes exactly then (as a
// vCenter answers as soon as a task moves); other changes are polled.

import { setTimeout as sleep } from 'node:timers/promises';
import { VimFault, fault } from './faults.ts';
import type { MoRef } from './inventory.ts';
import { retrieveContents } from './property-collector.ts';
import type { SessionStore, VimSession } from './sessions.ts';
import type { VimContext } from './vim-model.ts';
import { morefJson } from './vim-values.ts';

export interface FilterState {
  moId: string;
  spec: Record<string, unknown>;
  partialUpdates: boolean;
  /** object key → property name → value (boxed JSON) last reported */
  reported: Map<string, { obj: unknown; props: Map<string, unknown> }>;
}

/** How often a waiting WaitForUpdatesEx looks for changes other than task progress. */
const POLL_MS = 25;

/** Validates a filter spec the way CreateFilter does (same faults as RetrievePropertiesEx). */
export function createFilter(ctx: VimContext, session: VimSession, spec: unknown, partialUpdates: boolean, moId: string): MoRef {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw fault.invalidArgument('spec');
  retrieveContents(ctx, [spec]);
  session.filters.set(moId, { moId, spec: spec as Record<string, unknown>, partialUpdates, reported: new Map() });
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
      if (!(key in after)) out.push({ _typeName: 'PropertyChange', name: `${name}.${key}`, op: 'remove' });
      else out.push(...propertyChanges(`${name}.${key}`, before[key], after[key], partial));
    }
    return out;
  }
  return [{ _typeName: 'PropertyChange', name, op: 'assign', val: after }];
}

/** One pending ObjectUpdate and how to record it as reported once it is handed out. */
interface PendingUpdate {
  update: Json;
  commit(): void;
}

function filterUpdates(ctx: VimContext, f: FilterState): PendingUpdate[] {
  // Objects that disappear are reported as 'leave', never as a fault.
  const contents = retrieveContents(ctx, [{ ...f.spec, reportMissingObjectsInResults: true }]);
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
      if (!props.has(name)) changeSet.push({ _typeName: 'PropertyChange', name, op: 'remove' });
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
  return pending;
}

/**
 * The next UpdateSet of the session's filters, or undefined when nothing
 * changed. At most maxObjectUpdates ObjectUpdates are handed out; the rest
 * stay pending and the set says truncated (the next call continues).
 */
function collectUpdates(ctx: VimContext, session: VimSession, maxObjectUpdates: number | undefined): Json | undefined {
  let budget = maxObjectUpdates ?? Number.POSITIVE_INFINITY;
  let truncated = false;
  const filterSet: Json[] = [];
  for (const f of session.filters.values()) {
    const pending = filterUpdates(ctx, f);
    if (pending.length === 0) continue;
    if (budget <= 0) {
      truncated = true;
      break;
    }
    const taken = pending.slice(0, budget);
    if (taken.length < pending.length) truncated = true;
    budget -= taken.length;
    for (const p of taken) p.commit();
    filterSet.push({ _typeName: 'PropertyFilterUpdate', filter: morefJson({ type: 'PropertyFilter', value: f.moId }), objectSet: taken.map((p) => p.update) });
  }
  if (filterSet.length === 0) return undefined;
  session.updateVersion++;
  const set: Json = { _typeName: 'UpdateSet', version: String(session.updateVersion), filterSet };
  if (truncated) set.truncated = true;
  return set;
}

export interface WaitOptions {
  maxWaitSeconds: number | undefined;
  maxObjectUpdates: number | undefined;
  /** Aborted when the client goes away or the server shuts down. */
  signal: AbortSignal;
}

export async function waitForUpdates(ctx: VimContext, sessions: SessionStore, session: VimSession, version: unknown, options: WaitOptions): Promise<unknown> {
  const { signal } = options;
  if (version === undefined || version === null || version === '') {
    for (const f of session.filters.values()) f.reported.clear();
  } else if (version !== String(session.updateVersion)) {
    throw new VimFault({ _typeName: 'InvalidCollectorVersion', faultstring: 'The collector version is not valid.' });
  }
  const generation = session.waitGeneration;
  const deadline = options.maxWaitSeconds === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.maxWaitSeconds * 1000;
  for (;;) {
    // CancelWaitForUpdates, logout/expiry and shutdown all end the wait.
    if (signal.aborted || generation !== session.waitGeneration || !sessions.vim.has(session.id)) throw fault.requestCanceled();
    const set = collectUpdates(ctx, session, options.maxObjectUpdates);
    if (set) return set;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return null;
    try {
      const taskChange = ctx.tasks.nextChangeAt(Date.now());
      // +1: timers have millisecond resolution; wake just after the boundary, not just before.
      const untilTaskChange = taskChange === undefined ? POLL_MS : Math.max(1, Math.ceil(taskChange - Date.now()) + 1);
      await sleep(Math.min(POLL_MS, untilTaskChange, remaining), undefined, { signal });
    } catch {
      throw fault.requestCanceled();
    }
  }
}
