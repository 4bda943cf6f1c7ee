/**
 * `auth: jwt`: OIDC bearer tokens verified against the issuer's JWKS.
 *
 * jose does the cryptography and claim checks; this module owns the key set. It fetches the
 * JWKS itself (undici, so an extra CA can be trusted while verification stays on), bounds it
 * (bytes and keys), caches it, and refetches on an unknown `kid` at most once per cooldown,
 * single-flight, so neither a key rotation nor a flood of made-up `kid`s can turn into a flood
 * of requests to the identity provider.
 */
import { createSecureContext, rootCertificates } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { JWK, JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import { Agent, fetch } from 'undici';
import type { Caller, GatewayRole } from './caller.ts';
import { AuthError, unauthenticated } from './errors.ts';
import type { AuthFailureReason } from './errors.ts';

export { AuthError } from './errors.ts';

/** Asymmetric JWS algorithms only: `none` and the HMAC family (HS*) can never be configured. */
export const SUPPORTED_JWT_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const;
export type JwtAlgorithm = (typeof SUPPORTED_JWT_ALGORITHMS)[number];
export const DEFAULT_JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** Longest bearer token accepted (same bound as the Authorization header). */
export const MAX_TOKEN_LENGTH = 8 * 1024;

export interface JwtAuthenticatorOptions {
  /** Expected `iss`, exactly. */
  issuer: string;
  /** Accepted `aud` value(s); a token must name at least one. */
  audience: string | string[];
  /** Where the issuer publishes its keys: https, or http on a loopback host only. */
  jwksUri: string;
  /** Extra CA (PEM) trusted for the JWKS server, on top of the system roots; verification stays on. */
  caPem?: string;
  /** Skew allowed on `exp` and `nbf`, in seconds. Default 30. */
  clockToleranceSec?: number;
  /** Accepted `alg` values; default RS256, PS256, ES256, EdDSA. */
  algorithms?: readonly JwtAlgorithm[];
  /** Claim holding the caller's groups/roles: a string or string[]; dotted paths reach nested claims. Default `groups`. */
  rolesClaim?: string;
  /** Claim values that grant each gateway role; `operator` implies `viewer`. */
  roles: { viewer: readonly string[]; operator: readonly string[] };
  /** Claim identifying the caller (part of Caller.key). Default `sub`. */
  subjectClaim?: string;
  /** Bound on one JWKS fetch (connect, headers and body). Default 5,000 ms. */
  timeoutMs?: number;
  /** Least time between two fetches triggered by unknown `kid`s. Default 30,000 ms. */
  refreshCooldownMs?: number;
  /** After a failed fetch, least time before the next attempt. Default 5,000 ms. */
  failureBackoffMs?: number;
  /** Keys older than this are refetched before use (key revocation reaches us). Default 10 min. */
  jwksMaxAgeMs?: number;
  /** Largest JWKS accepted. Defaults 64 KiB and 50 keys. */
  maxJwksBytes?: number;
  maxJwksKeys?: number;
  /** Wall clock in ms since the epoch (token times and fetch pacing); injectable for tests. */
  now?: () => number;
}

export interface JwtAuthenticator {
  /** A Caller for a valid token, else an AuthError (401, 403 when no gateway role, 503 when the JWKS is unavailable). */
  authenticate(token: string): Promise<Caller>;
  close(): Promise<void>;
  stats(): { jwksFetches: number };
}

interface KeySet {
  getKey: JWTVerifyGetKey;
  kids: ReadonlySet<string>;
  fetchedAt: number;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const MAX_NAME_LENGTH = 256;
const PUBLIC_KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);

const MESSAGES: Partial<Record<AuthFailureReason, string>> = {
  malformed_token: 'malformed bearer token',
  alg_not_allowed: 'bearer token algorithm not allowed',
  unknown_kid: 'bearer token signed by an unknown key',
  bad_signature: 'bearer token signature is not valid',
  expired: 'bearer token expired',
  not_yet_valid: 'bearer token not yet valid',
  wrong_issuer: 'bearer token from an unexpected issuer',
  wrong_audience: 'bearer token not issued for this gateway',
  missing_claim: 'bearer token lacks a required claim',
  invalid_claim: 'bearer token has an invalid claim',
};

function tokenError(reason: AuthFailureReason): AuthError {
  return unauthenticated(reason, MESSAGES[reason] ?? 'bearer token not valid');
}

function unavailable(reason: AuthFailureReason, message: string, cause?: unknown): AuthError {
  return new AuthError('AUTH_UNAVAILABLE', reason, message, { cause });
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Configuration mistakes throw at creation, so the gateway refuses to start instead of refusing every caller. */
function validated(options: JwtAuthenticatorOptions) {
  const fail = (message: string): never => {
    throw new Error(`jwt authentication: ${message}`);
  };
  if (!options.issuer) fail('issuer is required');
  const audience = typeof options.audience === 'string' ? [options.audience] : [...(options.audience ?? [])];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a.length === 0)) fail('audience is required');
  const jwksUrl = URL.canParse(options.jwksUri) ? new URL(options.jwksUri) : fail('jwksUri is not a URL');
  if (jwksUrl.protocol !== 'https:' && !(jwksUrl.protocol === 'http:' && isLoopbackHost(jwksUrl.hostname))) {
    fail('jwksUri must use https (http is allowed for a loopback host only)');
  }
  const algorithms = [...(options.algorithms ?? DEFAULT_JWT_ALGORITHMS)];
  const unsupported = algorithms.filter((a) => !(SUPPORTED_JWT_ALGORITHMS as readonly string[]).includes(a));
  if (algorithms.length === 0 || unsupported.length > 0) {
    fail(`algorithms must be asymmetric JWS algorithms (${SUPPORTED_JWT_ALGORITHMS.join(', ')}); refused: ${unsupported.join(', ') || 'empty list'}`);
  }
  const roles = options.roles;
  if (!roles || !Array.isArray(roles.viewer) || !Array.isArray(roles.operator)) fail('roles.viewer and roles.operator must be lists');
  if (roles.viewer.length + roles.operator.length === 0) fail('roles grant nothing: list the claim values for viewer and operator');
  const atLeast = (name: string, value: number | undefined, fallback: number, minimum = 0): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < minimum) fail(`${name} must be a number of at least ${minimum}`);
    return v;
  };
  return {
    issuer: options.issuer,
    audience,
    jwksUrl,
    caPem: options.caPem,
    algorithms,
    clockToleranceSec: atLeast('clockToleranceSec', options.clockToleranceSec, 30),
    rolesClaim: options.rolesClaim ?? 'groups',
    viewerValues: new Set(roles.viewer),
    operatorValues: new Set(roles.operator),
    subjectClaim: options.subjectClaim ?? 'sub',
    timeoutMs: atLeast('timeoutMs', options.timeoutMs, 5_000, 1),
    refreshCooldownMs: atLeast('refreshCooldownMs', options.refreshCooldownMs, 30_000),
    failureBackoffMs: atLeast('failureBackoffMs', options.failureBackoffMs, 5_000),
    jwksMaxAgeMs: atLeast('jwksMaxAgeMs', options.jwksMaxAgeMs, 10 * 60_000),
    maxJwksBytes: atLeast('maxJwksBytes', options.maxJwksBytes, 64 * 1024, 1),
    maxJwksKeys: atLeast('maxJwksKeys', options.maxJwksKeys, 50, 1),
    now: options.now ?? Date.now,
  };
}

/** A claim by exact name first (namespaced claims like `https://example.com/roles` contain dots), else by dotted path. */
function claimAt(payload: JWTPayload, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function claimValues(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** Maps jose's verification errors onto our reasons; nothing of the token or its claims is kept. */
function reasonOf(error: unknown): AuthFailureReason {
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return 'missing_claim';
    if (error.reason === 'check_failed') {
      if (error.claim === 'nbf') return 'not_yet_valid';
      if (error.claim === 'iss') return 'wrong_issuer';
      if (error.claim === 'aud') return 'wrong_audience';
    }
    return 'invalid_claim';
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'unknown_kid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  return 'malformed_token';
}

let lastSecureContext: { caPem: string; context: SecureContext } | undefined;

/**
 * The system roots plus `caPem`, built once and reused (also by a re-created authenticator with
 * the same CA): parsing the ~140 system roots costs 100+ ms of CPU, too much for every connection.
 */
function secureContextWithCa(caPem: string): SecureContext {
  if (lastSecureContext?.caPem !== caPem) {
    lastSecureContext = { caPem, context: createSecureContext({ ca: [...rootCertificates, caPem] }) };
  }
  return lastSecureContext.context;
}

export function createJwtAuthenticator(options: JwtAuthenticatorOptions): JwtAuthenticator {
  const config = validated(options);
  const dispatcher = new Agent({
    connect: {
      timeout: config.timeoutMs,
      ...(config.caPem ? { secureContext: secureContextWithCa(config.caPem) } : {}),
    },
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
  });
  const verifyOptions = (): JWTVerifyOptions => ({
    issuer: config.issuer,
    audience: config.audience,
    algorithms: config.algorithms,
    clockTolerance: config.clockToleranceSec,
    requiredClaims: ['exp'],
    currentDate: new Date(config.now()),
  });

  let current: KeySet | undefined;
  let inflight: Promise<KeySet> | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastFailure: AuthError | undefined;
  let jwksFetches = 0;
  let closed = false;

  async function readBounded(response: Awaited<ReturnType<typeof fetch>>): Promise<string> {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = response.body?.getReader();
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > config.maxJwksBytes) {
        await reader.cancel().catch(() => {});
        throw unavailable('jwks_too_large', 'identity provider key set too large');
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function fetchKeySet(): Promise<KeySet> {
    jwksFetches++;
    let text: string;
    try {
      const response = await fetch(config.jwksUrl, {
        dispatcher,
        // Redirects could lead off the configured (and possibly pinned-CA) origin.
        redirect: 'manual',
        headers: { accept: 'application/jwk-set+json, application/json' },
        signal: AbortSignal.timeout(config.timeoutMs),
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw unavailable('jwks_unavailable', 'identity provider key set unavailable', new Error(`JWKS answered HTTP ${response.status}`));
      }
      text = await readBounded(response);
    } catch (error) {
      if (error instanceof AuthError) throw error;
      throw unavailable('jwks_unavailable', 'identity provider key set unavailable', error);
    }
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (cause) {
      throw unavailable('jwks_invalid', 'identity provider key set is not valid', cause);
    }
    const keys = (document as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw unavailable('jwks_invalid', 'identity provider key set is not valid');
    if (keys.length > config.maxJwksKeys) throw unavailable('jwks_too_large', 'identity provider key set has too many keys');
    // Public signing keys only: a symmetric (oct) or private member has no business in a JWKS.
    const usable = keys.filter(
      (k): k is JWK =>
        k !== null && typeof k === 'object' && PUBLIC_KEY_TYPES.has((k as JWK).kty as string) && !('d' in k) && (k as JWK).use !== 'enc',
    );
    let getKey: JWTVerifyGetKey;
    try {
      getKey = createLocalJWKSet({ keys: usable });
    } catch (cause) {
      throw unavailable('jwks_invalid', 'identity provider key set is not valid', cause);
    }
    const kids = new Set(usable.map((k) => k.kid).filter((kid): kid is string => typeof kid === 'string'));
    return { getKey, kids, fetchedAt: config.now() };
  }

  /** One fetch at a time; every caller that needs fresh keys meanwhile waits for the same one. */
  function refresh(): Promise<KeySet> {
    inflight ??= (async () => {
      lastAttemptAt = config.now();
      try {
        current = await fetchKeySet();
        lastFailure = undefined;
        return current;
      } catch (error) {
        lastFailure = error as AuthError;
        throw error;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  function mayFetch(): boolean {
    const sinceLast = config.now() - lastAttemptAt;
    return sinceLast >= (lastFailure ? config.failureBackoffMs : config.refreshCooldownMs);
  }

  async function keysFor(kid: string | undefined): Promise<KeySet> {
    let keys = current;
    if (!keys || config.now() - keys.fetchedAt >= config.jwksMaxAgeMs) {
      if (inflight || mayFetch()) {
        try {
          keys = await refresh();
        } catch (error) {
          // Stale keys beat no keys while the identity provider is briefly unreachable.
          if (!current) throw error;
          keys = current;
        }
      } else if (!keys) {
        throw lastFailure ?? unavailable('jwks_unavailable', 'identity provider key set unavailable');
      }
    }
    if (kid !== undefined && !keys.kids.has(kid)) {
      // A rotated key set is picked up here; a made-up kid costs at most one fetch per cooldown.
      if (inflight || mayFetch()) keys = await refresh();
      if (!keys.kids.has(kid)) throw tokenError('unknown_kid');
    }
    return keys;
  }

  async function verify(token: string, keys: KeySet): Promise<JWTPayload> {
    const verifyWith = async (key: Parameters<typeof jwtVerify>[1]) => (await jwtVerify(token, key, verifyOptions())).payload;
    try {
      return await verifyWith(keys.getKey);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw tokenError(reasonOf(error));
      // Several keys fit the header (no kid, or a reused kid): the token is good if one of them verifies it.
      for await (const key of error) {
        try {
          return await verifyWith(key);
        } catch (attempt) {
          if (!(attempt instanceof joseErrors.JWSSignatureVerificationFailed)) throw tokenError(reasonOf(attempt));
        }
      }
      throw tokenError('bad_signature');
    }
  }

  function callerFrom(payload: JWTPayload): Caller {
    const subject = claimAt(payload, config.subjectClaim);
    if (subject === undefined) throw tokenError('missing_claim');
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > MAX_NAME_LENGTH || CONTROL.test(subject)) {
      throw tokenError('invalid_claim');
    }
    const granted = claimValues(claimAt(payload, config.rolesClaim));
    const roles = new Set<GatewayRole>();
    if (granted.some((value) => config.operatorValues.has(value))) roles.add('operator').add('viewer');
    if (granted.some((value) => config.viewerValues.has(value))) roles.add('viewer');
    if (roles.size === 0) throw new AuthError('FORBIDDEN', 'no_gateway_role', 'no gateway role');
    const preferred = payload['preferred_username'];
    const name =
      typeof preferred === 'string' && preferred.length > 0 && preferred.length <= MAX_NAME_LENGTH && !CONTROL.test(preferred)
        ? preferred
        : subject;
    return {
      key: `jwt:${config.issuer}#${subject}`,
      kind: 'jwt',
      name,
      roles,
      expiresAt: (payload.exp as number) * 1000,
    };
  }

  return {
    async authenticate(token: string): Promise<Caller> {
      if (closed) throw unavailable('authenticator_closed', 'authentication is shutting down');
      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
        throw tokenError('malformed_token');
      }
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(token);
      } catch {
        throw tokenError('malformed_token');
      }
      // Checked before any key lookup, so `none`/HS* tokens never cause a JWKS fetch.
      if (typeof header.alg !== 'string' || !(config.algorithms as string[]).includes(header.alg)) throw tokenError('alg_not_allowed');
      if (header.kid !== undefined && typeof header.kid !== 'string') throw tokenError('malformed_token');
      const keys = await keysFor(header.kid);
      return callerFrom(await verify(token, keys));
    },
    async close() {
      if (closed) return;
      closed = true;
      // destroy, not close: a JWKS fetch still under way must not hold up shutdown.
      await dispatcher.destroy();
    },
    stats() {
      return { jwksFetches };
    },
  };
}
