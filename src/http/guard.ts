/**
 * Checks made before GraphQL sees an HTTP request. The options object is where further
 * transport-level checks (authentication, CORS) plug in.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface HttpGuardOptions {
  /** Request body bytes. */
  maxBodyBytes: number;
  /** A body over maxBodyBytes but within this is read and discarded before the 413 (see refuseBody). */
  maxDiscardedBodyBytes: number;
  /** Connections accepted over the cap (see limitConnections): answered 503 and closed. */
  overCapacity?: (socket: Socket) => boolean;
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
    if (options.overCapacity?.(req.socket)) {
      return refuse(req, res, 503, 'TOO_MANY_CONNECTIONS', 'The gateway has too many open connections; retry later');
    }
    if (req.method === 'POST') {
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (SIMPLE_CONTENT_TYPES.has(contentType) && !PREFLIGHT_HEADERS.some((h) => req.headers[h] !== undefined)) {
        return refuse(req, res, 400, 'CSRF_PREVENTED', 'Send Content-Type: application/json (or a graphql-require-preflight header)');
      }
      const length = req.headers['content-length'];
      if (length === undefined) return refuse(req, res, 411, 'LENGTH_REQUIRED', 'A Content-Length header is required');
      if (Number(length) > options.maxBodyBytes) return refuseBody(req, res, options);
    }
    return handler(req, res);
  };
}

/**
 * 413 for a body over the limit. A client still writing its body when the server closes the
 * connection gets EPIPE/ECONNRESET instead of the answer, so a body within
 * maxDiscardedBodyBytes is read to its end (and dropped) first; a larger one is refused at once.
 */
function refuseBody(req: IncomingMessage, res: ServerResponse, options: HttpGuardOptions): void {
  const answer = () => refuse(req, res, 413, 'PAYLOAD_TOO_LARGE', `Request body over ${options.maxBodyBytes} bytes`);
  if (Number(req.headers['content-length']) > options.maxDiscardedBodyBytes) return answer();
  req.on('data', () => {}); // discard
  req.once('end', answer);
  req.once('error', () => res.destroy());
}

/**
 * Counts open client connections. Those accepted over `max` are marked for a clear refusal
 * (HTTP 503 TOO_MANY_CONNECTIONS, WebSocket close 1013) rather than letting the process run
 * into its file-descriptor limit; far over it, Node drops new connections outright.
 */
export function limitConnections(server: Server, max: number): { overCapacity(socket: Socket): boolean; open(): number } {
  const refused = new WeakSet<Socket>();
  let open = 0;
  server.maxConnections = max + Math.max(64, Math.ceil(max / 10));
  server.on('connection', (socket: Socket) => {
    open++;
    if (open > max) refused.add(socket);
    socket.once('close', () => open--);
  });
  return { overCapacity: (socket) => refused.has(socket), open: () => open };
}

/** Answers with a GraphQL-shaped JSON error and closes the connection. */
export function refuse(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
  req.resume();
}
