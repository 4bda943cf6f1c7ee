/**
 * Checks made before GraphQL sees an HTTP request. The options object is where further
 * transport-level checks (authentication, CORS) plug in.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export interface HttpGuardOptions {
  /** Request body bytes. */
  maxBodyBytes: number;
}

/** CORS-safelisted content types: a browser sends these cross-site without a preflight. */
const SIMPLE_CONTENT_TYPES = new Set(['', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);
const PREFLIGHT_HEADERS = ['graphql-require-preflight', 'apollo-require-preflight', 'x-apollo-operation-name'];

/**
 * Bounded body size (known up front, so a large body is refused without being read), and CSRF
 * prevention in the style of Apollo Router: a POST a browser could send cross-site without a
 * preflight must carry a preflight header.
 */
export function guardHttp(handler: RequestListener, options: HttpGuardOptions): RequestListener {
  return (req, res) => {
    if (req.method === 'POST') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (SIMPLE_CONTENT_TYPES.has(contentType) && !PREFLIGHT_HEADERS.some((h) => req.headers[h] !== undefined)) {
        return refuse(req, res, 400, 'CSRF_PREVENTED', 'Send Content-Type: application/json (or a graphql-require-preflight header)');
      }
      const length = req.headers['content-length'];
      if (length === undefined) return refuse(req, res, 411, 'LENGTH_REQUIRED', 'A Content-Length header is required');
      if (Number(length) > options.maxBodyBytes) {
        return refuse(req, res, 413, 'PAYLOAD_TOO_LARGE', `Request body over ${options.maxBodyBytes} bytes`);
      }
    }
    return handler(req, res);
  };
}

/** Answers with a GraphQL-shaped JSON error and closes the connection. */
export function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
  req.resume();
}
