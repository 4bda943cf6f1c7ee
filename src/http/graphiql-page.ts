/**
 * The GraphiQL page, rendered once and served like a static asset: ~9 MB of inline scripts,
 * so it goes out compressed (br or gzip, compressed once off the event loop and kept), with an
 * ETag so that a reload costs a 304, and with a CSP that allows exactly its own inline script.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';

/** Our mark: a hexagon of vSphere blue with a GraphQL-style node graph (inline SVG, no file to serve). */
export const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><path fill="#1d428a" d="M32 2 58 17v30L32 62 6 47V17z"/>' +
  '<path fill="none" stroke="#fff" stroke-width="3" d="M32 14 47 23v18L32 50 17 41V23zM32 14v36M17 23l30 18M47 23 17 41"/></svg>';
export const ICON_DATA_URL = `data:image/svg+xml;base64,${Buffer.from(ICON_SVG).toString('base64')}`;

type Encoding = 'br' | 'gzip' | 'identity';

const compressBrotli = promisify(brotliCompress);
const compressGzip = promisify(gzip);

/** Rendered on first use: most gateways (tests, benchmarks, production without GraphiQL) never serve it. */
export class GraphiQLPage {
  private rendered: { html: Buffer; etag: string; contentSecurityPolicy: string } | undefined;
  private readonly encoded = new Map<Encoding, Promise<Buffer>>();

  constructor(private readonly options: GraphiQLOptions) {}

  private render() {
    if (!this.rendered) {
      const html = renderGraphiQL({ ...this.options, favicon: ICON_DATA_URL, logo: ICON_SVG });
      const bytes = Buffer.from(html);
      this.rendered = {
        html: bytes,
        etag: `W/"${createHash('sha256').update(bytes).digest('base64url').slice(0, 32)}"`,
        contentSecurityPolicy: cspFor(html),
      };
    }
    return this.rendered;
  }

  /** Answers GET/HEAD for the page. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { html, etag, contentSecurityPolicy } = this.render();
    const headers: Record<string, string> = {
      'content-type': 'text/html; charset=utf-8',
      etag,
      // Revalidate on every load: the ETag makes that a 304 of a few hundred bytes.
      'cache-control': 'no-cache',
      vary: 'Accept-Encoding',
      'content-security-policy': contentSecurityPolicy,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const encoding = chooseEncoding(req.headers['accept-encoding']);
    const body = await this.body(encoding, html);
    if (encoding !== 'identity') headers['content-encoding'] = encoding;
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private body(encoding: Encoding, html: Buffer): Promise<Buffer> {
    if (encoding === 'identity') return Promise.resolve(html);
    let body = this.encoded.get(encoding);
    if (!body) {
      body =
        encoding === 'br'
          ? compressBrotli(html, { params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: html.length } })
          : compressGzip(html, { level: 6 });
      this.encoded.set(encoding, body);
    }
    return body;
  }
}

/**
 * Scripts: only the page's own inline script (by hash), and the editor's web workers, which it
 * creates from blob: URLs. Requests go to this origin only (queries and SSE subscriptions).
 */
function cspFor(html: string): string {
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`);
  return [
    "default-src 'none'",
    `script-src ${scripts.join(' ')}`,
    'worker-src blob:',
    "style-src 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === opaque;
  });
}

/** br, then gzip, by the client's Accept-Encoding (q=0 refuses). */
export function chooseEncoding(header: string | undefined): Encoding {
  const accepted = new Map<string, number>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    accepted.set(name, q ? Number(q.slice(2)) || 0 : 1);
  }
  const ok = (name: string) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return 'identity';
}
