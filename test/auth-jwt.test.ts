/**
 * createJwtAuthenticator against a real JWKS server over HTTPS on 127.0.0.1, its certificate
 * issued by a throwaway CA. Token times are relative to an injected clock, so expiry,
 * not-before and the refresh cooldown are tested without waiting.
 */
import { createServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SignJWT, base64url, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { AuthError, createJwtAuthenticator } from '../src/auth/jwt.ts';
import type { JwtAuthenticator, JwtAuthenticatorOptions } from '../src/auth/jwt.ts';
import { createTlsMaterial } from '../src/simulator/tls.ts';
import type { TlsMaterial } from '../src/simulator/tls.ts';

const ISSUER = 'https://idp.example.test/realms/vsphere';
const AUDIENCE = 'vsphere-gateway';
const ROLES = { viewer: ['vsphere-readers'], operator: ['vsphere-operators'] };

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** What the JWKS server answers; tests change it between requests. */
interface JwksBehaviour {
  status: number;
  body: string;
  /** Send without content-length, in 1 KiB chunks (the size bound must hold on a stream too). */
  chunked: boolean;
  /** Accept the request and never answer. */
  hang: boolean;
  location?: string;
}

let tls: TlsMaterial;
let server: Server;
let jwksUri: string;
let requests = 0;
let behaviour: JwksBehaviour;
let keyA: SigningKey;
let keyB: SigningKey;
let keyEs: SigningKey;
let impostor: SigningKey; // same kid as keyA, but not in the JWKS
let clock: number;
const authenticators: JwtAuthenticator[] = [];

function serveKeys(...keys: SigningKey[]): void {
  behaviour.body = JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

function handle(request: IncomingMessage, response: ServerResponse): void {
  requests++;
  if (behaviour.hang) return;
  const headers: Record<string, string> = { 'content-type': 'application/jwk-set+json' };
  const redirected = request.url === '/redirected';
  if (behaviour.location && !redirected) headers['location'] = behaviour.location;
  const status = redirected ? 200 : behaviour.status;
  if (!behaviour.chunked) {
    response.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(behaviour.body)) });
    response.end(behaviour.body);
    return;
  }
  response.writeHead(status, headers);
  for (let i = 0; i < behaviour.body.length; i += 1024) response.write(behaviour.body.slice(i, i + 1024));
  response.end();
}

beforeAll(async () => {
  tls = await createTlsMaterial();
  [keyA, keyB, keyEs, impostor] = await Promise.all([signingKey('key-a'), signingKey('key-b'), signingKey('key-es', 'ES256'), signingKey('key-a')]);
  server = createServer({ key: tls.key, cert: tls.cert }, handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUri = `https://127.0.0.1:${(server.address() as AddressInfo).port}/realms/vsphere/certs`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests = 0;
  clock = Date.now();
  behaviour = { status: 200, body: '', chunked: false, hang: false };
  serveKeys(keyA, keyEs);
});

afterEach(async () => {
  await Promise.all(authenticators.splice(0).map((a) => a.close()));
  server.closeAllConnections(); // a hanging test request must not outlive its test
});

function authenticator(overrides: Partial<JwtAuthenticatorOptions> = {}): JwtAuthenticator {
  const created = createJwtAuthenticator({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri,
    caPem: tls.caPem,
    roles: ROLES,
    now: () => clock,
    ...overrides,
  });
  authenticators.push(created);
  return created;
}

const nowSec = (): number => Math.floor(clock / 1000);

/** A token as the identity provider would issue it; `claims` override or (with undefined) drop defaults. */
async function token(key: SigningKey, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const defaults: JWTPayload = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'f4c1e0d2-alice',
    preferred_username: 'alice',
    groups: ['vsphere-readers'],
    iat: nowSec(),
    exp: nowSec() + 300,
  };
  const payload = Object.fromEntries(Object.entries({ ...defaults, ...claims }).filter(([, v]) => v !== undefined));
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

async function refusal(promise: Promise<unknown>, secret: string): Promise<AuthError> {
  const error = await promise.then(
    () => {
      throw new Error('expected an AuthError, the token was accepted');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  const authError = error as AuthError;
  for (const part of [secret, ...secret.split('.')].filter((p) => p.length >= 8)) expect(authError.message).not.toContain(part);
  return authError;
}

describe('valid tokens', () => {
  it('a viewer gets a jwt Caller keyed by issuer and subject, named by preferred_username, expiring with the token', async () => {
    const auth = authenticator();
    const exp = nowSec() + 300;
    const caller = await auth.authenticate(await token(keyA, { exp }));
    expect(caller).toEqual({
      kind: 'jwt',
      key: `jwt:${ISSUER}#f4c1e0d2-alice`,
      name: 'alice',
      roles: new Set(['viewer']),
      expiresAt: exp * 1000,
    });
    expect(auth.stats()).toEqual({ jwksFetches: 1 });
    expect(requests).toBe(1);
  });

  it('an operator also gets viewer; the cached key set serves later tokens without a fetch', async () => {
    const auth = authenticator();
    await auth.authenticate(await token(keyA));
    const caller = await auth.authenticate(await token(keyEs, { sub: 'bob', preferred_username: undefined, groups: ['other', 'vsphere-operators'] }));
    expect(caller.roles).toEqual(new Set(['viewer', 'operator']));
    expect(caller.name).toBe('bob'); // no preferred_username: the subject
    expect(auth.stats().jwksFetches).toBe(1);
    expect(requests).toBe(1);
  });

  it('a token with a valid signature but no gateway role is FORBIDDEN (403)', async () => {
    const auth = authenticator();
    const jwt = await token(keyA, { groups: ['payroll'] });
    const error = await refusal(auth.authenticate(jwt), jwt);
    expect(error).toMatchObject({ code: 'FORBIDDEN', status: 403, reason: 'no_gateway_role', message: 'no gateway role' });
    const noClaim = await token(keyA, { groups: undefined });
    expect(await refusal(auth.authenticate(noClaim), noClaim)).toMatchObject({ code: 'FORBIDDEN', reason: 'no_gateway_role' });
  });

  it('reads roles from a dotted path, from a single string, or from a namespaced claim containing dots', async () => {
    const nested = authenticator({ rolesClaim: 'realm_access.roles' });
    const viaPath = await nested.authenticate(await token(keyA, { groups: undefined, realm_access: { roles: ['vsphere-operators'] } }));
    expect(viaPath.roles).toEqual(new Set(['viewer', 'operator']));
    const single = await authenticator({ rolesClaim: 'role' }).authenticate(await token(keyA, { role: 'vsphere-readers' }));
    expect(single.roles).toEqual(new Set(['viewer']));
    const namespaced = authenticator({ rolesClaim: 'https://gateway.example/roles' });
    const viaName = await namespaced.authenticate(await token(keyA, { 'https://gateway.example/roles': ['vsphere-readers'] }));
    expect(viaName.roles).toEqual(new Set(['viewer']));
  });

  it('takes the subject from subjectClaim when configured', async () => {
    const caller = await authenticator({ subjectClaim: 'oid' }).authenticate(await token(keyA, { oid: 'object-42' }));
    expect(caller.key).toBe(`jwt:${ISSUER}#object-42`);
  });

  it('accepts exp and nbf within the clock tolerance', async () => {
    const auth = authenticator({ clockToleranceSec: 30 });
    await expect(auth.authenticate(await token(keyA, { exp: nowSec() - 20 }))).resolves.toMatchObject({ kind: 'jwt' });
    await expect(auth.authenticate(await token(keyA, { nbf: nowSec() + 20 }))).resolves.toMatchObject({ kind: 'jwt' });
  });

  it('accepts a key set that reuses a kid, and a token without kid, by trying each matching key', async () => {
    serveKeys(impostor, keyA, keyB);
    const auth = authenticator();
    await expect(auth.authenticate(await token(keyA))).resolves.toMatchObject({ kind: 'jwt' });
    await expect(auth.authenticate(await token(keyB, {}, { kid: undefined }))).resolves.toMatchObject({ kind: 'jwt' });
    const stranger = await signingKey('key-a');
    const forged = await token(stranger);
    expect(await refusal(auth.authenticate(forged), forged)).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'bad_signature' });
    expect(auth.stats().jwksFetches).toBe(1);
  });
});

describe('refused tokens: 401 with a reason, never the token in the message', () => {
  const cases: [string, () => Promise<string>, string][] = [
    ['expired beyond the tolerance', () => token(keyA, { exp: nowSec() - 31 }), 'expired'],
    ['not yet valid beyond the tolerance', () => token(keyA, { nbf: nowSec() + 60 }), 'not_yet_valid'],
    ['wrong audience', () => token(keyA, { aud: 'some-other-app' }), 'wrong_audience'],
    ['wrong issuer', () => token(keyA, { iss: 'https://idp.example.test/realms/other' }), 'wrong_issuer'],
    ['signed by a key not in the JWKS under a known kid', () => token(impostor), 'bad_signature'],
    ['without exp', () => token(keyA, { exp: undefined }), 'missing_claim'],
    ['without sub', () => token(keyA, { sub: undefined }), 'missing_claim'],
    ['with a non-numeric exp', () => token(keyA, { exp: 'tomorrow' as unknown as number }), 'invalid_claim'],
    ['with a control character in sub', () => token(keyA, { sub: 'alice\nFAKE LOG LINE' }), 'invalid_claim'],
    ['alg none', async () => `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${(await token(keyA)).split('.')[1]}.`, 'alg_not_allowed'],
    [
      'HS256 (keyed with the public JWK, the classic confusion attack)',
      async () => new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', groups: ['vsphere-operators'], exp: nowSec() + 60 })
        .setProtectedHeader({ alg: 'HS256', kid: 'key-a' })
        .sign(new TextEncoder().encode(JSON.stringify(keyA.jwk))),
      'alg_not_allowed',
    ],
    ['an algorithm not configured', () => token(keyEs), 'alg_not_allowed'],
    ['not a JWS', async () => 'not-a-token', 'malformed_token'],
    ['a header that is not JSON', async () => `${base64url.encode('{oops')}.${base64url.encode('{}')}.c2ln`, 'malformed_token'],
    ['too long', async () => `${'a'.repeat(9000)}.b.c`, 'malformed_token'],
  ];
  it.each(cases)('%s', async (name, make, reason) => {
    const auth = authenticator(name === 'an algorithm not configured' ? { algorithms: ['RS256'] } : {});
    const jwt = await make();
    const error = await refusal(auth.authenticate(jwt), jwt);
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, reason });
  });

  it('refuses alg none and HS256 before any JWKS fetch', async () => {
    const auth = authenticator();
    const none = `${base64url.encode(JSON.stringify({ alg: 'none' }))}.${base64url.encode(JSON.stringify({ sub: 'x' }))}.`;
    const hs = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32));
    for (const jwt of [none, hs]) await expect(auth.authenticate(jwt)).rejects.toMatchObject({ reason: 'alg_not_allowed' });
    expect(auth.stats().jwksFetches).toBe(0);
    expect(requests).toBe(0);
  });
});

describe('key rotation and the refresh cooldown', () => {
  it('an unknown kid is accepted after one refetch once the issuer rotates, and only once per cooldown', async () => {
    const auth = authenticator({ refreshCooldownMs: 30_000 });
    await auth.authenticate(await token(keyA));
    expect(auth.stats().jwksFetches).toBe(1);

    serveKeys(keyA, keyB); // the issuer rotates in a new key
    clock += 30_000;
    const caller = await auth.authenticate(await token(keyB));
    expect(caller.kind).toBe('jwt');
    expect(auth.stats().jwksFetches).toBe(2);
    expect(requests).toBe(2);
    await auth.authenticate(await token(keyB));
    expect(auth.stats().jwksFetches).toBe(2);
  });

  it('unknown kids within the cooldown are refused without refetching, however many', async () => {
    const auth = authenticator({ refreshCooldownMs: 30_000 });
    await auth.authenticate(await token(keyA));
    serveKeys(keyA, keyB);
    clock += 29_999;
    const jwt = await token(keyB);
    for (let i = 0; i < 5; i++) {
      const error = await refusal(auth.authenticate(jwt), jwt);
      expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401, reason: 'unknown_kid' });
    }
    const madeUp = await Promise.all(Array.from({ length: 20 }, (_, i) => token(keyB, {}, { kid: `made-up-${i}` })));
    const results = await Promise.allSettled(madeUp.map((t) => auth.authenticate(t)));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as AuthError).reason === 'unknown_kid')).toBe(true);
    expect(auth.stats().jwksFetches).toBe(1);
    expect(requests).toBe(1);
  });

  it('an unknown kid while the issuer is down is AUTH_UNAVAILABLE; tokens signed by cached keys still pass', async () => {
    const auth = authenticator();
    await auth.authenticate(await token(keyA));
    behaviour.status = 500;
    clock += 30_000;
    const rotated = await token(keyB);
    expect(await refusal(auth.authenticate(rotated), rotated)).toMatchObject({ code: 'AUTH_UNAVAILABLE', status: 503 });
    await expect(auth.authenticate(await token(keyA))).resolves.toMatchObject({ kind: 'jwt' });
    expect(auth.stats().jwksFetches).toBe(2);
  });

  it('concurrent requests share one fetch: on first use and on an unknown kid after the cooldown', async () => {
    const auth = authenticator();
    const first = await Promise.all(Array.from({ length: 20 }, () => token(keyA)));
    await Promise.all(first.map((t) => auth.authenticate(t)));
    expect(auth.stats().jwksFetches).toBe(1);
    serveKeys(keyA, keyB);
    clock += 30_000;
    const rotated = await Promise.all(Array.from({ length: 20 }, () => token(keyB)));
    await Promise.all(rotated.map((t) => auth.authenticate(t)));
    expect(auth.stats().jwksFetches).toBe(2);
    expect(requests).toBe(2);
  });

  it('refetches a key set older than jwksMaxAgeMs, and keeps using it if the issuer is then unreachable', async () => {
    const auth = authenticator({ jwksMaxAgeMs: 600_000 });
    await auth.authenticate(await token(keyA));
    clock += 600_000;
    serveKeys(keyB); // key-a revoked
    const revoked = await token(keyA);
    expect(await refusal(auth.authenticate(revoked), revoked)).toMatchObject({ reason: 'unknown_kid' });
    expect(auth.stats().jwksFetches).toBe(2);

    clock += 600_000;
    behaviour.status = 500;
    await expect(auth.authenticate(await token(keyB))).resolves.toMatchObject({ kind: 'jwt' });
    expect(auth.stats().jwksFetches).toBe(3);
  });
});

describe('the JWKS server', () => {
  it('unreachable: AUTH_UNAVAILABLE (503), retried only after the failure backoff', async () => {
    const closed = createServer({ key: tls.key, cert: tls.cert });
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const auth = authenticator({ jwksUri: `https://127.0.0.1:${port}/certs`, failureBackoffMs: 5_000 });
    const jwt = await token(keyA);
    const error = await refusal(auth.authenticate(jwt), jwt);
    expect(error).toMatchObject({ code: 'AUTH_UNAVAILABLE', status: 503, reason: 'jwks_unavailable' });
    await expect(auth.authenticate(jwt)).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE' });
    expect(auth.stats().jwksFetches).toBe(1);
    clock += 5_000;
    await expect(auth.authenticate(jwt)).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE' });
    expect(auth.stats().jwksFetches).toBe(2);
  });

  it('an error status, or a redirect even to a valid key set, is AUTH_UNAVAILABLE; fetched again after the backoff', async () => {
    const auth = authenticator({ failureBackoffMs: 5_000 });
    behaviour.status = 503;
    await expect(auth.authenticate(await token(keyA))).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'jwks_unavailable' });
    behaviour.status = 302;
    behaviour.location = new URL('/redirected', jwksUri).href;
    clock += 5_000;
    await expect(auth.authenticate(await token(keyA))).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'jwks_unavailable' });
    expect(requests).toBe(2); // the redirect was not followed
    behaviour.status = 200;
    behaviour.location = undefined;
    clock += 5_000;
    await expect(auth.authenticate(await token(keyA))).resolves.toMatchObject({ kind: 'jwt' });
    expect(auth.stats().jwksFetches).toBe(3);
  });

  it('a server that never answers is AUTH_UNAVAILABLE after timeoutMs', async () => {
    behaviour.hang = true;
    const auth = authenticator({ timeoutMs: 300 });
    await expect(auth.authenticate(await token(keyA))).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'jwks_unavailable' });
    expect(requests).toBe(1);
  });

  it('refuses a key set larger than maxJwksBytes, declared or streamed, and one with more than maxJwksKeys keys', async () => {
    const padded = JSON.stringify({ keys: [keyA.jwk], padding: 'x'.repeat(70 * 1024) });
    behaviour.body = padded;
    await expect(authenticator().authenticate(await token(keyA))).rejects.toMatchObject({
      code: 'AUTH_UNAVAILABLE',
      status: 503,
      reason: 'jwks_too_large',
    });
    behaviour.chunked = true;
    await expect(authenticator().authenticate(await token(keyA))).rejects.toMatchObject({ reason: 'jwks_too_large' });
    behaviour.chunked = false;
    serveKeys(keyA, keyB, keyEs);
    await expect(authenticator({ maxJwksKeys: 2 }).authenticate(await token(keyA))).rejects.toMatchObject({ reason: 'jwks_too_large' });
    await expect(authenticator({ maxJwksKeys: 3 }).authenticate(await token(keyA))).resolves.toMatchObject({ kind: 'jwt' });
  });

  it('refuses a response that is not a key set', async () => {
    behaviour.body = '<html>login</html>';
    await expect(authenticator().authenticate(await token(keyA))).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'jwks_invalid' });
    behaviour.body = JSON.stringify({ issuer: ISSUER });
    await expect(authenticator().authenticate(await token(keyA))).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'jwks_invalid' });
  });

  it('ignores symmetric and private members of the key set', async () => {
    const secret = { kty: 'oct', kid: 'key-a', k: base64url.encode(new Uint8Array(32)), alg: 'HS256' };
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'key-priv', alg: 'RS256' };
    behaviour.body = JSON.stringify({ keys: [secret, privateJwk, keyA.jwk] });
    const auth = authenticator();
    await expect(auth.authenticate(await token(keyA))).resolves.toMatchObject({ kind: 'jwt' });
    const signedWithPrivate = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 's', groups: ['vsphere-readers'], exp: nowSec() + 60 })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-priv' })
      .sign(privateKey);
    await expect(auth.authenticate(signedWithPrivate)).rejects.toMatchObject({ reason: 'unknown_kid' });
  });

  it('the caPem option: without it the HTTPS JWKS fails TLS verification, with it the same server works', async () => {
    const withoutCa = authenticator({ caPem: undefined });
    const error = (await withoutCa.authenticate(await token(keyA)).catch((e: unknown) => e)) as AuthError;
    expect(error).toMatchObject({ code: 'AUTH_UNAVAILABLE', status: 503, reason: 'jwks_unavailable' });
    const causes: unknown[] = [];
    for (let cause: unknown = error.cause; cause instanceof Error; cause = cause.cause) causes.push((cause as { code?: unknown }).code);
    expect(causes.some((code) => typeof code === 'string' && /CERT|ISSUER|SIGNATURE/.test(code))).toBe(true);

    await expect(authenticator().authenticate(await token(keyA))).resolves.toMatchObject({ kind: 'jwt' });
  });
});

describe('configuration', () => {
  const base = { issuer: ISSUER, audience: AUDIENCE, roles: ROLES };
  it.each([
    ['http on a non-loopback host', { jwksUri: 'http://idp.example.test/certs' }, /https/],
    ['alg none', { jwksUri: 'https://idp.example.test/certs', algorithms: ['none'] }, /refused: none/],
    ['HS256', { jwksUri: 'https://idp.example.test/certs', algorithms: ['RS256', 'HS256'] }, /refused: HS256/],
    ['no role values', { jwksUri: 'https://idp.example.test/certs', roles: { viewer: [], operator: [] } }, /roles/],
    ['no audience', { jwksUri: 'https://idp.example.test/certs', audience: [] }, /audience/],
  ])('refuses %s at creation', (_name, overrides, message) => {
    expect(() => createJwtAuthenticator({ ...base, ...overrides } as JwtAuthenticatorOptions)).toThrow(message);
  });

  it('allows http for a loopback JWKS', async () => {
    const auth = createJwtAuthenticator({ ...base, jwksUri: 'http://127.0.0.1:1/certs' });
    await auth.close();
    await expect(auth.authenticate('a.b.c')).rejects.toMatchObject({ code: 'AUTH_UNAVAILABLE', reason: 'authenticator_closed' });
  });
});
