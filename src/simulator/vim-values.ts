// Typed VI/JSON values. The wire form of a value depends on where it sits:
// a property GET answers the raw value ("esx-01", [MoRef...]), while an
// `any` slot (DynamicProperty.val) needs a box that names the type:
// {"_typeName":"string","_value":"esx-01"}. Keeping the declared type next to
// each value lets one tree render both forms and lets the PropertyCollector
// walk nested paths like "config.product".

import type { MoRef } from './inventory.ts';

export type PrimitiveType = 'string' | 'boolean' | 'int' | 'long' | 'short' | 'double' | 'dateTime';

export type VimValue =
  | { kind: 'primitive'; type: PrimitiveType; value: string | number | boolean }
  | { kind: 'enum'; type: string; value: string }
  | { kind: 'moref'; ref: MoRef }
  /** A data object; field order is the wire order, unset fields are absent. */
  | { kind: 'data'; type: string; fields: Map<string, VimValue> }
  /** `type` is the box name, e.g. 'ArrayOfManagedObjectReference'. */
  | { kind: 'array'; type: string; items: VimValue[] };

export const str = (value: string): VimValue => ({ kind: 'primitive', type: 'string', value });
export const bool = (value: boolean): VimValue => ({ kind: 'primitive', type: 'boolean', value });
export const int = (value: number): VimValue => ({ kind: 'primitive', type: 'int', value });
export const long = (value: number): VimValue => ({ kind: 'primitive', type: 'long', value });
export const short = (value: number): VimValue => ({ kind: 'primitive', type: 'short', value });
export const dateTime = (iso: string): VimValue => ({ kind: 'primitive', type: 'dateTime', value: iso });
export const enumOf = (type: string, value: string): VimValue => ({ kind: 'enum', type, value });
export const moref = (type: string, value: string): VimValue => ({ kind: 'moref', ref: { type, value } });
export const morefs = (refs: MoRef[]): VimValue => ({
  kind: 'array',
  type: 'ArrayOfManagedObjectReference',
  items: refs.map((ref) => ({ kind: 'moref', ref })),
});
export const strings = (values: string[]): VimValue => ({ kind: 'array', type: 'ArrayOfString', items: values.map(str) });

/** A data object from a field record; undefined fields are left out (unset optional). */
export function data(type: string, fields: Record<string, VimValue | undefined>): VimValue {
  const map = new Map<string, VimValue>();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) map.set(k, v);
  return { kind: 'data', type, fields: map };
}

/** MoRef JSON with the key order a real vCenter uses (see captures/). */
export function morefJson(ref: MoRef): Record<string, string> {
  return { _typeName: 'ManagedObjectReference', value: ref.value, type: ref.type };
}

/** The value in a slot whose declared type is known (property GET, data object fields). */
export function toRaw(v: VimValue): unknown {
  switch (v.kind) {
    case 'primitive':
    case 'enum':
      return v.value;
    case 'moref':
      return morefJson(v.ref);
    case 'data': {
      const out: Record<string, unknown> = { _typeName: v.type };
      for (const [k, f] of v.fields) out[k] = toRaw(f);
      return out;
    }
    case 'array':
      return v.items.map(toRaw);
  }
}

/** The value in an `any` slot: primitives, enums and arrays are boxed; objects already name their type. */
export function toBoxed(v: VimValue): unknown {
  switch (v.kind) {
    case 'primitive':
    case 'enum':
      return { _typeName: v.type, _value: v.value };
    case 'array':
      return { _typeName: v.type, _value: v.items.map(toRaw) };
    case 'moref':
    case 'data':
      return toRaw(v);
  }
}

export type PathLookup =
  | { found: true; value: VimValue | undefined }
  | { found: false };

/**
 * Follows "a.b.c" through data objects. `found: false` means the path does
 * not exist for this type (InvalidProperty); `value: undefined` means it
 * exists but is unset (the property is simply omitted).
 */
export function lookupPath(root: VimValue | undefined, rest: string[], knownFields: (dataType: string) => readonly string[] | undefined): PathLookup {
  let cur = root;
  for (const seg of rest) {
    if (cur === undefined) return { found: true, value: undefined };
    if (cur.kind !== 'data') return { found: false };
    const next = cur.fields.get(seg);
    if (next === undefined) {
      const known = knownFields(cur.type);
      if (known && !known.includes(seg)) return { found: false };
      return { found: true, value: undefined };
    }
    cur = next;
  }
  return { found: true, value: cur };
}
