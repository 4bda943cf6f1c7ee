/**
 * Strict parsing of what a caller presents: an HTTP `Authorization` header (RFC 9110 §11.6.2,
 * Basic per RFC 7617, Bearer per RFC 6750) or a graphql-ws `connection_init` payload.
 *
 * Anything that is not exactly one well-formed Basic or Bearer credential is refused with an
 * AuthError (401) rather than guessed at: a lenient parser here is how a credential meant for
 * one user ends up interpreted as another's, or how garbage reaches vCenter's login.
 * Error messages are fixed sentences; they never echo what the caller sent.
 */
import { AuthError } from './errors.ts';

export { AuthError } from './errors.ts';
export type { AuthErrorCode, AuthErrorStatus, AuthFailureReason } from './errors.ts';

export type ParsedAuthorization =
  | { scheme: 'basic'; username: string; password: string }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'none' };

/** Longest Authorization value (and Basic user name plus password) accepted, in characters. */
export const MAX_AUTHORIZATION_LENGTH = 8 * 1024;

/** The `WWW-Authenticate` value for a 401 in Basic mode; announces UTF-8 as the parser expects it. */
export function basicChallenge(realm: string): string {
  return `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"`;
}

const NONE: ParsedAuthorization = Object.freeze({ scheme: 'none' });

// RFC 9110 auth-scheme = token, then 1*SP and the credentials (token68 for both schemes we take);
// token and token68 are visible ASCII, so control and non-ASCII characters never match.
const CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +([^ \t].*))?$/s;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// C0, DEL and C1: RFC 7617 forbids control characters in user-id and password.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function malformed(message = 'malformed Authorization header'): AuthError {
  return new AuthError('UNAUTHENTICATED', 'malformed_authorization', message);
}

/**
 * Parses one `Authorization` header value. `undefined`/`null` (no header) is `{ scheme: 'none' }`;
 * a header that is present but empty is malformed.
 */
export function parseAuthorizationHeader(value: string | null | undefined): ParsedAuthorization {
  if (value === undefined || value === null) return NONE;
  if (typeof value !== 'string') throw malformed();
  if (value.length > MAX_AUTHORIZATION_LENGTH) {
    throw new AuthError('UNAUTHENTICATED', 'authorization_too_long', 'Authorization header too long');
  }
  const match = CREDENTIALS.exec(value.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (!match) throw malformed();
  const scheme = match[1]!.toLowerCase();
  const credentials = match[2];
  if (scheme !== 'basic' && scheme !== 'bearer') {
    throw new AuthError('UNAUTHENTICATED', 'unsupported_scheme', 'unsupported authorization scheme (use Basic or Bearer)');
  }
  if (credentials === undefined || !TOKEN68.test(credentials)) throw malformed();
  if (scheme === 'bearer') return { scheme: 'bearer', token: credentials };
  return parseBasicCredentials(credentials);
}

function parseBasicCredentials(encoded: string): ParsedAuthorization {
  // Canonical base64 only: Buffer would silently skip stray characters and non-zero padding bits.
  if (!BASE64.test(encoded)) throw malformed();
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.toString('base64') !== encoded) throw malformed();
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw malformed();
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed();
  return checkedBasic(decoded.slice(0, colon), decoded.slice(colon + 1));
}

/**
 * An empty password is refused too (RFC 7617 would allow it): vCenter never accepts one,
 * and refusing it here spares vCenter's login (and its lockout counter) a certain failure.
 */
function checkedBasic(username: string, password: string): ParsedAuthorization {
  if (username.length === 0) throw malformed('Basic credentials need a user name');
  if (password.length === 0) throw malformed('Basic credentials need a password');
  if (username.includes(':')) throw malformed();
  if (CONTROL.test(username) || CONTROL.test(password)) throw malformed();
  if (username.length + password.length > MAX_AUTHORIZATION_LENGTH) {
    throw new AuthError('UNAUTHENTICATED', 'authorization_too_long', 'credentials too long');
  }
  return { scheme: 'basic', username, password };
}

/**
 * Parses a graphql-ws `connection_init` payload. Accepted shapes (other keys are ignored):
 * `{ authorization: 'Basic …' | 'Bearer …' }`, the same under `Authorization`, or
 * `{ username, password }`. No payload, or none of these keys, is `{ scheme: 'none' }`.
 * Two different credentials in one payload are refused rather than one picked.
 */
export function parseConnectionInitPayload(payload: unknown): ParsedAuthorization {
  if (payload === undefined || payload === null) return NONE;
  if (typeof payload !== 'object' || Array.isArray(payload)) throw malformed('malformed connection_init payload');
  const record = payload as Record<string, unknown>;
  const own = (key: string): unknown => (Object.hasOwn(record, key) ? record[key] : undefined);

  const lower = own('authorization');
  const upper = own('Authorization');
  const username = own('username');
  const password = own('password');
  const header = lower ?? upper;
  const hasHeader = header !== undefined;
  const hasUserPassword = username !== undefined || password !== undefined;

  if (lower !== undefined && upper !== undefined && lower !== upper) throw malformed('malformed connection_init payload');
  if (hasHeader && hasUserPassword) throw malformed('malformed connection_init payload');
  if (hasHeader) {
    if (typeof header !== 'string') throw malformed('malformed connection_init payload');
    return parseAuthorizationHeader(header);
  }
  if (hasUserPassword) {
    if (typeof username !== 'string' || typeof password !== 'string') throw malformed('malformed connection_init payload');
    return checkedBasic(username, password);
  }
  return NONE;
}
