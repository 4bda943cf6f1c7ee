/**
 * VI/JSON value codec.
 *
 * Wire format (vi-json spec, `Any`): every object carries `_typeName`. Values placed in
 * `any`-typed slots (DynamicProperty.val, KeyAnyValue.value, TaskInfo.result, ...) that are not
 * data objects are boxed: primitives as `{_typeName:'string', _value:'x'}`, arrays as
 * `{_typeName:'ArrayOfX', _value:[...]}`, enums as `{_typeName:'ManagedEntityStatus', _value:'gray'}`.
 *
 * decodeVim: unboxes every `{_typeName, _value}` (recursively), keeps `_typeName` on data objects
 * and MoRefs, leaves dateTime as ISO strings.
 * encodeVim: deep-copies a value for posting, adds `_typeName` where known (explicit type name,
 * PropertyCollector specs, bare `{type, value}` MoRefs), turns Dates into ISO strings and drops
 * `undefined` members. Use `box()` for primitives that go into `any` slots.
 */
import type {
  DynamicProperty,
  ManagedObjectReference,
  ObjectContent,
  ObjectSpec,
  PropertyFilterSpec,
  PropertySpec,
  SelectionSpec,
  TraversalSpec,
} from './vim-types.ts';

export interface Boxed<T = unknown> {
  _typeName: string;
  _value: T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** True for a boxed value `{_typeName, _value}`. */
export function isBoxed(v: unknown): v is Boxed {
  return isPlainObject(v) && typeof v._typeName === 'string' && '_value' in v;
}

/**
 * Decodes a VI/JSON value as described at the top of this module, in place: pass a value you
 * own, such as a freshly parsed body. A host list is megabytes of JSON; copying it once more
 * only fed the garbage collector. Decoding a decoded value again changes nothing.
 */
export function decodeVim(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeVim(value[i]);
    return value;
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj._typeName === 'string' && '_value' in obj) return decodeVim(obj._value);
  for (const k in obj) obj[k] = decodeVim(obj[k]);
  return obj;
}

/** Builds a ManagedObjectReference. */
export function moRef(type: string, value: string): ManagedObjectReference {
  return { _typeName: 'ManagedObjectReference', type, value };
}

/** True when `v` looks like a MoRef (`{type, value}` strings, with or without `_typeName`). */
export function isMoRef(v: unknown): v is ManagedObjectReference {
  if (!isPlainObject(v)) return false;
  if (typeof v.type !== 'string' || typeof v.value !== 'string') return false;
  if (v._typeName === 'ManagedObjectReference') return true;
  const keys = Object.keys(v).filter((k) => k !== '_typeName');
  return v._typeName === undefined && keys.length === 2;
}

/**
 * Boxes a value for an `any` slot: `box('string','x')`, `box('int', 42)`, `box('boolean', true)`,
 * `box('ArrayOfString', ['a'])`, `box('ArrayOfManagedObjectReference', [moRef(...)])`.
 */
export function box<T>(typeName: string, value: T): Boxed<T> {
  return { _typeName: typeName, _value: value };
}

/**
 * Prepares a value for posting. `typeName`, when given, is set on the top-level object unless it
 * already has one. Nested objects keep their own `_typeName`; bare `{type, value}` pairs become MoRefs.
 */
export function encodeVim(value: unknown, typeName?: string): unknown {
  const encoded = encodeInner(value);
  if (typeName && isPlainObject(encoded) && encoded._typeName === undefined) {
    return { _typeName: typeName, ...encoded };
  }
  return encoded;
}

function encodeInner(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(encodeInner);
  const obj = value as Record<string, unknown>;
  if (isMoRef(obj)) return moRef(obj.type as string, obj.value as string);
  if (isBoxed(obj)) return { _typeName: obj._typeName, _value: encodeInner(obj._value) };
  const out: Record<string, unknown> = {};
  if (typeof obj._typeName === 'string') out._typeName = obj._typeName;
  for (const [k, v] of Object.entries(obj)) {
    if (k === '_typeName' || v === undefined) continue;
    out[k] = encodeInner(v);
  }
  return out;
}

function encodeSelection(s: SelectionSpec | TraversalSpec): unknown {
  const t = s as TraversalSpec;
  if (typeof t.path === 'string' && typeof t.type === 'string') {
    return encodeVim({ ...t, selectSet: t.selectSet?.map(encodeSelection) }, 'TraversalSpec');
  }
  return encodeVim(s, 'SelectionSpec');
}

/** Encodes a PropertyFilterSpec with `_typeName` on every nested spec object (govmomi style). */
export function encodeFilterSpec(spec: PropertyFilterSpec): unknown {
  return encodeVim(
    {
      ...spec,
      propSet: spec.propSet.map((p: PropertySpec) => encodeVim(p, 'PropertySpec')),
      objectSet: spec.objectSet.map((o: ObjectSpec) =>
        encodeVim({ ...o, obj: moRef(o.obj.type, o.obj.value), selectSet: o.selectSet?.map(encodeSelection) }, 'ObjectSpec'),
      ),
    },
    'PropertyFilterSpec',
  );
}

/**
 * `propSet` of a decoded ObjectContent (as the client returns it) as a map
 * `{ 'runtime.connectionState': 'connected', ... }`. The body was decoded once on arrival.
 */
export function propsOf(obj: ObjectContent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of (obj.propSet ?? []) as DynamicProperty[]) out[p.name] = p.val;
  return out;
}
