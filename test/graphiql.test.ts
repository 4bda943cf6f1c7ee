/**
 * The GraphiQL page and the routes around it: compressed, cached with an ETag, locked down with
 * a CSP that matches its one inline script, requests sent with POST; and a production switch
 * that turns GraphiQL and introspection off.
 */
import { createHash } from 'node:crypto';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../src/gateway.ts';
import { ICON_DATA_URL } from '../src/http/graphiql-page.ts';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { rawGet } from './http-helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } });
});
afterAll(async () => h?.close());

const page = (headers: Record<string, string> = {}) => rawGet(h.url, { accept: 'text/html', ...headers });

describe('GraphiQL page', () => {
  it('is served compressed (br, gzip) when accepted, whole otherwise, with the same content', async () => {
    const plain = await page({ 'accept-encoding': 'identity' });
    const br = await page({ 'accept-encoding': 'gzip, deflate, br' });
    const gz = await page({ 'accept-encoding': 'gzip' });
    expect([plain.status, br.status, gz.status]).toEqual([200, 200, 200]);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(br.headers['content-encoding']).toBe('br');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(Number(plain.headers['content-length'])).toBe(plain.body.length);
    expect(Number(br.headers['content-length'])).toBe(br.body.length);
    expect(plain.body.length).toBeGreaterThan(5_000_000);
    // ~9 MB of scripts: br to under a quarter, gzip to under a third.
    expect(br.body.length).toBeLessThan(plain.body.length / 4);
    expect(gz.body.length).toBeLessThan(plain.body.length / 3);
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    expect(plain.headers['vary']).toContain('Accept-Encoding');
  });

  it('answers a matching If-None-Match with an empty 304', async () => {
    const first = await page({ 'accept-encoding': 'br' });
    const etag = first.headers['etag'] as string;
    expect(etag).toMatch(/^W\/".+"$/);
    expect(first.headers['cache-control']).toBe('no-cache');
    const again = await page({ 'accept-encoding': 'br', 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers['etag']).toBe(etag);
    const stale = await page({ 'accept-encoding': 'br', 'if-none-match': 'W/"something-else"' });
    expect(stale.status).toBe(200);
  });

  it('has a CSP allowing exactly its own inline script, X-Frame-Options DENY, no asset from elsewhere, our favicon, and POST for every request', async () => {
    const res = await page({ 'accept-encoding': 'identity' });
    const html = res.body.toString('utf8');
    expect(res.headers['x-frame-options']).toBe('DENY');
    const csp = res.headers['content-security-policy'] as string;
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k!, v]));
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    expect(html).not.toMatch(/<script[^>]*\ssrc=/);
    expect(directives['script-src']).toEqual([`'sha256-${createHash('sha256').update(scripts[0]!).digest('base64')}'`]);
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    // Everything the page needs is in it (workers from blob: URLs): no CDN.
    expect(html).not.toMatch(/\b(src|href)="https?:/);
    expect(html).toContain(`<link rel="icon" href="${ICON_DATA_URL}"`);
    const options = JSON.parse(/renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*\}),\s*\);/s.exec(html)![1]!);
    expect(options).toMatchObject({ method: 'POST', useGETForQueries: false, subscriptionsProtocol: 'SSE', shouldPersistHeaders: false });
  });

  it('GraphiQL\'s way of subscribing (POST, Accept: text/event-stream) streams a subscription', async () => {
    const res = await fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { patchScanUpdated(ids: ["bm90LWEtc2Nhbg"]) { id } }' }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(text).toContain('event: next');
    expect(text).toContain('BAD_USER_INPUT');
  });

  it('redirects / to /graphql and serves our own favicon', async () => {
    const origin = h.url.replace(/\/graphql$/, '');
    const root = await rawGet(`${origin}/`);
    expect(root.status).toBe(302);
    expect(root.headers['location']).toBe('/graphql');
    const icon = await rawGet(`${origin}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.body.toString()).toContain('<svg');
    expect(`data:image/svg+xml;base64,${icon.body.toString('base64')}`).toBe(ICON_DATA_URL);
  });

  it('allows introspection when GraphiQL is on', async () => {
    const res = await h.gql('{ __schema { queryType { name } } }');
    expect(res.data.__schema.queryType.name).toBe('Query');
  });
});

describe('graphiql: false (production)', () => {
  it('serves no page and refuses introspection with INTROSPECTION_DISABLED; other queries work', async () => {
    const gateway = createGateway({
      vcenters: h.sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: h.sim.username, password: h.sim.password, caPem: h.sim.caPem })),
      graphiql: false,
    });
    try {
      const url = await gateway.listen(0, '127.0.0.1');
      const html = await rawGet(url, { accept: 'text/html' });
      expect(html.headers['content-type'] ?? '').not.toContain('text/html');
      expect(html.body.toString()).not.toContain('<script');
      const post = (query: string) =>
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }).then((r) => r.json() as Promise<any>);
      for (const query of ['{ __schema { types { name } } }', '{ __type(name: "Host") { fields { name } } }', '{ vcenters { name } a: __schema { queryType { name } } }']) {
        const res = await post(query);
        expect(res.data).toBeUndefined();
        expect(res.errors.map((e: any) => e.extensions.code)).toContain('INTROSPECTION_DISABLED');
      }
      const ok = await post('{ __typename vcenters { name } }');
      expect(ok.errors).toBeUndefined();
      expect(ok.data.vcenters).toHaveLength(1);
    } finally {
      await gateway.close(1_000);
    }
  });
});
