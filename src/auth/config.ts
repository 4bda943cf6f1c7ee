/**
 * The `auth`, `cors` and `callerLimits` parts of the configuration: who may call the gateway,
 * from which web origins, and how much each caller may ask. Parsed from the file, flags and
 * environment by src/config.ts, which hands the raw parts here.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SUPPORTED_JWT_ALGORITHMS } from './jwt.ts';
import type { JwtAlgorithm, JwtAuthenticatorOptions } from './jwt.ts';

export type AuthMode = 'none' | 'vcenter' | 'jwt';
export const AUTH_MODES: readonly AuthMode[] = ['none', 'vcenter', 'jwt'];

/** `auth.jwt`: the JWT authenticator's options as the configuration gives them (the clock is the real one). */
export type JwtSettings = Omit<JwtAuthenticatorOptions, 'now'>;

export interface CallerLimits {
  /** Sustained requests per second per caller (HTTP requests and WebSocket operations alike). */
  requestsPerSecond: number;
  /** Requests a caller may send at once above the sustained rate. */
  burst: number;
  /** Open WebSocket connections per caller. */
  webSocketsPerCaller: number;
  /** Time a WebSocket client has to send connection_init. */
  connectionInitWaitTimeoutMs: number;
  /**
   * Refused credentials one client address may present before it must slow down to one every
   * two seconds: each refusal may have cost every vCenter a login, and guessing must not lock
   * the vCenter accounts.
   */
  failedLoginBurst: number;
}

export const DEFAULT_CALLER_LIMITS: CallerLimits = {
  requestsPerSecond: 50,
  burst: 100,
  webSocketsPerCaller: 50,
  connectionInitWaitTimeoutMs: 5_000,
  failedLoginBurst: 10,
};

export interface AuthConfig {
  mode: AuthMode;
  /** `none` on a non-loopback address: refused unless this is set explicitly. */
  allowAnonymous: boolean;
  /** Realm of the `WWW-Authenticate: Basic` challenge. */
  realm: string;
  /** Credential passthrough: per-vCenter bound on users holding sessions, and their idle time. */
  passthrough: { maxUsers: number; idleMs: number };
  jwt?: JwtSettings;
  /** Web origins allowed to call the gateway from a browser; none by default. */
  corsOrigins: string[];
  callerLimits: CallerLimits;
}

export const DEFAULT_AUTH: AuthConfig = {
  mode: 'none',
  allowAnonymous: false,
  realm: 'vSphere GraphQL gateway',
  passthrough: { maxUsers: 1_000, idleMs: 15 * 60_000 },
  corsOrigins: [],
  callerLimits: DEFAULT_CALLER_LIMITS,
};

/** The same configuration with per-caller limits out of the way: for load generators (benchmarks, chaos, tests) that are one loopback caller on purpose. */
export function withoutCallerLimits(config: AuthConfig = DEFAULT_AUTH): AuthConfig {
  return { ...config, callerLimits: { ...config.callerLimits, requestsPerSecond: 1_000_000, burst: 1_000_000, webSocketsPerCaller: 1_000_000 } };
}

export class AuthConfigError extends Error {
  override name = 'ConfigError';
}

type Raw = Record<string, unknown>;

function object(v: unknown, what: string): Raw {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AuthConfigError(`${what} must be an object`);
  return v as Raw;
}

function onlyKeys(o: Raw, allowed: string[], what: string): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) throw new AuthConfigError(`${what}.${key} is not a known setting (known: ${allowed.join(', ')})`);
  }
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new AuthConfigError(`${what} must be a non-empty string`);
  return v;
}

function texts(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) throw new AuthConfigError(`${what} must be a list of strings`);
  return v as string[];
}

function integer(v: unknown, what: string, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new AuthConfigError(`${what} must be an integer from ${min} to ${max}`);
  return n;
}

/** An origin as browsers send it: scheme://host[:port], nothing else. */
export function parseOrigin(v: string, what: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new AuthConfigError(`${what}: "${v}" is not an origin such as https://dashboard.example.com`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== v.replace(/\/$/, '')) {
    throw new AuthConfigError(`${what}: "${v}" is not an origin (scheme://host[:port], no path)`);
  }
  return url.origin;
}

function jwtSettings(raw: Raw, baseDir: string): JwtSettings {
  const tuning = ['refreshCooldownMs', 'failureBackoffMs', 'jwksMaxAgeMs', 'maxJwksBytes', 'maxJwksKeys'] as const;
  onlyKeys(raw, ['issuer', 'audience', 'jwksUri', 'caFile', 'clockToleranceSec', 'algorithms', 'rolesClaim', 'roles', 'subjectClaim', 'timeoutMs', ...tuning], 'auth.jwt');
  const audience = Array.isArray(raw['audience']) ? texts(raw['audience'], 'auth.jwt.audience') : text(raw['audience'], 'auth.jwt.audience');
  const roles = object(raw['roles'], 'auth.jwt.roles');
  onlyKeys(roles, ['viewer', 'operator'], 'auth.jwt.roles');
  const settings: JwtSettings = {
    issuer: text(raw['issuer'], 'auth.jwt.issuer'),
    audience,
    jwksUri: text(raw['jwksUri'], 'auth.jwt.jwksUri'),
    roles: {
      viewer: roles['viewer'] === undefined ? [] : texts(roles['viewer'], 'auth.jwt.roles.viewer'),
      operator: roles['operator'] === undefined ? [] : texts(roles['operator'], 'auth.jwt.roles.operator'),
    },
  };
  if (settings.roles.viewer.length + settings.roles.operator.length === 0) {
    throw new AuthConfigError('auth.jwt.roles: list the claim values that make a caller a viewer and/or an operator');
  }
  if (raw['caFile'] !== undefined) {
    const file = resolve(baseDir, text(raw['caFile'], 'auth.jwt.caFile'));
    try {
      settings.caPem = readFileSync(file, 'utf8');
    } catch {
      throw new AuthConfigError(`auth.jwt: cannot read caFile ${file}`);
    }
  }
  if (raw['clockToleranceSec'] !== undefined) settings.clockToleranceSec = integer(raw['clockToleranceSec'], 'auth.jwt.clockToleranceSec', 0, 300);
  if (raw['algorithms'] !== undefined) {
    const algorithms = texts(raw['algorithms'], 'auth.jwt.algorithms');
    const unknown = algorithms.filter((a) => !(SUPPORTED_JWT_ALGORITHMS as readonly string[]).includes(a));
    if (unknown.length) throw new AuthConfigError(`auth.jwt.algorithms: ${unknown.join(', ')} not among ${SUPPORTED_JWT_ALGORITHMS.join(', ')}`);
    settings.algorithms = algorithms as JwtAlgorithm[];
  }
  if (raw['rolesClaim'] !== undefined) settings.rolesClaim = text(raw['rolesClaim'], 'auth.jwt.rolesClaim');
  if (raw['subjectClaim'] !== undefined) settings.subjectClaim = text(raw['subjectClaim'], 'auth.jwt.subjectClaim');
  if (raw['timeoutMs'] !== undefined) settings.timeoutMs = integer(raw['timeoutMs'], 'auth.jwt.timeoutMs', 100, 60_000);
  for (const key of tuning) if (raw[key] !== undefined) settings[key] = integer(raw[key], `auth.jwt.${key}`, 1, 86_400_000);
  return settings;
}

export interface AuthInputs {
  /** `auth`, `cors` and `callerLimits` from the configuration file (absent: {}). */
  file: { auth?: unknown; cors?: unknown; callerLimits?: unknown };
  /** --auth / GATEWAY_AUTH */
  mode?: string | undefined;
  /** --allow-anonymous */
  allowAnonymous?: boolean | undefined;
  /** --cors-origin (repeatable) / CORS_ORIGINS (comma-separated) */
  corsOrigins?: string[] | undefined;
  baseDir: string;
}

export function parseAuthConfig({ file, mode, allowAnonymous, corsOrigins, baseDir }: AuthInputs): AuthConfig {
  const auth = object(file.auth, 'auth');
  onlyKeys(auth, ['mode', 'allowAnonymous', 'realm', 'passthrough', 'jwt'], 'auth');
  const chosen = mode ?? (auth['mode'] === undefined ? 'none' : text(auth['mode'], 'auth.mode'));
  if (!AUTH_MODES.includes(chosen as AuthMode)) throw new AuthConfigError(`auth mode "${chosen}" is not one of ${AUTH_MODES.join(', ')}`);
  const config: AuthConfig = { ...DEFAULT_AUTH, mode: chosen as AuthMode, callerLimits: { ...DEFAULT_CALLER_LIMITS } };
  if (auth['allowAnonymous'] !== undefined && typeof auth['allowAnonymous'] !== 'boolean') throw new AuthConfigError('auth.allowAnonymous must be a boolean');
  config.allowAnonymous = allowAnonymous === true || auth['allowAnonymous'] === true;
  if (auth['realm'] !== undefined) {
    config.realm = text(auth['realm'], 'auth.realm');
    if (/["\\\r\n]/.test(config.realm)) throw new AuthConfigError('auth.realm must not contain quotes, backslashes or line breaks');
  }
  const passthrough = object(auth['passthrough'], 'auth.passthrough');
  onlyKeys(passthrough, ['maxUsers', 'idleSeconds'], 'auth.passthrough');
  config.passthrough = {
    maxUsers: passthrough['maxUsers'] === undefined ? DEFAULT_AUTH.passthrough.maxUsers : integer(passthrough['maxUsers'], 'auth.passthrough.maxUsers', 1, 100_000),
    idleMs:
      passthrough['idleSeconds'] === undefined ? DEFAULT_AUTH.passthrough.idleMs : integer(passthrough['idleSeconds'], 'auth.passthrough.idleSeconds', 10, 86_400) * 1000,
  };
  if (config.mode === 'jwt') {
    if (auth['jwt'] === undefined) throw new AuthConfigError('auth mode jwt needs auth.jwt { issuer, audience, jwksUri, roles } in the configuration file');
    config.jwt = jwtSettings(object(auth['jwt'], 'auth.jwt'), baseDir);
  }

  const cors = object(file.cors, 'cors');
  onlyKeys(cors, ['origins'], 'cors');
  const origins = corsOrigins ?? (cors['origins'] === undefined ? [] : texts(cors['origins'], 'cors.origins'));
  config.corsOrigins = origins.map((o, i) => parseOrigin(o.trim(), `cors.origins[${i}]`));

  const limits = object(file.callerLimits, 'callerLimits');
  onlyKeys(limits, Object.keys(DEFAULT_CALLER_LIMITS), 'callerLimits');
  const bounds: Record<keyof CallerLimits, [number, number]> = {
    requestsPerSecond: [1, 100_000],
    burst: [1, 100_000],
    webSocketsPerCaller: [1, 10_000],
    connectionInitWaitTimeoutMs: [100, 60_000],
    failedLoginBurst: [1, 10_000],
  };
  for (const key of Object.keys(bounds) as (keyof CallerLimits)[]) {
    if (limits[key] !== undefined) config.callerLimits[key] = integer(limits[key], `callerLimits.${key}`, ...bounds[key]);
  }
  return config;
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * Refuses `auth: none` off loopback: anybody who can reach the port would act as the service
 * account. Returns a warning to log when the operator allowed it explicitly.
 */
export function checkExposure(config: AuthConfig, listenHost: string): { warning?: string } {
  if (config.mode !== 'none' || isLoopbackHost(listenHost)) return {};
  if (!config.allowAnonymous) {
    throw new AuthConfigError(
      `Refusing to listen on ${listenHost} without authentication: anyone who can reach it would read every vCenter and start ` +
        `patch scans as the service account. Choose an auth mode: --auth vcenter (callers log in with their own vCenter ` +
        `credentials) or --auth jwt with auth.jwt in the configuration file (OIDC bearer tokens); or listen on 127.0.0.1; ` +
        `or, if something in front of the gateway authenticates callers, pass --allow-anonymous.`,
    );
  }
  return { warning: `Listening on ${listenHost} with NO authentication (--allow-anonymous): every caller acts as the service account` };
}
