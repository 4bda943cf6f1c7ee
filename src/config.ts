/**
 * Gateway configuration: a JSON file for real vCenters, command-line flags and environment
 * variables for the rest. Secrets are never in the file itself: each vCenter names the
 * environment variable or file that holds its password.
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { DepotPolicyOptions } from './scans/depots.ts';
import { DepotPolicy } from './scans/depots.ts';
import type { VCenterEndpoint } from './vsphere/index.ts';
import { AuthConfigError, checkExposure, parseAuthConfig } from './auth/config.ts';
import type { AuthConfig } from './auth/config.ts';
import { loadTrustedDocuments } from './graphql/trusted-documents.ts';
import type { TrustedDocuments } from './graphql/trusted-documents.ts';

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
}

export class ConfigError extends Error {
  override name = 'ConfigError';
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

interface VCenterFileEntry {
  name?: unknown;
  url?: unknown;
  username?: unknown;
  passwordEnv?: unknown;
  passwordFile?: unknown;
  password?: unknown;
  caFile?: unknown;
  caPin?: unknown;
  insecure?: unknown;
  allowPlaintext?: unknown;
  timeoutMs?: unknown;
  maxConcurrentRequests?: unknown;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${what} must be a non-empty string`);
  return v;
}

function int(v: unknown, what: string, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${what} must be an integer from ${min} to ${max}`);
  }
  return n;
}

function vcenterFromFile(entry: VCenterFileEntry, i: number, baseDir: string, env: NodeJS.ProcessEnv): VCenterEndpoint {
  const where = `vcenters[${i}]`;
  const name = str(entry.name, `${where}.name`);
  const url = str(entry.url, `${where}.url`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${where}.url is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ConfigError(`${where}.url must be https:// (or http://)`);
  if (parsed.username || parsed.password) throw new ConfigError(`${where}.url must not carry credentials`);
  if (entry.allowPlaintext !== undefined && typeof entry.allowPlaintext !== 'boolean') throw new ConfigError(`${where}.allowPlaintext must be a boolean`);
  // Over http:// the service account's password and every session id cross the network in clear.
  if (parsed.protocol === 'http:' && entry.allowPlaintext !== true) {
    throw new ConfigError(`${where}.url is http://: the password and session ids would travel unencrypted; use https:// or set allowPlaintext: true`);
  }
  if (entry.password !== undefined) {
    throw new ConfigError(`${where}.password: passwords are not read from the config file itself; set passwordEnv or passwordFile instead`);
  }
  let password: string;
  if (entry.passwordEnv !== undefined) {
    const variable = str(entry.passwordEnv, `${where}.passwordEnv`);
    const value = env[variable];
    if (!value) throw new ConfigError(`${where}: environment variable ${variable} (passwordEnv) is not set`);
    password = value;
  } else if (entry.passwordFile !== undefined) {
    const file = resolve(baseDir, str(entry.passwordFile, `${where}.passwordFile`));
    try {
      password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      throw new ConfigError(`${where}: cannot read passwordFile ${file}`);
    }
  } else {
    throw new ConfigError(`${where}: set passwordEnv or passwordFile (passwords are not read from the config file itself)`);
  }
  let caPem: string | undefined;
  if (entry.caFile !== undefined) {
    const file = resolve(baseDir, str(entry.caFile, `${where}.caFile`));
    try {
      caPem = readFileSync(file, 'utf8');
    } catch {
      throw new ConfigError(`${where}: cannot read caFile ${file}`);
    }
  }
  if (entry.insecure !== undefined && typeof entry.insecure !== 'boolean') throw new ConfigError(`${where}.insecure must be a boolean`);
  if (entry.caPin !== undefined && typeof entry.caPin !== 'boolean') throw new ConfigError(`${where}.caPin must be a boolean`);
  if (entry.caPin === true && caPem === undefined) throw new ConfigError(`${where}.caPin needs caFile: it trusts only that CA`);
  return {
    name,
    url: url.replace(/\/+$/, ''),
    username: str(entry.username, `${where}.username`),
    password,
    caPem,
    ...(entry.caPin === true ? { caPin: true } : {}),
    insecure: entry.insecure === true,
    timeoutMs: entry.timeoutMs === undefined ? undefined : int(entry.timeoutMs, `${where}.timeoutMs`, 100, 600_000),
    maxConcurrentRequests:
      entry.maxConcurrentRequests === undefined ? undefined : int(entry.maxConcurrentRequests, `${where}.maxConcurrentRequests`, 1, 1024),
  };
}

function depotsFromFile(raw: unknown): DepotPolicyOptions {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('depots must be an object');
  const d = raw as Record<string, unknown>;
  const known = new Set(['allow', 'allowCmdOption', 'allowProxy', 'maxFetchesPerCall']);
  for (const key of Object.keys(d)) if (!known.has(key)) throw new ConfigError(`depots.${key} is not a known setting`);
  if (d['allow'] !== undefined && (!Array.isArray(d['allow']) || !d['allow'].every((p) => typeof p === 'string'))) {
    throw new ConfigError('depots.allow must be a list of URL prefixes');
  }
  for (const key of ['allowCmdOption', 'allowProxy']) {
    if (d[key] !== undefined && typeof d[key] !== 'boolean') throw new ConfigError(`depots.${key} must be a boolean`);
  }
  const options: DepotPolicyOptions = {
    allow: (d['allow'] as string[] | undefined) ?? [],
    allowCmdOption: d['allowCmdOption'] === true,
    allowProxy: d['allowProxy'] === true,
    ...(d['maxFetchesPerCall'] !== undefined ? { maxFetchesPerCall: int(d['maxFetchesPerCall'], 'depots.maxFetchesPerCall', 1, 100_000) } : {}),
  };
  try {
    new DepotPolicy(options); // the prefixes must parse now, not on the first scan
  } catch (error) {
    throw new ConfigError(`depots.allow: ${(error as Error).message}`);
  }
  return options;
}

export const USAGE = `Usage: npm start -- [options]

  --config FILE          JSON file listing real vCenters (also GATEWAY_CONFIG); without it the
                         embedded vCenter simulator starts
  --port N               GraphQL port (also PORT), default 4000
  --host ADDR            listen address (also HOST), default 127.0.0.1
  --no-graphiql          no GraphiQL page and no schema introspection (production); also
                         "graphiql": false in the config file
  --sim-vcenters N       simulated vCenters, default ${DEFAULT_SIMULATOR.vcenters}
  --sim-datacenters N    datacenters per simulated vCenter, default ${DEFAULT_SIMULATOR.datacentersPerVcenter}
  --sim-clusters N       clusters per datacenter, default ${DEFAULT_SIMULATOR.clustersPerDatacenter}
  --sim-hosts N          hosts per cluster, default ${DEFAULT_SIMULATOR.hostsPerCluster}
  --sim-seed N           inventory seed, default ${DEFAULT_SIMULATOR.seed}
  --sim-latency MS       latency the simulator adds to every request, default 0
  --sim-port N           first simulated vCenter's port, default: any free port
  --auth MODE            none | vcenter | jwt (also GATEWAY_AUTH), default none (loopback only)
  --allow-anonymous      allow auth none on a non-loopback address (something else authenticates)
  --cors-origin ORIGIN   a web origin allowed to call from browsers (repeatable; also
                         CORS_ORIGINS, comma-separated); default none
`;

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'no-graphiql': { type: 'boolean' },
        'sim-vcenters': { type: 'string' },
        'sim-datacenters': { type: 'string' },
        'sim-clusters': { type: 'string' },
        'sim-hosts': { type: 'string' },
        'sim-seed': { type: 'string' },
        'sim-latency': { type: 'string' },
        'sim-port': { type: 'string' },
        auth: { type: 'string' },
        'allow-anonymous': { type: 'boolean' },
        'cors-origin': { type: 'string', multiple: true },
      },
    }));
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n\n${USAGE}`);
  }

  const configPath = (values['config'] as string | undefined) ?? env['GATEWAY_CONFIG'];
  let file: { port?: unknown; host?: unknown; graphiql?: unknown; vcenters?: unknown; simulator?: Record<string, unknown>; auth?: unknown; cors?: unknown; callerLimits?: unknown; depots?: unknown; trustedDocuments?: unknown } = {};
  if (configPath) {
    try {
      file = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (error) {
      throw new ConfigError(`Cannot read config ${configPath}: ${(error as Error).message}`);
    }
    if (typeof file !== 'object' || file === null) throw new ConfigError(`Config ${configPath} must hold a JSON object`);
  }
  const baseDir = configPath ? dirname(resolve(configPath)) : process.cwd();
  if (file.vcenters !== undefined && !Array.isArray(file.vcenters)) throw new ConfigError('vcenters must be an array');
  const vcenters = ((file.vcenters as VCenterFileEntry[] | undefined) ?? []).map((e, i) => vcenterFromFile(e ?? {}, i, baseDir, env));

  if (file.graphiql !== undefined && typeof file.graphiql !== 'boolean') throw new ConfigError('graphiql must be a boolean');

  const sim = { ...DEFAULT_SIMULATOR };
  const fileSim = file.simulator ?? {};
  const simFlag = (flag: string, key: keyof SimulatorConfig, min: number, max: number) => {
    const raw = values[flag] ?? fileSim[key];
    if (raw !== undefined) sim[key] = int(raw, `--${flag}`, min, max);
  };
  simFlag('sim-vcenters', 'vcenters', 1, 15);
  simFlag('sim-datacenters', 'datacentersPerVcenter', 1, 50);
  simFlag('sim-clusters', 'clustersPerDatacenter', 1, 500);
  simFlag('sim-hosts', 'hostsPerCluster', 1, 96);
  simFlag('sim-seed', 'seed', 0, 2 ** 31 - 1);
  simFlag('sim-latency', 'latencyMs', 0, 60_000);
  simFlag('sim-port', 'basePort', 0, 65_000);

  const host = (values['host'] as string | undefined) ?? env['HOST'] ?? (typeof file.host === 'string' ? file.host : '127.0.0.1');
  let auth: AuthConfig;
  let exposureWarning: string | undefined;
  try {
    auth = parseAuthConfig({
      file,
      mode: (values['auth'] as string | undefined) ?? env['GATEWAY_AUTH'],
      allowAnonymous: values['allow-anonymous'] as boolean | undefined,
      corsOrigins: (values['cors-origin'] as string[] | undefined) ?? env['CORS_ORIGINS']?.split(',').filter((o) => o.trim() !== ''),
      baseDir,
    });
    exposureWarning = checkExposure(auth, host).warning;
  } catch (error) {
    if (error instanceof AuthConfigError) throw new ConfigError(error.message);
    throw error;
  }
  const config: GatewayConfig = {
    host,
    port: int(values['port'] ?? env['PORT'] ?? file.port ?? 4000, 'port', 0, 65_535),
    vcenters,
    simulator: sim,
    auth,
    graphiql: values['no-graphiql'] === true ? false : file.graphiql !== false,
    depots: depotsFromFile(file.depots),
  };
  if (exposureWarning) config.exposureWarning = exposureWarning;
  if (file.trustedDocuments !== undefined) config.trustedDocuments = trustedDocumentsFromFile(file.trustedDocuments, baseDir);
  return config;
}

/** `trustedDocuments: { manifest, enforce }`: the manifest path is relative to the config file. */
function trustedDocumentsFromFile(entry: unknown, baseDir: string): TrustedDocuments {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError('trustedDocuments must be an object { manifest, enforce }');
  const { manifest, enforce = 'all', ...unknown } = entry as Record<string, unknown>;
  const extra = Object.keys(unknown);
  if (extra.length > 0) throw new ConfigError(`trustedDocuments: unknown key ${extra.join(', ')} (known: manifest, enforce)`);
  if (enforce !== 'all' && enforce !== 'viewers') throw new ConfigError('trustedDocuments.enforce must be "all" or "viewers"');
  const file = resolve(baseDir, str(manifest, 'trustedDocuments.manifest'));
  try {
    return loadTrustedDocuments(file, enforce);
  } catch (error) {
    throw new ConfigError(`trustedDocuments.manifest ${file}: ${(error as Error).message}`);
  }
}
