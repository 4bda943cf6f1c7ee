/**
 * vSphere enums are open: a later release may answer a value this gateway does not know.
 * Every GraphQL enum fed by one has an UNKNOWN member; the raw value goes to a sibling
 * *Raw field, so a new value is shown instead of failing the field.
 */
import type { HostConnectionState } from './generated/resolvers-types.ts';

/** vCenter's camelCase enum values as GraphQL enum values (missingPatch → MISSING_PATCH); REST values are already upper case. */
export function screamingSnake(value: string): string {
  return value.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Per enum, raw value → GraphQL value: a fleet answer converts the same few values thousands of times. */
const converted = new WeakMap<readonly string[], Map<string, string>>();
/** Values a later release might add are few; past this many a value is converted, not remembered. */
const MAX_REMEMBERED = 256;

/** The GraphQL enum value for a vSphere value, or UNKNOWN when `known` does not list it. */
export function openEnum<T extends string>(known: readonly T[], raw: string): T | 'UNKNOWN' {
  let memo = converted.get(known);
  if (!memo) converted.set(known, (memo = new Map()));
  let value = memo.get(raw) as T | 'UNKNOWN' | undefined;
  if (value === undefined) {
    const snake = screamingSnake(raw) as T;
    value = known.includes(snake) ? snake : 'UNKNOWN';
    if (memo.size < MAX_REMEMBERED) memo.set(raw, value);
  }
  return value;
}

const CONNECTION_STATES: readonly HostConnectionState[] = ['CONNECTED', 'DISCONNECTED', 'NOT_RESPONDING'];

/** HostSystem runtime.connectionState as the GraphQL enum (UNKNOWN for a later release's value). */
export function connectionState(raw: string): HostConnectionState {
  return openEnum(CONNECTION_STATES, raw);
}
