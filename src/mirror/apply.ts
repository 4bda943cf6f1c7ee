/**
 * Applying vim25 PropertyChanges to an object's properties, keyed by the property paths the
 * filter asked for ("name", "runtime.connectionState", "config.product"). Per
 * PropertyChangeOp: `assign` sets the new value (an assign without `val` unsets the property),
 * `indirectRemove` unsets a property whose containing property was unset, `remove` deletes
 * an element of a collection (or the whole property when the change names it), `add` inserts
 * an element into a collection. Changes deeper than a requested path (partial updates,
 * "config.product.build") are applied inside the data object.
 */
import type { PropertyChange } from '../vsphere/index.ts';

export type Props = Map<string, unknown>;

/** Thrown for a change the mirror cannot place (an element path into a keyed array): resync. */
export class UnplaceableChange extends Error {}

function clone(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
}

/** The requested path `name` falls under, and the rest of it ("" when it is the path itself). */
function split(props: Props, paths: readonly string[], name: string): { path: string; rest: string[] } | undefined {
  for (const path of paths) {
    if (name === path) return { path, rest: [] };
    if (name.startsWith(`${path}.`)) return { path, rest: name.slice(path.length + 1).split('.') };
  }
  // A property the filter did not ask for by that exact path: take it as given.
  return props.has(name) || !name.includes('[') ? { path: name, rest: [] } : undefined;
}

/** Returns the object's properties after `changes` (a new Map; the given one is not modified). */
export function applyChanges(before: Props, paths: readonly string[], changes: readonly PropertyChange[]): Props {
  const props = new Map(before);
  for (const change of changes) {
    const at = split(props, paths, change.name);
    if (!at || at.rest.some((s) => s.includes('['))) throw new UnplaceableChange(`cannot apply ${change.op} to ${change.name}`);
    const { path, rest } = at;
    const unset = change.op === 'indirectRemove' || change.op === 'remove' || (change.op === 'assign' && change.val === undefined);
    if (rest.length === 0) {
      if (change.op === 'add') {
        const current = props.get(path);
        props.set(path, Array.isArray(current) ? [...current, change.val] : change.val);
      } else if (unset) props.delete(path);
      else props.set(path, change.val);
      continue;
    }
    // Nested: copy each data object on the way down so that earlier snapshots stay intact.
    const root = clone(props.get(path));
    let cursor = root;
    for (const segment of rest.slice(0, -1)) {
      const next = clone(cursor[segment]);
      cursor[segment] = next;
      cursor = next;
    }
    const last = rest[rest.length - 1]!;
    if (unset) delete cursor[last];
    else cursor[last] = change.val;
    props.set(path, root);
  }
  return props;
}
