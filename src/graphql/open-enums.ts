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

/** The GraphQL enum value for a vSphere value, or UNKNOWN when `known` does not list it. */
export function openEnum<T extends string>(known: readonly T[], raw: string): T | 'UNKNOWN' {
  const value = screamingSnake(raw) as T;
  return known.includes(value) ? value : 'UNKNOWN';
}

const CONNECTION_STATES: readonly HostConnectionState[] = ['CONNECTED', 'DISCONNECTED', 'NOT_RESPONDING'];

/** HostSystem runtime.connectionState as the GraphQL enum (UNKNOWN for a later release's value). */
export function connectionState(raw: string): HostConnectionState {
  return openEnum(CONNECTION_STATES, raw);
}
