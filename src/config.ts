/**
 * Gateway configuration: a JSON file for real vCenters, command-line flags and environment
 * variables for the rest, all checked against one schema (zod): every problem is reported at
 * once, naming the file and key path, or the flag, or the variable. Secrets are never in the
 * file itself: each vCenter names the environment variable or file that holds its password.
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { DepotPolicyOptions } from './scans/depots.ts';
import { DepotPolicy } from './scans/depots.ts';
import type { VCenterEndpoint } from './vsphere/index.ts';
import { AUTH_MODES, AuthConfigError, authConfigFrom, authFileSections, checkExposure, origin } from './auth/config.ts';
import type { AuthConfig } from './auth/config.ts';
import { ConfigError, always, boolean, definedOnly, describeIssues, fileText, integer, list, oneOf, refused, section, text, texts } from './config-kit.ts';
import { loadTrustedDocuments } from './graphql/trusted-documents.ts';
import type { TrustedDocuments } from './graphql/trusted-documents.ts';
import { LOG_LEVELS } from './log.ts';
import type { InventoryMirrorOptions } from './mirror/inventory-mirror.ts';

export { ConfigError };

export interface SimulatorConfig {
  vcenters: number;
  datacentersPerVcenter: number;
  clustersPerDatacenter: number;
  hostsPerCluster: number;
  seed: number;
  latencyMs: number;
  /** First simulated vCenter's port; 0 picks free ports. */
  basePort: number;
}

export interface GatewayConfig {
  host: string;
  port: number;
  /** Empty: start the embedded simulator and front it. */
  vcenters: VCenterEndpoint[];
  simulator: SimulatorConfig;
  /** Authentication mode, CORS origins and per-caller limits. */
  auth: AuthConfig;
  /** Trusted-documents mode: only the operations of a codegen persisted-documents manifest run. */
  trustedDocuments?: TrustedDocuments;
  /** Set when the operator explicitly allowed anonymous access off loopback: logged at start. */
  exposureWarning?: string;
  /** GraphiQL page and schema introspection; off for production deployments. */
  graphiql: boolean;
  /** Depots and scan options clients may use (the simulator's depots are added when it runs). */
  depots: DepotPolicyOptions;
  /** When set, /metrics is served on this listener only (404 on the GraphQL port). */
  metrics?: { port: number; host: string };
  /** Inventory mirror tuning (`mirror` in the file); the mirror runs with the defaults otherwise. */
  mirror: Omit<InventoryMirrorOptions, 'logger'>;
  /** The configuration file, as given (for messages). */
  configFile?: string;
}

/**
 * On SIGTERM, in-flight requests get this long before their connections are cut (then come the
 * vCenter logouts, bounded by each vCenter's timeoutMs). Deployments give the process longer.
 */
export const SHUTDOWN_GRACE_MS = 5_000;

export const DEFAULT_SIMULATOR: SimulatorConfig = {
  vcenters: 2,
  datacentersPerVcenter: 1,
  clustersPerDatacenter: 3,
  hostsPerCluster: 4,
  seed: 1,
  latencyMs: 0,
  basePort: 0,
};

/** Where the settings come from besides the file: a flag, an environment variable, or both. */
interface CommandLineSetting {
  flag?: string;
  /** Placeholder of the flag's value in the usage text; absent for on/off flags. */
  argument?: string;
  env?: string;
  /** The file key it overrides. */
  key?: string;
  help: string;
}

/** Every flag and environment variable the gateway reads: the usage text comes from this list, and a test holds the README to it. */
export const COMMAND_LINE: readonly CommandLineSetting[] = [
  { flag: 'config', argument: 'FILE', env: 'GATEWAY_CONFIG', help: 'JSON configuration file; without vcenters in it the embedded simulator starts' },
  { flag: 'check-config', argument: 'FILE', help: 'validate FILE with the other flags and the environment, print a summary and exit (0: valid)' },
  { flag: 'port', argument: 'N', env: 'PORT', key: 'port', help: 'GraphQL port, default 4000' },
  { flag: 'host', argument: 'ADDR', env: 'HOST', key: 'host', help: 'listen address, default 127.0.0.1' },
  { flag: 'no-graphiql', key: 'graphiql', help: 'no GraphiQL page and no schema introspection (production)' },
  { flag: 'metrics-port', argument: 'N', env: 'METRICS_PORT', key: 'metrics.port', help: 'serve /metrics on this port only (default: on the GraphQL port)' },
  { flag: 'metrics-host', argument: 'ADDR', env: 'METRICS_HOST', key: 'metrics.host', help: 'listen address of the metrics port, default: the GraphQL listen address' },
  { flag: 'sim-vcenters', argument: 'N', key: 'simulator.vcenters', help: `simulated vCenters, default ${DEFAULT_SIMULATOR.vcenters}` },
  { flag: 'sim-datacenters', argument: 'N', key: 'simulator.datacentersPerVcenter', help: `datacenters per simulated vCenter, default ${DEFAULT_SIMULATOR.datacentersPerVcenter}` },
  { flag: 'sim-clusters', argument: 'N', key: 'simulator.clustersPerDatacenter', help: `clusters per datacenter, default ${DEFAULT_SIMULATOR.clustersPerDatacenter}` },
  { flag: 'sim-hosts', argument: 'N', key: 'simulator.hostsPerCluster', help: `hosts per cluster, default ${DEFAULT_SIMULATOR.hostsPerCluster}` },
  { flag: 'sim-seed', argument: 'N', key: 'simulator.seed', help: `inventory seed, default ${DEFAULT_SIMULATOR.seed}` },
  { flag: 'sim-latency', argument: 'MS', key: 'simulator.latencyMs', help: 'latency the simulator adds to every request, default 0' },
  { flag: 'sim-port', argument: 'N', key: 'simulator.basePort', help: "first simulated vCenter's port, default: any free port" },
  { flag: 'auth', argument: 'MODE', env: 'GATEWAY_AUTH', key: 'auth.mode', help: 'none | vcenter | jwt, default none (loopback only)' },
  { flag: 'allow-anonymous', key: 'auth.allowAnonymous', help: 'allow auth none on a non-loopback address (something else authenticates)' },
  { flag: 'cors-origin', argument: 'ORIGIN', env: 'CORS_ORIGINS', key: 'cors.origins', help: 'a web origin allowed to call from browsers (repeatable; the variable is comma-separated)' },
  { flag: 'help', help: 'print this text and exit' },
  { env: 'LOG_LEVEL', help: 'debug | info | warn | error, default info' },
];

export const USAGE = `Usage: node dist/src/main.js [options]   (npm start -- [options])

${COMMAND_LINE.map(({ flag, argument, env, help }) => {
  const left = flag ? `--${flag}${argument ? ` ${argument}` : ''}` : env!;
  return `  ${left.padEnd(22)} ${help}${flag && env ? ` (also ${env})` : ''}`;
}).join('\n')}
`;

/** The configuration file's schema; paths in it are relative to `baseDir`, passwords may come from `env`. */
export function configFileSchema(baseDir: string, env: NodeJS.ProcessEnv) {
  const vcenter = section({
    name: text(),
    url: text().superRefine((url, ctx) => {
      if (!URL.canParse(url)) return ctx.addIssue({ code: 'custom', message: 'is not a URL' });
      const parsed = new URL(url);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') ctx.addIssue({ code: 'custom', message: 'must be https:// (or http://)' });
      if (parsed.username || parsed.password) ctx.addIssue({ code: 'custom', message: 'must not carry credentials' });
    }),
    username: text(),
    passwordEnv: text()
      .transform((variable, ctx) => {
        const value = env[variable];
        if (value) return value;
        ctx.addIssue({ code: 'custom', message: `environment variable ${variable} (passwordEnv) is not set` });
        return z.NEVER;
      })
      .optional(),
    passwordFile: fileText(baseDir).optional(),
    password: refused('passwords are not read from the config file itself; set passwordEnv or passwordFile instead'),
    caFile: fileText(baseDir).optional(),
    caPin: boolean().optional(),
    insecure: boolean().optional(),
    allowPlaintext: boolean().optional(),
    timeoutMs: integer(100, 600_000).optional(),
    maxConcurrentRequests: integer(1, 1024).optional(),
  })
    .superRefine((vc, ctx) => {
      const has = (key: keyof typeof vc) => vc[key] !== undefined;
      if (!has('passwordEnv') && !has('passwordFile') && !has('password')) {
        ctx.addIssue({ code: 'custom', message: 'set passwordEnv or passwordFile (passwords are not read from the config file itself)' });
      }
      if (has('passwordEnv') && has('passwordFile')) ctx.addIssue({ code: 'custom', message: 'set passwordEnv or passwordFile, not both' });
      // Over http:// the service account's password and every session id cross the network in clear.
      if (typeof vc.url === 'string' && URL.canParse(vc.url) && new URL(vc.url).protocol === 'http:' && vc.allowPlaintext !== true) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'is http://: the password and session ids would travel unencrypted; use https:// or set allowPlaintext: true' });
      }
      if (vc.caPin === true && !has('caFile')) ctx.addIssue({ code: 'custom', path: ['caPin'], message: 'needs caFile: it trusts only that CA' });
    }, always)
    .transform(
      (vc): VCenterEndpoint => ({
        name: vc.name,
        url: vc.url.replace(/\/+$/, ''),
        username: vc.username,
        password: (vc.passwordEnv ?? vc.passwordFile?.text.replace(/\r?\n$/, ''))!,
        caPem: vc.caFile?.text,
        ...(vc.caPin === true ? { caPin: true } : {}),
        insecure: vc.insecure === true,
        timeoutMs: vc.timeoutMs,
        maxConcurrentRequests: vc.maxConcurrentRequests,
      }),
    );

  const depots = section({
    allow: texts().optional(),
    allowCmdOption: boolean().optional(),
    allowProxy: boolean().optional(),
    maxFetchesPerCall: integer(1, 100_000).optional(),
  })
    .superRefine((d, ctx) => {
      if (!Array.isArray(d.allow)) return;
      try {
        new DepotPolicy({ allow: d.allow }); // the prefixes must parse now, not on the first scan
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['allow'], message: (error as Error).message });
      }
    })
    .transform(
      (d): DepotPolicyOptions => ({
        allow: d.allow ?? [],
        allowCmdOption: d.allowCmdOption === true,
        allowProxy: d.allowProxy === true,
        ...(d.maxFetchesPerCall !== undefined ? { maxFetchesPerCall: d.maxFetchesPerCall } : {}),
      }),
    );

  const trustedDocuments = section({
    // Read here, not in the section's transform, so that a bad `enforce` does not hide a bad manifest.
    manifest: text().transform((manifest, ctx) => {
      try {
        return loadTrustedDocuments(resolve(baseDir, manifest), 'all').documents;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
    enforce: oneOf(['all', 'viewers']).optional(),
  }).transform(({ manifest, enforce = 'all' }): TrustedDocuments => ({ documents: manifest, enforce }));

  return section({
    port: integer(0, 65_535).optional(),
    host: text().optional(),
    graphiql: boolean().optional(),
    vcenters: list(vcenter)
      .superRefine((list, ctx) => {
        // Runs even when an entry failed its own checks: its name may be anything then.
        if (!Array.isArray(list)) return;
        const seen = new Set<string>();
        (list as unknown[]).forEach((vc, i) => {
          const name = (vc as { name?: unknown } | null)?.name;
          if (typeof name !== 'string') return;
          if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${name}" is used twice: names must be unique (they are part of every global ID)` });
          seen.add(name);
        });
      }, always)
      .optional(),
    simulator: section({
      vcenters: integer(1, 15).optional(),
      datacentersPerVcenter: integer(1, 50).optional(),
      clustersPerDatacenter: integer(1, 500).optional(),
      hostsPerCluster: integer(1, 96).optional(),
      seed: integer(0, 2 ** 31 - 1).optional(),
      latencyMs: integer(0, 60_000).optional(),
      basePort: integer(0, 65_000).optional(),
    }).optional(),
    ...authFileSections(baseDir),
    depots: depots.optional(),
    trustedDocuments: trustedDocuments.optional(),
    metrics: section({ port: integer(0, 65_535).optional(), host: text().optional() }).optional(),
    mirror: section({
      staleMaxAgeMs: integer(0, 86_400_000).optional(),
      maxWaitSeconds: integer(1, 3_600).optional(),
      pageSize: integer(100, 100_000).optional(),
      imageCacheMaxAgeMs: integer(0, 86_400_000).optional(),
    }).optional(),
  });
}

type ConfigFile = z.output<ReturnType<typeof configFileSchema>>;

const intText = (min: number, max: number) =>
  z.string().trim().regex(/^-?\d+$/, { error: `must be an integer from ${min} to ${max}` }).transform(Number).pipe(integer(min, max));

/** How each flag's (and its variable's) text becomes a value. */
const FLAG_VALUES = {
  port: intText(0, 65_535),
  host: text(),
  'metrics-port': intText(0, 65_535),
  'metrics-host': text(),
  'sim-vcenters': intText(1, 15),
  'sim-datacenters': intText(1, 50),
  'sim-clusters': intText(1, 500),
  'sim-hosts': intText(1, 96),
  'sim-seed': intText(0, 2 ** 31 - 1),
  'sim-latency': intText(0, 60_000),
  'sim-port': intText(0, 65_000),
  auth: oneOf(AUTH_MODES),
  'cors-origin': list(origin()),
} satisfies Record<string, z.ZodType>;

type FlagValues = { [K in keyof typeof FLAG_VALUES]?: z.output<(typeof FLAG_VALUES)[K]> };

function readConfigFile(configPath: string): { raw?: unknown; problem?: string } {
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
    return { problem: `Cannot read config ${configPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
  }
  try {
    return { raw: JSON.parse(text) };
  } catch (error) {
    return { problem: `Cannot read config ${configPath}: not JSON (${(error as Error).message})` };
  }
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: Object.fromEntries(
        COMMAND_LINE.filter((s) => s.flag).map((s) => [s.flag!, { type: s.argument ? 'string' : 'boolean', ...(s.flag === 'cors-origin' ? { multiple: true } : {}) }]),
      ) as Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>,
    }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${USAGE}`);
  }
  const problems: string[] = [];

  // Flags first, then their variables: each value is checked under the name it was given.
  const flags: FlagValues = {};
  for (const [flag, schema] of Object.entries(FLAG_VALUES) as [keyof typeof FLAG_VALUES, z.ZodType][]) {
    const setting = COMMAND_LINE.find((s) => s.flag === flag)!;
    const fromFlag = values[flag];
    const fromEnv = setting.env ? env[setting.env] : undefined;
    if (fromFlag === undefined && (fromEnv === undefined || fromEnv === '')) continue;
    const input = fromFlag ?? (flag === 'cors-origin' ? fromEnv!.split(',').filter((o) => o.trim() !== '') : fromEnv);
    const where = fromFlag !== undefined ? `--${flag}` : `${setting.env} (environment)`;
    const parsed = schema.safeParse(input);
    if (parsed.success) (flags as Record<string, unknown>)[flag] = parsed.data;
    else problems.push(...describeIssues(where, schema, input, parsed.error.issues));
  }
  // Read by the logger, which starts before the configuration: checked here so a typo is not silently "info".
  const logLevel = oneOf(LOG_LEVELS);
  const wantedLevel = env['LOG_LEVEL'];
  const level = logLevel.safeParse(wantedLevel);
  if (wantedLevel !== undefined && wantedLevel !== '' && !level.success) problems.push(...describeIssues('LOG_LEVEL (environment)', logLevel, wantedLevel, level.error.issues));

  if (values['config'] !== undefined && values['check-config'] !== undefined && values['config'] !== values['check-config']) {
    problems.push('--config and --check-config name different files: give the file once');
  }
  const configPath = (values['check-config'] as string | undefined) ?? (values['config'] as string | undefined) ?? env['GATEWAY_CONFIG'];
  const baseDir = configPath ? dirname(resolve(configPath)) : process.cwd();
  let file: ConfigFile | undefined = {};
  if (configPath) {
    const { raw, problem } = readConfigFile(configPath);
    if (problem) {
      problems.push(problem);
      file = undefined;
    } else {
      const schema = configFileSchema(baseDir, env);
      const parsed = schema.safeParse(raw);
      if (parsed.success) file = parsed.data;
      else {
        problems.push(...describeIssues(configPath, schema, raw, parsed.error.issues));
        file = undefined;
      }
    }
  }
  // The rules below combine values: with one of them wrong they would only add noise.
  if (!file || problems.length > 0) throw new ConfigError(problems);

  const host = flags.host ?? file.host ?? '127.0.0.1';
  const port = flags.port ?? file.port ?? 4000;
  let auth: AuthConfig | undefined;
  let exposureWarning: string | undefined;
  try {
    auth = authConfigFrom(file, {
      mode: flags.auth,
      allowAnonymous: values['allow-anonymous'] as boolean | undefined,
      corsOrigins: flags['cors-origin'],
    });
    exposureWarning = checkExposure(auth, host).warning;
  } catch (error) {
    if (!(error instanceof AuthConfigError)) throw error;
    problems.push(error.message);
  }

  const simulator: SimulatorConfig = { ...DEFAULT_SIMULATOR, ...definedOnly(file.simulator ?? {}) };
  for (const { flag, key } of COMMAND_LINE) {
    const value = flags[flag as keyof FlagValues];
    if (key?.startsWith('simulator.') && value !== undefined) simulator[key.slice('simulator.'.length) as keyof SimulatorConfig] = value as number;
  }

  const metricsPort = flags['metrics-port'] ?? file.metrics?.port;
  const metricsHost = flags['metrics-host'] ?? file.metrics?.host;
  if (metricsPort === undefined && metricsHost !== undefined) problems.push('metrics.host (--metrics-host, METRICS_HOST) needs metrics.port: without it /metrics is on the GraphQL port');
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === port) problems.push(`metrics.port ${metricsPort} is the GraphQL port: choose another, or leave it out to serve /metrics on the GraphQL port`);
  if (problems.length > 0 || !auth) throw new ConfigError(problems);

  const config: GatewayConfig = {
    host,
    port,
    vcenters: file.vcenters ?? [],
    simulator,
    auth,
    graphiql: values['no-graphiql'] === true ? false : file.graphiql !== false,
    depots: file.depots ?? {},
    mirror: definedOnly(file.mirror ?? {}),
  };
  if (configPath) config.configFile = configPath;
  if (metricsPort !== undefined) config.metrics = { port: metricsPort, host: metricsHost ?? host };
  if (exposureWarning) config.exposureWarning = exposureWarning;
  if (file.trustedDocuments) config.trustedDocuments = file.trustedDocuments;
  return config;
}
