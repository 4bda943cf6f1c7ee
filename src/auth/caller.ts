/**
 * Who is calling: every GraphQL operation, HTTP request, SSE stream and WebSocket connection
 * runs on behalf of one Caller, decided by the configured authentication mode before any
 * GraphQL work starts. Everything that is kept per caller (upstream sessions, shared
 * subscription executions, rate limits, fair-share queues, audit records) keys on `key`.
 */

/** What a caller may do in the gateway itself; vCenter's own permissions apply on top. */
export type GatewayRole = 'viewer' | 'operator';

export type CallerKind = 'anonymous' | 'jwt' | 'vcenter';

export interface PassthroughCredential {
  username: string;
  password: string;
}

export interface Caller {
  /**
   * Stable and secret-free: `anonymous:<address>`, `jwt:<issuer>#<subject>`,
   * `vcenter:<username>#<hash prefix of the credential>`. Never contains a password or token.
   */
  readonly key: string;
  readonly kind: CallerKind;
  /** Who, for audit records and logs: the token subject or the vCenter user name. */
  readonly name: string;
  readonly roles: ReadonlySet<GatewayRole>;
  /** Passthrough mode: the caller's own vCenter credential, used for every upstream call. */
  readonly credential?: PassthroughCredential;
  /** Bearer tokens: when the identity stops being valid (ms since the epoch). */
  readonly expiresAt?: number;
  /** The client's address (for limits on anonymous callers and for audit). */
  readonly address?: string;
}

const ALL_ROLES: ReadonlySet<GatewayRole> = new Set<GatewayRole>(['viewer', 'operator']);

/** The caller of `auth: none` (loopback only): may do everything the service account may. */
export function anonymousCaller(address = 'unknown'): Caller {
  return { key: `anonymous:${address}`, kind: 'anonymous', name: 'anonymous', roles: ALL_ROLES, address };
}

export function hasRole(caller: Caller, role: GatewayRole): boolean {
  return caller.roles.has(role);
}
