/**
 * The jwt mode's matrix: each kind of caller against a query, a scan mutation and a
 * subscription, over HTTP, SSE and graphql-ws, with the exact status (or close code) and
 * error code each gets. The identity provider is a JWKS server over HTTPS on 127.0.0.1.
 */
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AUTH } from '../src/auth/config.ts';
import { createTlsMaterial } from '../src/simulator/tls.ts';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { postAs, sseAs, wsAs } from './auth-clients.ts';
import type { Outcome } from './auth-clients.ts';

const ISSUER = 'https://idp.example.test/realms/ops';
const AUDIENCE = 'vsphere-gateway';
const DEPOT = 'https://depot.example/esxi-8.0u3/metadata.zip';
const QUERY = '{ clusters(first: 10) { totalCount } }';
const START = `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id state } userErrors { code } } }`;
const FOLLOW = 'subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state } }';

interface Key {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function key(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

let served: Key[] = [];
let jwksFetches = 0;
let idp: Server;
let h: Harness;
let hostId: string;
let scanId: string;
let current: Key;
let rotated: Key;
let impostor: Key;

async function token(signer: Key, claims: JWTPayload = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', groups: ['ops-viewers'], iat: now, exp: now + 600, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: signer.kid }).sign(signer.privateKey);
}

beforeAll(async () => {
  const tls = await createTlsMaterial();
  [current, rotated, impostor] = await Promise.all([key('k1'), key('k2'), key('k1')]);
  served = [current];
  idp = createServer({ key: tls.key, cert: tls.cert }, (_req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: served.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
  h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 3 }, patchScanDurationMs: 4_000 }, undefined, {
    taskWatcher: { maxWaitSeconds: 5 },
    auth: {
      ...DEFAULT_AUTH,
      mode: 'jwt',
      jwt: {
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUri: `https://127.0.0.1:${(idp.address() as AddressInfo).port}/certs`,
        caPem: tls.caPem,
        clockToleranceSec: 0,
        refreshCooldownMs: 1,
        roles: { viewer: ['ops-viewers'], operator: ['ops-operators'] },
      },
      callerLimits: { ...DEFAULT_AUTH.callerLimits, failedLoginBurst: 1_000 },
    },
  });
  const operator = { authorization: `Bearer ${await token(current, { sub: 'olga', groups: ['ops-operators'] })}` };
  const hosts = await postAs(h.url, '{ hosts(first: 10) { nodes { id connectionState } } }', {}, operator);
  hostId = (hosts.data[0] as any).hosts.nodes.find((n: any) => n.connectionState === 'CONNECTED').id;
  const started = await postAs(h.url, START, { input: { hostIds: [hostId], metaUrls: [DEPOT] } }, operator);
  scanId = (started.data[0] as any).hostPatchScanStart.scans[0].id;
});

afterAll(async () => {
  await h?.close();
  idp?.closeAllConnections();
  await new Promise((resolve) => idp?.close(resolve));
});

type Transport = 'http' | 'sse' | 'ws';
type Operation = 'query' | 'mutation' | 'subscription';

/** The operation as `authorization` sends it over `transport`. */
async function run(operation: Operation, transport: Transport, authorization: string | undefined): Promise<Outcome> {
  const [query, variables] =
    operation === 'query'
      ? [QUERY, {}]
      : operation === 'mutation'
        ? [START, { input: { hostIds: [hostId], metaUrls: [DEPOT] } }]
        : [FOLLOW, { ids: [scanId] }];
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  if (transport === 'http') return postAs(h.url, query, variables, headers);
  if (transport === 'sse') return sseAs(h.url, query, variables, headers);
  return wsAs(h.url, query, variables, authorization === undefined ? undefined : { authorization });
}

const OPERATIONS: [Operation, Transport[]][] = [
  ['query', ['http', 'sse', 'ws']],
  ['mutation', ['http', 'ws']],
  ['subscription', ['sse', 'ws']],
];

/** Every transport refuses the connection itself: HTTP status / WebSocket close code, one error code. */
async function expectRefused(authorization: string | undefined, status: number, code: string, closeCode: number): Promise<void> {
  for (const [operation, transports] of OPERATIONS) {
    for (const transport of transports) {
      const outcome = await run(operation, transport, authorization);
      const where = `${operation} over ${transport}`;
      if (transport === 'ws') {
        expect(outcome.status, where).toBe(closeCode);
        expect(outcome.data, where).toEqual([]);
      } else {
        expect(outcome.status, where).toBe(status);
        expect(outcome.codes, where).toEqual([code]);
        expect(outcome.data, where).toEqual([]);
        if (status === 401) expect(outcome.headers!.get('www-authenticate'), where).toMatch(/^Bearer realm="vSphere GraphQL gateway"/);
      }
    }
  }
}

describe('jwt mode: who gets what, on every transport', () => {
  it('anonymous: 401 UNAUTHENTICATED (WebSocket 4401) for everything', async () => {
    await expectRefused(undefined, 401, 'UNAUTHENTICATED', 4401);
  });

  it('malformed Authorization header: 401 (4401)', async () => {
    await expectRefused('Bearer', 401, 'UNAUTHENTICATED', 4401);
    await expectRefused('Bearer a.b', 401, 'UNAUTHENTICATED', 4401);
    await expectRefused('Token abc', 401, 'UNAUTHENTICATED', 4401);
  });

  it('expired token, wrong audience, wrong issuer, bad signature: 401 (4401)', async () => {
    const past = Math.floor(Date.now() / 1000) - 120;
    await expectRefused(`Bearer ${await token(current, { exp: past, iat: past - 60 })}`, 401, 'UNAUTHENTICATED', 4401);
    await expectRefused(`Bearer ${await token(current, { aud: 'another-app' })}`, 401, 'UNAUTHENTICATED', 4401);
    await expectRefused(`Bearer ${await token(current, { iss: 'https://evil.example' })}`, 401, 'UNAUTHENTICATED', 4401);
    await expectRefused(`Bearer ${await token(impostor)}`, 401, 'UNAUTHENTICATED', 4401);
  });

  it('a valid token without a gateway role: 403 FORBIDDEN (4403)', async () => {
    await expectRefused(`Bearer ${await token(current, { groups: ['somebody-else'] })}`, 403, 'FORBIDDEN', 4403);
  });

  it('viewer: queries and subscriptions work, the scan mutation is FORBIDDEN (403) and starts nothing', async () => {
    const viewer = `Bearer ${await token(current)}`;
    for (const transport of ['http', 'sse', 'ws'] as const) {
      const outcome = await run('query', transport, viewer);
      expect(outcome.codes, transport).toEqual([]);
      expect(outcome.data, transport).toEqual([{ clusters: { totalCount: 1 } }]);
    }
    h.sim.vcenters[0]!.resetStats();
    const http = await run('mutation', 'http', viewer);
    expect(http.status).toBe(403);
    expect(http.codes).toEqual(['FORBIDDEN']);
    const ws = await run('mutation', 'ws', viewer);
    expect(ws.codes).toEqual(['FORBIDDEN']);
    expect(ws.data).toEqual([]);
    const requests = h.sim.vcenters[0]!.stats().requests;
    expect(Object.keys(requests).filter((route) => route.includes('ScanHostPatch'))).toEqual([]);
    for (const transport of ['sse', 'ws'] as const) {
      const outcome = await run('subscription', transport, viewer);
      expect(outcome.codes, transport).toEqual([]);
      expect(outcome.completed, transport).toBe(true);
      expect((outcome.data.at(-1) as any).patchScanUpdated).toEqual({ id: scanId, state: 'SUCCESS' });
    }
  });

  it('operator: the scan mutation starts scans over HTTP and graphql-ws', async () => {
    const operator = `Bearer ${await token(current, { sub: 'olga', groups: ['ops-operators'] })}`;
    for (const transport of ['http', 'ws'] as const) {
      // one scan at a time per host: wait for the previous one to end first
      await run('subscription', 'sse', operator);
      const outcome = await run('mutation', transport, operator);
      expect(outcome.codes, transport).toEqual([]);
      const payload = (outcome.data[0] as any).hostPatchScanStart;
      expect(payload.userErrors, transport).toEqual([]);
      expect(payload.scans, transport).toHaveLength(1);
      scanId = payload.scans[0].id;
    }
  });

  it('a token signed with a rotated-in key is accepted after one JWKS refetch', async () => {
    const before = jwksFetches;
    served = [current, rotated];
    const outcome = await run('query', 'http', `Bearer ${await token(rotated)}`);
    expect(outcome.codes).toEqual([]);
    expect(jwksFetches).toBe(before + 1);
    const again = await run('query', 'ws', `Bearer ${await token(rotated)}`);
    expect(again.codes).toEqual([]);
    expect(jwksFetches).toBe(before + 1); // cached from then on
  });

  it('a subscription whose token expires ends at expiry with UNAUTHENTICATED, on SSE and graphql-ws', async () => {
    const operator = `Bearer ${await token(current, { sub: 'olga', groups: ['ops-operators'] })}`;
    await run('subscription', 'sse', operator); // the host is free again
    const started = await run('mutation', 'http', operator);
    const longScan = (started.data[0] as any).hostPatchScanStart.scans[0].id;
    const soon = Math.floor(Date.now() / 1000) + 2; // 1 to 2 s from now; the scan runs 4 s
    const expiring = `Bearer ${await token(current, { exp: soon })}`;
    const [sse, ws] = await Promise.all([
      sseAs(h.url, FOLLOW, { ids: [longScan] }, { authorization: expiring }),
      wsAs(h.url, FOLLOW, { ids: [longScan] }, { authorization: expiring }),
    ]);
    expect(sse.status).toBe(200);
    for (const outcome of [sse, ws]) {
      expect(outcome.data.length).toBeGreaterThan(0); // it was running
      expect(outcome.codes).toEqual(['UNAUTHENTICATED']);
      // ended at expiry: before the scan's terminal state
      expect(outcome.data.map((d: any) => d.patchScanUpdated.state)).not.toContain('SUCCESS');
    }
  });

  it('never writes a token into the logs', async () => {
    const secret = await token(current);
    await run('query', 'http', `Bearer ${secret}`);
    await run('query', 'http', `Bearer ${secret}x`);
    const logs = h.logs.join('\n');
    expect(logs).not.toContain(secret.split('.')[2]!);
    expect(logs).not.toContain(secret.split('.')[1]!);
  });
});
