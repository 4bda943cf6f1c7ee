/**
 * The one error type every authentication step throws. Its message is written for the caller
 * and for logs alike, so it is always a fixed sentence: never the header, token, password or
 * any claim value the caller sent.
 */

/**
 * - `UNAUTHENTICATED` (401): the caller's credential is missing, malformed or not valid.
 * - `FORBIDDEN` (403): the credential is valid but grants nothing in the gateway.
 * - `AUTH_UNAVAILABLE` (503): the gateway could not check the credential (the identity
 *   provider's key set is unreachable or unusable): not the caller's fault, worth a retry.
 */
export type AuthErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'AUTH_UNAVAILABLE';

export type AuthErrorStatus = 401 | 403 | 503;

/** Machine-readable detail for logs, metrics and tests; callers only need `code`. */
export type AuthFailureReason =
  // Authorization header / connection_init payload
  | 'malformed_authorization'
  | 'unsupported_scheme'
  | 'authorization_too_long'
  // Bearer tokens
  | 'malformed_token'
  | 'alg_not_allowed'
  | 'unknown_kid'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'invalid_claim'
  | 'no_gateway_role'
  // The identity provider's key set
  | 'jwks_unavailable'
  | 'jwks_invalid'
  | 'jwks_too_large'
  | 'authenticator_closed';

const STATUS: Record<AuthErrorCode, AuthErrorStatus> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, AUTH_UNAVAILABLE: 503 };

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code: AuthErrorCode;
  readonly status: AuthErrorStatus;
  readonly reason: AuthFailureReason;

  /** `cause` is for server-side logs only (e.g. the TLS error of a JWKS fetch); it never holds a credential. */
  constructor(code: AuthErrorCode, reason: AuthFailureReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = STATUS[code];
    this.reason = reason;
  }
}

export function unauthenticated(reason: AuthFailureReason, message: string): AuthError {
  return new AuthError('UNAUTHENTICATED', reason, message);
}
