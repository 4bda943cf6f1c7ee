/**
 * Identity and browsers, over real HTTP, SSE and graphql-ws against the simulator: CORS from
 * an allowlist, credential passthrough with the caller's own vCenter sessions, and the refusal
 * to run without identity off loopback.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { DEFAULT_AUTH } from '../src/auth/config.ts';
import type { AuthConfig } from '../src/auth/config.ts';
import { simStatsOverHttp, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { basic, postAs, sseAs, wsAs } from './auth-clients.ts';

const CLUSTERS = '{ clusters(first: 100) { totalCount nodes { name } } }';
const LISTED = 'https://dashboard.example.com';
const EVIL = 'https://evil.example';

function authConfig(overrides: Partial<AuthConfig>): AuthConfig {
  return { ...DEFAULT_AUTH, ...overrides };
}

describe('CORS: an allowlist, nothing cross-origin by default', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } }, undefined, {
      auth: authConfig({ corsOrigins: [LISTED] }),
    });
  });
  afterAll(() => h.close());

  const preflight = (origin: string) =>
    fetch(h.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
    });

  it('answers the preflight of a listed origin, with credentials allowed', async () => {
    const response = await preflight(LISTED);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(LISTED);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type, authorization');
  });

  it('lets a listed origin read the response of its POST', async () => {
    const outcome = await postAs(h.url, CLUSTERS, {}, { origin: LISTED });
    expect(outcome.status).toBe(200);
    expect(outcome.headers!.get('access-control-allow-origin')).toBe(LISTED);
    expect(outcome.data).toEqual([{ clusters: { totalCount: 1, nodes: [expect.objectContaining({ name: expect.any(String) })] } }]);
  });

  it('fails the preflight of any other origin and gives it no access-control header', async () => {
    const response = await preflight(EVIL);
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('refuses a cross-origin request from an unlisted origin that skipped the preflight', async () => {
    const outcome = await postAs(h.url, CLUSTERS, {}, { origin: EVIL });
    expect(outcome.status).toBe(403);
    expect(outcome.codes).toEqual(['CORS_ORIGIN_NOT_ALLOWED']);
    expect(outcome.headers!.get('access-control-allow-origin')).toBeNull();
    const sse = await sseAs(h.url, CLUSTERS, {}, { origin: EVIL });
    expect(sse.status).toBe(403);
  });

  it('treats the gateway\'s own pages (GraphiQL) as same-origin', async () => {
    const origin = new URL(h.url).origin;
    const outcome = await postAs(h.url, CLUSTERS, {}, { origin });
    expect(outcome.status).toBe(200);
    expect(outcome.headers!.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a WebSocket upgrade from an unlisted origin and accepts a listed one', async () => {
    const refused = await wsAs(h.url, CLUSTERS, {}, undefined, { origin: EVIL, deadlineMs: 5_000 });
    expect(refused.data).toEqual([]);
    expect(refused.status).not.toBe(0);
    const accepted = await wsAs(h.url, CLUSTERS, {}, undefined, { origin: LISTED });
    expect(accepted.data).toEqual([{ clusters: expect.objectContaining({ totalCount: 1 }) }]);
  });
});

describe('credential passthrough (auth vcenter)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 2 } }, undefined, {
      auth: authConfig({ mode: 'vcenter' }),
    });
  });
  afterAll(() => h.close());

  it('asks for credentials on every transport when none are given', async () => {
    const post = await postAs(h.url, CLUSTERS, {});
    expect(post.status).toBe(401);
    expect(post.codes).toEqual(['UNAUTHENTICATED']);
    expect(post.headers!.get('www-authenticate')).toBe('Basic realm="vSphere GraphQL gateway", charset="UTF-8"');
    const page = await fetch(h.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(401); // GraphiQL in a browser: the Basic prompt
    expect(page.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await sseAs(h.url, CLUSTERS, {})).status).toBe(401);
    expect((await wsAs(h.url, CLUSTERS, {}, undefined)).status).toBe(4401);
  });

  it('acts as the user, logging in once per vCenter per API whatever the number of requests', async () => {
    for (const vc of h.sim.vcenters) vc.resetStats();
    const auth = { authorization: basic(h.sim.username, h.sim.password) };
    for (let i = 0; i < 5; i++) {
      const outcome = await postAs(h.url, '{ hosts(first: 100) { totalCount } }', {}, auth);
      expect(outcome).toMatchObject({ status: 200, codes: [], data: [{ hosts: { totalCount: 8 } }] });
    }
    const sse = await sseAs(h.url, CLUSTERS, {}, auth);
    expect(sse).toMatchObject({ status: 200, codes: [] });
    expect(sse.data).toEqual([{ clusters: expect.objectContaining({ totalCount: 4 }) }]);
    const ws = await wsAs(h.url, CLUSTERS, {}, { authorization: auth.authorization });
    expect(ws.data).toEqual([{ clusters: expect.objectContaining({ totalCount: 4 }) }]);
    for (const vc of h.sim.vcenters) {
      const stats = await simStatsOverHttp(h.sim, vc.url);
      // Positive evidence that the caller's password reached vCenter: its logins succeeded there.
      expect(stats.logins).toEqual({ rest: 1, vim: 1 });
      expect(stats.failedLogins).toEqual({ rest: 0, vim: 0 });
    }
  });

  it('answers a password vCenter refuses with 401 on every transport, and keeps no session for it', async () => {
    for (const vc of h.sim.vcenters) vc.resetStats();
    const wrong = basic(h.sim.username, 'not-the-password');
    const post = await postAs(h.url, CLUSTERS, {}, { authorization: wrong });
    expect(post.status).toBe(401);
    expect(post.codes).toEqual(['UNAUTHENTICATED']);
    expect((await sseAs(h.url, CLUSTERS, {}, { authorization: wrong })).status).toBe(401);
    expect((await wsAs(h.url, CLUSTERS, {}, { authorization: wrong })).status).toBe(4401);
    for (const vc of h.sim.vcenters) {
      const stats = await simStatsOverHttp(h.sim, vc.url);
      expect(stats.failedLogins.rest).toBe(3);
      expect(stats.logins.rest).toBe(0);
    }
    for (const client of h.gateway.upstreams.list) expect(client.userSessionStats().users).toBe(1); // only the good user
    expect(JSON.stringify(h.logs)).not.toContain('not-the-password');
  });

  it('renews an expired passthrough session transparently, once per API', async () => {
    const auth = { authorization: basic(h.sim.username, h.sim.password) };
    expect((await postAs(h.url, CLUSTERS, {}, auth)).codes).toEqual([]);
    for (const vc of h.sim.vcenters) {
      vc.expireSessions();
      vc.resetStats();
    }
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => postAs(h.url, '{ hosts(first: 100) { totalCount } }', {}, auth)));
    for (const outcome of outcomes) expect(outcome).toMatchObject({ status: 200, codes: [], data: [{ hosts: { totalCount: 8 } }] });
    for (const vc of h.sim.vcenters) {
      const stats = await simStatsOverHttp(h.sim, vc.url);
      expect(stats.logins).toEqual({ rest: 0, vim: 1 }); // the REST session is renewed on first use of REST only
    }
  });

  it('refuses a malformed Authorization header with 401', async () => {
    for (const header of ['Basic', 'Basic !!!', 'Digest abc', 'Basic ' + Buffer.from('no-colon').toString('base64')]) {
      const outcome = await postAs(h.url, CLUSTERS, {}, { authorization: header });
      expect(outcome.status, header).toBe(401);
      expect(outcome.codes, header).toEqual(['UNAUTHENTICATED']);
    }
  });
});

describe('no identity off loopback', () => {
  it('refuses auth none on a non-loopback address with a message that says what to do', () => {
    expect(() => loadConfig(['--host', '0.0.0.0'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--host', '0.0.0.0'], {})).toThrow(/--auth vcenter.*--auth jwt.*--allow-anonymous/s);
    expect(() => loadConfig(['--host', '::'], {})).toThrow(/Refusing to listen on ::/);
  });

  it('allows it with --allow-anonymous, with a warning, and loopback without anything', () => {
    expect(loadConfig(['--host', '0.0.0.0', '--allow-anonymous'], {}).exposureWarning).toMatch(/NO authentication/);
    expect(loadConfig(['--host', '127.0.0.1'], {}).exposureWarning).toBeUndefined();
    expect(loadConfig(['--host', '::1'], {}).exposureWarning).toBeUndefined();
    expect(loadConfig(['--host', '0.0.0.0', '--auth', 'vcenter'], {}).auth.mode).toBe('vcenter');
  });

  it('rejects unknown auth modes, bad origins and unknown keys by name', () => {
    expect(() => loadConfig(['--auth', 'ldap'], {})).toThrow('--auth must be "none", "vcenter" or "jwt", got "ldap"');
    expect(() => loadConfig([], { GATEWAY_AUTH: 'ldap' })).toThrow('GATEWAY_AUTH (environment) must be "none", "vcenter" or "jwt", got "ldap"');
    expect(() => loadConfig(['--cors-origin', 'https://a.example/path'], {})).toThrow(/not an origin/);
    expect(() => loadConfig(['--auth', 'jwt'], {})).toThrow(/auth.jwt/);
    const jwtWith = (algorithms: string[]) => {
      const file = join(mkdtempSync(join(tmpdir(), 'auth-config-')), 'config.json');
      writeFileSync(file, JSON.stringify({ auth: { mode: 'jwt', jwt: { issuer: 'https://idp.example', audience: 'gw', jwksUri: 'https://idp.example/certs', algorithms, roles: { viewer: ['v'] } } } }));
      return loadConfig(['--config', file], {});
    };
    expect(jwtWith(['RS256', 'ES256']).auth.jwt?.algorithms).toEqual(['RS256', 'ES256']);
    expect(() => jwtWith(['RS256', 'HS256'])).toThrow(/auth\.jwt\.algorithms: HS256 not among/);
  });
});
