/**
 * Typed errors of the upstream clients. Every failure talking to a vCenter surfaces as an
 * UpstreamError with a stable `code` the GraphQL layer maps to its own error extensions.
 * Messages never carry the password, a session id or an Authorization header value.
 */
import type { VapiError } from './rest-types.ts';
import type { MethodFault } from './vim-types.ts';

export type UpstreamErrorCode =
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_REQUEST'
  | 'VCENTER_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  /** The operation it was for was abandoned (its client went away) before the answer came. */
  | 'CANCELLED'
  | 'UPSTREAM_ERROR'
  | 'VIM_API_UNAVAILABLE'
  | 'TLS_ERROR';

export type UpstreamApi = 'rest' | 'vim';

export interface UpstreamErrorInit {
  code: UpstreamErrorCode;
  vcenter: string;
  api: UpstreamApi;
  message: string;
  status?: number;
  fault?: string;
  retryable?: boolean;
  /** Server-requested delay before a retry (from Retry-After), ms. */
  retryAfterMs?: number;
  /** The decoded fault / vAPI error body, for callers that need details (e.g. TaskInProgress.task). */
  detail?: unknown;
  cause?: unknown;
}

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  readonly vcenter: string;
  readonly api: UpstreamApi;
  readonly status?: number;
  /** VI fault `_typeName` (e.g. `InvalidLogin`) or vAPI `error_type` (e.g. `NOT_FOUND`). */
  readonly fault?: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly detail?: unknown;

  constructor(init: UpstreamErrorInit) {
    super(init.message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'UpstreamError';
    this.code = init.code;
    this.vcenter = init.vcenter;
    this.api = init.api;
    if (init.status !== undefined) this.status = init.status;
    if (init.fault !== undefined) this.fault = init.fault;
    this.retryable = init.retryable ?? false;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
    if (init.detail !== undefined) this.detail = init.detail;
  }

  /** A log-safe summary (no cause chain, no detail body). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      vcenter: this.vcenter,
      api: this.api,
      status: this.status,
      fault: this.fault,
      retryable: this.retryable,
      message: this.message,
    };
  }
}

export function isUpstreamError(e: unknown): e is UpstreamError {
  return e instanceof UpstreamError;
}

/**
 * Replaces every occurrence of the given secrets in `text` (defence in depth: servers sometimes
 * echo request data in error messages).
 */
export function scrub(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  }
  return out;
}

/** Parses a Retry-After header (delta-seconds or HTTP date) into ms; undefined when absent/invalid. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(v);
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return undefined;
}

// ---------- REST (vAPI) ----------

/** Reads `{error_type, messages}`; also the legacy `/rest` shape `{type, value:{messages}}`. */
export function parseVapiError(body: unknown): VapiError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.messages) || typeof b.error_type === 'string') return b as unknown as VapiError;
  if (typeof b.value === 'object' && b.value !== null) {
    const v = b.value as Record<string, unknown>;
    const type = typeof b.type === 'string' ? b.type.split('.').pop()?.replace(/_/g, '').toUpperCase() : undefined;
    if (Array.isArray(v.messages)) return { error_type: (v.error_type ?? type) as VapiError['error_type'], messages: v.messages as VapiError['messages'] };
  }
  return undefined;
}

export function restStatusToCode(status: number): { code: UpstreamErrorCode; retryable: boolean } {
  switch (status) {
    case 400: return { code: 'BAD_REQUEST', retryable: false };
    case 401: return { code: 'UNAUTHENTICATED', retryable: false };
    case 403: return { code: 'FORBIDDEN', retryable: false };
    case 404: return { code: 'NOT_FOUND', retryable: false };
    case 429: return { code: 'UPSTREAM_ERROR', retryable: true };
    case 502:
    case 503:
    case 504: return { code: 'VCENTER_UNAVAILABLE', retryable: true };
    default: return { code: 'UPSTREAM_ERROR', retryable: false };
  }
}

export function vapiMessage(err: VapiError | undefined): string | undefined {
  const msgs = err?.messages?.map((m) => m?.default_message).filter((m): m is string => typeof m === 'string' && m.length > 0);
  return msgs && msgs.length > 0 ? msgs.join(' Caused by: ') : undefined;
}

// ---------- VI/JSON faults ----------

/** Maps a VI fault `_typeName` to an error code. NotAuthenticated is handled by the session layer first. */
export function faultToCode(fault: string | undefined): UpstreamErrorCode {
  switch (fault) {
    case 'InvalidLogin':
    case 'NotAuthenticated':
      return 'UNAUTHENTICATED';
    case 'ManagedObjectNotFound':
      return 'NOT_FOUND';
    case 'InvalidArgument':
    case 'InvalidProperty':
    case 'InvalidType':
    case 'InvalidRequest':
    case 'InvalidCollectorVersion':
      return 'BAD_REQUEST';
    case 'NoPermission':
    case 'SecurityError':
      return 'FORBIDDEN';
    default:
      return 'UPSTREAM_ERROR';
  }
}

/** Human text of a fault: faultstring, localizedMessage, or the first faultMessage. */
export function faultMessage(f: MethodFault | undefined): string | undefined {
  if (!f) return undefined;
  if (typeof f.faultstring === 'string' && f.faultstring) return f.faultstring;
  if (typeof f.localizedMessage === 'string' && f.localizedMessage) return f.localizedMessage as string;
  const fm = f.faultMessage?.find((m) => typeof m?.message === 'string' && m.message);
  if (fm?.message) return fm.message;
  return undefined;
}
