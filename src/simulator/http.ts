// Small HTTP helpers shared by the REST and VI/JSON handlers (plain node:http).

import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bodies above this are refused: the simulator never needs more and must not be easy to exhaust. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // Encoded once: the length and the bytes sent come from one buffer (a 2,500-host report is megabytes).
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': bytes.length,
    ...headers,
  });
  res.end(bytes);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': 0, ...headers });
  res.end();
}

/** Bodies already read: request validation reads a body before its handler does. */
const bodies = new WeakMap<IncomingMessage, Promise<string>>();

/** The request body as text; reading twice gives the same text. */
export function readBody(req: IncomingMessage): Promise<string> {
  let body = bodies.get(req);
  if (!body) bodies.set(req, (body = readBodyOnce(req)));
  return body;
}

async function readBodyOnce(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Path segments, percent-decoded (ContainerView MoIDs contain brackets). */
export function pathSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
