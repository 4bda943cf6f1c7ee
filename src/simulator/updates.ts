// PropertyFilter + WaitForUpdatesEx: each filter remembers what it last
// reported; a wait computes the difference against the current inventory
// and task states, answering at once when something changed and otherwise
// re-checking until maxWaitSeconds passes (then 200 null, per the spec).

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
  /** object key → property name → JSON of the boxed value last reported */
  reported: Map<string, { obj: unknown; props: Map<string, string> }>;
}

/** How often a waiting WaitForUpdatesEx looks for changes. */
const POLL_MS = 25;

const requestCanceled = (): VimFault => new VimFault({ _typeName: 'RequestCanceled', faultstring: 'The request was canceled by the user.' });

/** Validates a filter spec the way CreateFilter does (same faults as RetrievePropertiesEx). */
export function createFilter(ctx: VimContext, session: VimSession, spec: unknown, partialUpdates: boolean, moId: string): MoRef {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw fault.invalidArgument('spec');
  retrieveContents(ctx, [spec]);
  session.filters.set(moId, { moId, spec: spec as Record<string, unknown>, partialUpdates, reported: new Map() });
  return { type: 'PropertyFilter', value: moId };
}

function filterUpdates(ctx: VimContext, f: FilterState): unknown | undefined {
  // Objects that disappear are reported as 'leave', never as a fault.
  const contents = retrieveContents(ctx, [{ ...f.spec, reportMissingObjectsInResults: true }]);
  const objectSet: unknown[] = [];
  const seen = new Set<string>();
  for (const content of contents) {
    const obj = content.obj as { type: string; value: string };
    const key = `${obj.type}:${obj.value}`;
    seen.add(key);
    const props = new Map<string, string>();
    const changeSet: unknown[] = [];
    const before = f.reported.get(key);
    for (const p of (content.propSet ?? []) as Array<{ name: string; val: unknown }>) {
      const json = JSON.stringify(p.val);
      props.set(p.name, json);
      if (before?.props.get(p.name) !== json) changeSet.push({ _typeName: 'PropertyChange', name: p.name, op: 'assign', val: p.val });
    }
    for (const name of before?.props.keys() ?? []) {
      if (!props.has(name)) changeSet.push({ _typeName: 'PropertyChange', name, op: 'remove' });
    }
    f.reported.set(key, { obj: content.obj, props });
    if (!before) objectSet.push({ _typeName: 'ObjectUpdate', kind: 'enter', obj: content.obj, changeSet });
    else if (changeSet.length > 0) objectSet.push({ _typeName: 'ObjectUpdate', kind: 'modify', obj: content.obj, changeSet });
  }
  for (const [key, { obj }] of f.reported) {
    if (seen.has(key)) continue;
    f.reported.delete(key);
    objectSet.push({ _typeName: 'ObjectUpdate', kind: 'leave', obj });
  }
  return objectSet.length > 0 ? { _typeName: 'PropertyFilterUpdate', filter: morefJson({ type: 'PropertyFilter', value: f.moId }), objectSet } : undefined;
}

export async function waitForUpdates(
  ctx: VimContext,
  sessions: SessionStore,
  session: VimSession,
  version: unknown,
  maxWaitSeconds: number | undefined,
  signal: AbortSignal,
): Promise<unknown> {
  if (version === undefined || version === null || version === '') {
    for (const f of session.filters.values()) f.reported.clear();
  } else if (version !== String(session.updateVersion)) {
    throw new VimFault({ _typeName: 'InvalidCollectorVersion', faultstring: 'The collector version is not valid.' });
  }
  const generation = session.waitGeneration;
  const deadline = maxWaitSeconds === undefined ? Number.POSITIVE_INFINITY : Date.now() + maxWaitSeconds * 1000;
  for (;;) {
    // CancelWaitForUpdates, logout/expiry and shutdown all end the wait.
    if (signal.aborted || generation !== session.waitGeneration || !sessions.vim.has(session.id)) throw requestCanceled();
    const filterSet = [...session.filters.values()].map((f) => filterUpdates(ctx, f)).filter((u) => u !== undefined);
    if (filterSet.length > 0) {
      session.updateVersion++;
      return { _typeName: 'UpdateSet', version: String(session.updateVersion), filterSet };
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) return null;
    try {
      await sleep(Math.min(POLL_MS, remaining), undefined, { signal });
    } catch {
      throw requestCanceled();
    }
  }
}
