/**
 * PLACEHOLDER (replaced by the auth-modules branch): minimal Authorization parsing so the
 * authenticator compiles.
 */
export type PresentedCredentials =
  | { scheme: 'basic'; username: string; password: string }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'none' };

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'AUTH_UNAVAILABLE',
    readonly status: 401 | 403 | 503,
    message: string,
    readonly reason = 'unauthenticated',
  ) {
    super(message);
  }
}

export function parseAuthorization(value: string | undefined): PresentedCredentials {
  if (!value) return { scheme: 'none' };
  const [scheme, rest] = [value.slice(0, value.indexOf(' ')), value.slice(value.indexOf(' ') + 1)];
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i <= 0) throw new AuthError('UNAUTHENTICATED', 401, 'Malformed Basic credentials', 'malformed_authorization');
    return { scheme: 'basic', username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  if (/^bearer$/i.test(scheme)) return { scheme: 'bearer', token: rest };
  throw new AuthError('UNAUTHENTICATED', 401, 'Unsupported Authorization scheme', 'malformed_authorization');
}

export function parseConnectionParams(payload: unknown): PresentedCredentials {
  const p = (payload ?? {}) as Record<string, unknown>;
  const header = p['authorization'] ?? p['Authorization'];
  return parseAuthorization(typeof header === 'string' ? header : undefined);
}
