/**
 * The `auth`, `cors` and `callerLimits` parts of the configuration: who may call the gateway,
 * from which web origins, and how much each caller may ask. The schema of these sections of the
 * configuration file is here; src/config.ts parses the file and adds the flags and environment.
 */
import { z } from 'zod';
import { always, boolean, definedOnly, fileText, integer, list, oneOf, section, text, texts } from '../config-kit.ts';
import { SUPPORTED_JWT_ALGORITHMS } from './jwt.ts';
import type { JwtAlgorithm, JwtAuthenticatorOptions } from './jwt.ts';

export const AUTH_MODES = ['none', 'vcenter', 'jwt'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

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

/** A problem with an origin as browsers send it (scheme://host[:port], nothing else), or undefined. */
export function originProblem(v: string): string | undefined {
  if (!URL.canParse(v)) return `"${v}" is not an origin such as https://dashboard.example.com`;
  const url = new URL(v);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== v.replace(/\/$/, '')) return `"${v}" is not an origin (scheme://host[:port], no path)`;
  return undefined;
}

/** A web origin, written back as the browser sends it (no trailing slash). */
export const origin = () =>
  text().transform((v, ctx) => {
    const problem = originProblem(v.trim());
    if (problem) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return new URL(v.trim()).origin;
  });

const CALLER_LIMIT_BOUNDS: Record<keyof CallerLimits, [number, number]> = {
  requestsPerSecond: [1, 100_000],
  burst: [1, 100_000],
  webSocketsPerCaller: [1, 10_000],
  connectionInitWaitTimeoutMs: [100, 60_000],
  failedLoginBurst: [1, 10_000],
};

/** `auth.jwt`: the claim checks and the JWKS source; `caFile` is read relative to the configuration file. */
function jwtSection(baseDir: string) {
  const tuning = (max = 86_400_000) => integer(1, max).optional();
  return section({
    issuer: text(),
    audience: z.union([text(), texts().min(1)], { error: 'must be a non-empty string or a list of them' }),
    jwksUri: text().superRefine((uri, ctx) => {
      if (!URL.canParse(uri)) return ctx.addIssue({ code: 'custom', message: 'is not a URL' });
      const url = new URL(uri);
      // The keys decide who is an operator: only TLS, or this very machine, may serve them.
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
        ctx.addIssue({ code: 'custom', message: 'must use https (http is allowed for a loopback host only)' });
      }
    }),
    caFile: fileText(baseDir).optional(),
    clockToleranceSec: integer(0, 300).optional(),
    algorithms: texts()
      .min(1, { error: 'must list at least one algorithm' })
      .superRefine((algorithms, ctx) => {
        const unknown = algorithms.filter((a) => !(SUPPORTED_JWT_ALGORITHMS as readonly string[]).includes(a));
        if (unknown.length) ctx.addIssue({ code: 'custom', message: `${unknown.join(', ')} not among ${SUPPORTED_JWT_ALGORITHMS.join(', ')}` });
      })
      .optional(),
    rolesClaim: text().optional(),
    roles: section({ viewer: texts().optional(), operator: texts().optional() }).optional(),
    subjectClaim: text().optional(),
    timeoutMs: integer(100, 60_000).optional(),
    refreshCooldownMs: tuning(),
    failureBackoffMs: tuning(),
    jwksMaxAgeMs: tuning(),
    maxJwksBytes: tuning(),
    maxJwksKeys: tuning(),
  })
    .superRefine((jwt, ctx) => {
      const granted = (Array.isArray(jwt.roles?.viewer) ? jwt.roles.viewer.length : 0) + (Array.isArray(jwt.roles?.operator) ? jwt.roles.operator.length : 0);
      if (granted === 0) ctx.addIssue({ code: 'custom', path: ['roles'], message: 'list the claim values that make a caller a viewer and/or an operator' });
    }, always)
    .transform(({ caFile, roles, algorithms, ...rest }): JwtSettings => ({
      ...rest,
      roles: { viewer: roles?.viewer ?? [], operator: roles?.operator ?? [] },
      ...(algorithms ? { algorithms: algorithms as JwtAlgorithm[] } : {}),
      ...(caFile ? { caPem: caFile.text } : {}),
    }));
}

/** The `auth`, `cors` and `callerLimits` sections of the configuration file. */
export function authFileSections(baseDir: string) {
  return {
    auth: section({
      mode: oneOf(AUTH_MODES).optional(),
      allowAnonymous: boolean().optional(),
      realm: text()
        .refine((realm) => !/["\\\r\n]/.test(realm), { error: 'must not contain quotes, backslashes or line breaks' })
        .optional(),
      passthrough: section({ maxUsers: integer(1, 100_000).optional(), idleSeconds: integer(10, 86_400).optional() }).optional(),
      jwt: jwtSection(baseDir).optional(),
    }).optional(),
    cors: section({ origins: list(origin()).optional() }).optional(),
    callerLimits: section(
      Object.fromEntries(Object.entries(CALLER_LIMIT_BOUNDS).map(([key, [min, max]]) => [key, integer(min, max).optional()])) as Record<keyof CallerLimits, z.ZodOptional<ReturnType<typeof integer>>>,
    ).optional(),
  };
}

type AuthFileSections = { [K in keyof ReturnType<typeof authFileSections>]?: z.output<ReturnType<typeof authFileSections>[K]> };

export interface AuthOverrides {
  /** --auth / GATEWAY_AUTH */
  mode?: AuthMode | undefined;
  /** --allow-anonymous */
  allowAnonymous?: boolean | undefined;
  /** --cors-origin (repeatable) / CORS_ORIGINS (comma-separated) */
  corsOrigins?: string[] | undefined;
}

/** The sections as the file gave them (validated), with the flags and environment on top. */
export function authConfigFrom(file: AuthFileSections, overrides: AuthOverrides = {}): AuthConfig {
  const auth = file.auth ?? {};
  const config: AuthConfig = {
    ...DEFAULT_AUTH,
    mode: overrides.mode ?? auth.mode ?? 'none',
    allowAnonymous: overrides.allowAnonymous === true || auth.allowAnonymous === true,
    realm: auth.realm ?? DEFAULT_AUTH.realm,
    passthrough: {
      maxUsers: auth.passthrough?.maxUsers ?? DEFAULT_AUTH.passthrough.maxUsers,
      idleMs: auth.passthrough?.idleSeconds === undefined ? DEFAULT_AUTH.passthrough.idleMs : auth.passthrough.idleSeconds * 1000,
    },
    corsOrigins: overrides.corsOrigins ?? file.cors?.origins ?? [],
    callerLimits: { ...DEFAULT_CALLER_LIMITS, ...definedOnly(file.callerLimits ?? {}) },
  };
  if (config.mode === 'jwt') {
    if (!auth.jwt) throw new AuthConfigError('auth mode jwt needs auth.jwt { issuer, audience, jwksUri, roles } in the configuration file');
    config.jwt = auth.jwt;
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
