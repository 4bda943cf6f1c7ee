/**
 * Who may use the gateway over HTTP (queries, mutations, SSE subscriptions, GraphiQL):
 * browser origins (CORS from an allowlist, nothing cross-origin by default), the caller's
 * identity (per the auth mode), and the caller's request rate. Runs before GraphQL sees the
 * request and hands the Caller on as yoga's server context.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Caller } from '../auth/caller.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { parseAuthorizationHeader, parseConnectionInitPayload } from '../auth/authorization-header.ts';
import { AuthError } from '../auth/errors.ts';
import type { Logger } from '../log.ts';

/** Per-key request budget (token bucket). */
export interface RequestRateLimiter {
  take(key: string): { ok: true } | { ok: false; retryAfterMs: number };
  /** Whether take() would succeed, without taking. */
  available(key: string): boolean;
}

export interface AccessOptions {
  authenticator: Authenticator;
  corsOrigins: readonly string[];
  /** Requests per caller. */
  rateLimiter?: RequestRateLimiter;
  /** Refused logins per client address: past the budget, credentials are not even tried (no vCenter login, no account lockout). */
  failedLogins?: RequestRateLimiter;
  logger: Logger;
}

export type CallerHandler = (req: IncomingMessage, res: ServerResponse, context: { caller: Caller }) => unknown;

/** Request headers a listed origin may send (what GraphiQL and graphql clients use). */
const CORS_ALLOWED_HEADERS = ['accept', 'authorization', 'content-type', 'graphql-require-preflight', 'x-request-id', 'traceparent', 'tracestate'];

/** The client's address, without the IPv4-mapped prefix. */
export function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** A page of this very gateway (GraphiQL) sends its own origin: that is not cross-origin. */
export function isSameOrigin(origin: string, req: IncomingMessage): boolean {
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Whether the browser origin of a request (absent for non-browser clients) may use the gateway. */
export function originAllowed(req: IncomingMessage, corsOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  return origin === undefined || corsOrigins.includes(origin) || isSameOrigin(origin, req);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** GraphiQL's page itself (no operation): in jwt mode it loads without a token, which is then typed into its header editor. */
function isGraphiQLPage(req: IncomingMessage): boolean {
  if (req.method !== 'GET' || !(req.headers.accept ?? '').includes('text/html')) return false;
  const url = new URL(req.url ?? '/', 'http://gateway');
  return !url.searchParams.has('query');
}

/** A caller with no role: may load GraphiQL's page and nothing else. */
function pageVisitor(address: string): Caller {
  return { key: `visitor:${address}`, kind: 'anonymous', name: 'visitor', roles: new Set(), address };
}

export function withAccessControl(handler: CallerHandler, options: AccessOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const { authenticator, corsOrigins, rateLimiter, failedLogins, logger } = options;
  return (req, res) => {
    const origin = req.headers.origin;
    const listed = origin !== undefined && corsOrigins.includes(origin);
    if (req.method === 'OPTIONS') {
      // Preflight: answered for listed origins only; anybody else's browser stops here.
      if (!listed) return sendError(res, 403, 'CORS_ORIGIN_NOT_ALLOWED', 'This origin may not call the gateway');
      const requested = (req.headers['access-control-request-headers'] ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
      res.writeHead(204, {
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': requested.filter((h) => CORS_ALLOWED_HEADERS.includes(h)).join(', ') || 'content-type',
        'access-control-max-age': '600',
        vary: 'Origin',
      });
      return res.end();
    }
    if (!originAllowed(req, corsOrigins)) {
      return sendError(res, 403, 'CORS_ORIGIN_NOT_ALLOWED', 'This origin may not call the gateway');
    }
    if (listed) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('vary', 'Origin');
    }
    const address = clientAddress(req);
    void (async () => {
      let caller: Caller;
      if (failedLogins && !failedLogins.available(address)) return refuseRate(res, failedLogins.take(address));
      try {
        if (authenticator.mode === 'jwt' && isGraphiQLPage(req) && req.headers.authorization === undefined) caller = pageVisitor(address);
        else caller = await authenticator.authenticate(parseAuthorizationHeader(req.headers.authorization), address);
      } catch (error) {
        if (!(error instanceof AuthError)) throw error;
        if (presentedSomething(req.headers.authorization, error)) failedLogins?.take(address);
        logger.info('request refused', { code: error.code, reason: error.reason, address });
        const challenge = error.status === 401 ? authenticator.challenge(error) : undefined;
        return sendError(res, error.status, error.code, error.message, challenge ? { 'www-authenticate': challenge } : {});
      }
      const budget = rateLimiter?.take(caller.key);
      if (budget && !budget.ok) return refuseRate(res, budget.retryAfterMs);
      return handler(req, res, { caller });
    })().catch((error: unknown) => {
      logger.error('access control failed', { error });
      if (!res.headersSent) sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error');
      else res.destroy();
    });
  };
}

/** A refusal that counts as a failed login: credentials were presented (not merely absent) and judged, not left unchecked. */
function presentedSomething(presented: unknown, error: AuthError): boolean {
  const absent = presented === undefined || (typeof presented === 'object' && presented !== null && Object.keys(presented).length === 0);
  return !absent && error.code !== 'AUTH_UNAVAILABLE';
}

function refuseRate(res: ServerResponse, verdict: number | { ok: boolean; retryAfterMs?: number }): void {
  const retryAfterMs = typeof verdict === 'number' ? verdict : (verdict.retryAfterMs ?? 1_000);
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  sendError(res, 429, 'RATE_LIMITED', `Too many requests; retry after ${seconds} s`, { 'retry-after': String(seconds) });
}

/** What graphql-ws gives onConnect, as far as authentication needs it. */
export interface WebSocketConnectContext {
  connectionParams?: Readonly<Record<string, unknown>> | undefined;
  extra: { request: IncomingMessage; socket: { close(code: number, reason: string): void; once(event: 'close', listener: () => void): unknown } };
}

/**
 * graphql-ws `connection_init`: the credentials come in its payload (`authorization`), or on
 * the upgrade request's Authorization header (non-browser clients). Closes the socket with
 * 4401 / 4403 / 4429 and resolves undefined when refused.
 */
export async function authenticateWebSocket(
  ctx: WebSocketConnectContext,
  { authenticator, rateLimiter, failedLogins, logger }: Pick<AccessOptions, 'authenticator' | 'rateLimiter' | 'failedLogins' | 'logger'>,
): Promise<Caller | undefined> {
  const address = clientAddress(ctx.extra.request);
  if (failedLogins && !failedLogins.available(address)) {
    ctx.extra.socket.close(4429, 'Too many failed logins');
    return undefined;
  }
  try {
    let presented = parseConnectionInitPayload(ctx.connectionParams);
    if (presented.scheme === 'none') presented = parseAuthorizationHeader(ctx.extra.request.headers.authorization);
    const caller = await authenticator.authenticate(presented, address);
    const budget = rateLimiter?.take(caller.key);
    if (budget && !budget.ok) {
      ctx.extra.socket.close(4429, 'Too many requests');
      return undefined;
    }
    return caller;
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    if (presentedSomething(ctx.connectionParams ?? ctx.extra.request.headers.authorization, error)) failedLogins?.take(address);
    ctx.extra.socket.close(error.status === 401 ? 4401 : error.status === 403 ? 4403 : 4503, error.message.slice(0, 120));
    logger.info('WebSocket connection refused', { code: error.code, reason: error.reason, address });
    return undefined;
  }
}
