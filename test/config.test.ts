import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_LINE, ConfigError, DEFAULT_SIMULATOR, configFileSchema, loadConfig } from '../src/config.ts';
import { describeIssues, schemaKeyPaths } from '../src/config-kit.ts';
import { createGateway } from '../src/gateway.ts';
import { startSimulator } from '../src/simulator/index.ts';
import type { Simulator } from '../src/simulator/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
function configFile(content: unknown): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('configuration', () => {
  it('defaults to the embedded simulator on port 4000', () => {
    const config = loadConfig([], {});
    expect(config).toMatchObject({ port: 4000, host: '127.0.0.1', vcenters: [], simulator: DEFAULT_SIMULATOR });
  });

  it('turns GraphiQL (and introspection) off with --no-graphiql or "graphiql": false; on by default', () => {
    expect(loadConfig([], {}).graphiql).toBe(true);
    expect(loadConfig(['--no-graphiql'], {}).graphiql).toBe(false);
    expect(loadConfig(['--config', configFile({ graphiql: false })], {}).graphiql).toBe(false);
    expect(loadConfig(['--config', configFile({ graphiql: true })], {}).graphiql).toBe(true);
    expect(() => loadConfig(['--config', configFile({ graphiql: 'no' })], {})).toThrow(/graphiql must be a boolean/);
  });

  it('takes PORT and simulator flags', () => {
    const config = loadConfig(['--sim-hosts', '40', '--sim-vcenters', '3'], { PORT: '4100' });
    expect(config.port).toBe(4100);
    expect(config.simulator).toMatchObject({ hostsPerCluster: 40, vcenters: 3 });
  });

  it('reads vCenters with passwords from the environment or a file, never from the config itself', () => {
    const passwordFile = join(dir, 'pw');
    writeFileSync(passwordFile, 'from-a-file\n');
    const file = configFile({
      vcenters: [
        { name: 'a', url: 'https://vc-a.example.com/', username: 'u', passwordEnv: 'VC_A_PW' },
        { name: 'b', url: 'https://vc-b.example.com', username: 'u', passwordFile, insecure: true, timeoutMs: 5000 },
      ],
    });
    const config = loadConfig(['--config', file], { VC_A_PW: 'from-env' });
    expect(config.vcenters).toEqual([
      expect.objectContaining({ name: 'a', url: 'https://vc-a.example.com', password: 'from-env', insecure: false }),
      expect.objectContaining({ name: 'b', password: 'from-a-file', insecure: true, timeoutMs: 5000 }),
    ]);
  });

  it.each([
    ['no password source', { vcenters: [{ name: 'a', url: 'https://a', username: 'u' }] }, /passwordEnv or passwordFile/],
    // Before, an inline password was silently ignored (and the password source missing, or the other one used).
    ['an inline password', { vcenters: [{ name: 'a', url: 'https://a', username: 'u', passwordEnv: 'X', password: 'inline' }] }, /vcenters\[0\]\.password: .*passwordEnv or passwordFile/],
    ['a plaintext http:// vCenter', { vcenters: [{ name: 'a', url: 'http://a', username: 'u', passwordEnv: 'X' }] }, /http:\/\/.*allowPlaintext/],
    ['caPin without caFile', { vcenters: [{ name: 'a', url: 'https://a', username: 'u', passwordEnv: 'X', caPin: true }] }, /caPin needs caFile/],
    ['a depot prefix that is no URL', { depots: { allow: ['depot.example/'] } }, /depots\.allow/],
    ['a depot prefix with credentials', { depots: { allow: ['https://u:p@depot.example/'] } }, /credentials/],
    ['an unknown depot setting', { depots: { allowEverything: true } }, /depots\.allowEverything/],
    ['unset variable', { vcenters: [{ name: 'a', url: 'https://a', username: 'u', passwordEnv: 'NOPE_NOT_SET' }] }, /NOPE_NOT_SET/],
    ['credentials in the URL', { vcenters: [{ name: 'a', url: 'https://u:p@a', username: 'u', passwordEnv: 'X' }] }, /must not carry credentials/],
    ['not a URL', { vcenters: [{ name: 'a', url: 'vc.example.com', username: 'u', passwordEnv: 'X' }] }, /not a URL/],
    ['missing name', { vcenters: [{ url: 'https://a', username: 'u', passwordEnv: 'X' }] }, /name/],
    ['vcenters not a list', { vcenters: {} }, /array/],
    ['a vCenter entry that is not an object', { vcenters: [null, 'vc-b'] }, /vcenters\[0\] must be an object, got null\n.*vcenters\[1\] must be an object, got "vc-b"/],
  ])('refuses a config with %s, saying what is wrong', (_label, content, message) => {
    const file = configFile(content);
    expect(() => loadConfig(['--config', file], { X: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig(['--config', file], { X: 'x' })).toThrow(message);
  });

  it('takes allowPlaintext, caPin and the depot policy', () => {
    const caFile = join(dir, 'pin-ca.pem');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    const file = configFile({
      vcenters: [
        { name: 'lab', url: 'http://vc-lab.example.com', username: 'u', passwordEnv: 'X', allowPlaintext: true },
        { name: 'prod', url: 'https://vc.example.com', username: 'u', passwordEnv: 'X', caFile, caPin: true },
      ],
      depots: { allow: ['https://depot.example.com/esxi/'], allowProxy: true, maxFetchesPerCall: 50 },
    });
    const config = loadConfig(['--config', file], { X: 'x' });
    expect(config.vcenters[0]).toMatchObject({ url: 'http://vc-lab.example.com' });
    expect(config.vcenters[1]).toMatchObject({ caPin: true, caPem: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(config.depots).toEqual({ allow: ['https://depot.example.com/esxi/'], allowProxy: true, allowCmdOption: false, maxFetchesPerCall: 50 });
    expect(loadConfig([], {}).depots).toEqual({});
  });

  it('refuses unknown flags and bad numbers', () => {
    expect(() => loadConfig(['--nope'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--port', 'abc'], {})).toThrow(/port/);
    expect(() => loadConfig(['--sim-hosts', '500'], {})).toThrow(/sim-hosts/);
    expect(() => loadConfig(['--config', configFile('{not json')], {})).toThrow(/Cannot read config/);
  });
});

/** Every problem a configuration has, as loadConfig reports them (one per line). */
function problemsOf(argv: string[], env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  return [];
}

describe('the configuration schema', () => {
  it('names the file and the full key path of an unknown key at any depth, with the closest known keys', () => {
    const file = configFile({
      vcenters: [{ name: 'a', url: 'https://a', username: 'u', passwordEnv: 'X', pasword: 'oops' }],
      auth: { jwt: { issuer: 'i', audience: 'a', jwksUri: 'https://idp/certs', roles: { viewer: ['v'], operaters: ['o'] } } },
      metrics: { prot: 9464 },
      grahpiql: false,
      somethingElse: 1,
    });
    expect(problemsOf(['--config', file], { X: 'x' })).toEqual([
      `${file}: unknown key "vcenters[0].pasword" (did you mean "passwordEnv" or "passwordFile"?)`,
      `${file}: unknown key "auth.jwt.roles.operaters" (did you mean "operator"?)`,
      `${file}: unknown key "metrics.prot" (did you mean "port"?)`,
      `${file}: unknown key "grahpiql" (did you mean "graphiql"?)`,
      `${file}: unknown key "somethingElse"`,
    ]);
  });

  it('names the key, the expected type and the file for a wrong type; numbers must be JSON numbers', () => {
    const file = configFile({ port: '4000', vcenters: [{ name: 'a', url: 'https://a', username: 'u', passwordEnv: 'X', insecure: 'yes', timeoutMs: 50 }], cors: { origins: 'https://a.example' } });
    expect(problemsOf(['--config', file], { X: 'x' })).toEqual([
      `${file}: port must be an integer from 0 to 65535, got "4000"`,
      `${file}: vcenters[0].insecure must be a boolean (true or false), got "yes"`,
      `${file}: vcenters[0].timeoutMs must be an integer from 100 to 600000, got 50`,
      `${file}: cors.origins must be a list (a JSON array), got "https://a.example"`,
    ]);
    const list = configFile([]);
    expect(problemsOf(['--config', list])).toEqual([`${list} must be an object, got a list`]);
  });

  it('reports every problem at once: structure, cross-field rules and unreadable files', () => {
    const file = configFile({
      vcenters: [
        { name: 'a', url: 'https://a', username: 'u', passwordFile: 'missing-password' },
        { name: 'a', url: 'http://b', username: 'u', passwordEnv: 'X', passwordFile: 'also-missing', caPin: true },
      ],
      callerLimits: { burst: 0 },
      depots: { allow: ['depot.example/'] },
    });
    expect(problemsOf(['--config', file, '--port', 'abc'], { X: 'x', METRICS_PORT: '99999' })).toEqual([
      '--port must be an integer from 0 to 65535, got "abc"',
      'METRICS_PORT (environment) must be an integer from 0 to 65535, got "99999"',
      `${file}: vcenters[0].passwordFile: cannot read ${join(dir, 'missing-password')} (ENOENT)`,
      `${file}: vcenters[1].passwordFile: cannot read ${join(dir, 'also-missing')} (ENOENT)`,
      `${file}: vcenters[1]: set passwordEnv or passwordFile, not both`,
      `${file}: vcenters[1].url is http://: the password and session ids would travel unencrypted; use https:// or set allowPlaintext: true`,
      `${file}: vcenters[1].caPin needs caFile: it trusts only that CA`,
      `${file}: vcenters[1].name: "a" is used twice: names must be unique (they are part of every global ID)`,
      `${file}: callerLimits.burst must be an integer from 1 to 100000, got 0`,
      `${file}: depots.allow: depot prefix "depot.example/" is not a URL`,
    ]);
  });

  it('names the flag or the variable a bad value came from; LOG_LEVEL is checked too', () => {
    expect(problemsOf(['--sim-hosts', '0'])).toEqual(['--sim-hosts must be an integer from 1 to 96, got "0"']);
    expect(problemsOf([], { PORT: '-1' })).toEqual(['PORT (environment) must be an integer from 0 to 65535, got "-1"']);
    expect(problemsOf([], { CORS_ORIGINS: 'https://ok.example,https://bad.example/path' })).toEqual([
      'CORS_ORIGINS (environment): [1]: "https://bad.example/path" is not an origin (scheme://host[:port], no path)',
    ]);
    expect(problemsOf([], { LOG_LEVEL: 'verbose' })).toEqual(['LOG_LEVEL (environment) must be "debug", "info", "warn" or "error", got "verbose"']);
    // The flag wins over its variable, and only the value used is checked.
    expect(loadConfig(['--port', '4100'], { PORT: 'nonsense' }).port).toBe(4100);
  });

  it('takes the metrics port from the file, the flag or METRICS_PORT; its host defaults to the listen address', () => {
    expect(loadConfig([], {}).metrics).toBeUndefined();
    expect(loadConfig(['--metrics-port', '9464'], {}).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(loadConfig(['--host', '::1'], { METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '::1' });
    const file = configFile({ metrics: { port: 9100, host: '127.0.0.2' } });
    expect(loadConfig(['--config', file], {}).metrics).toEqual({ port: 9100, host: '127.0.0.2' });
    expect(loadConfig(['--config', file, '--metrics-port', '9200'], {}).metrics).toEqual({ port: 9200, host: '127.0.0.2' });
    expect(problemsOf(['--metrics-port', '4000'])).toEqual(['metrics.port 4000 is the GraphQL port: choose another, or leave it out to serve /metrics on the GraphQL port']);
    expect(problemsOf(['--metrics-host', '0.0.0.0'])).toEqual(['metrics.host (--metrics-host, METRICS_HOST) needs metrics.port: without it /metrics is on the GraphQL port']);
  });

  it('passes the mirror settings on, and only those given', () => {
    expect(loadConfig([], {}).mirror).toEqual({});
    expect(loadConfig(['--config', configFile({ mirror: { staleMaxAgeMs: 60_000, pageSize: 500 } })], {}).mirror).toEqual({ staleMaxAgeMs: 60_000, pageSize: 500 });
  });
});

describe('any JSON value at any key', () => {
  it('is accepted or refused with a problem naming that key, never a crash', () => {
    const caFile = join(dir, 'any-ca.pem');
    writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    const manifest = join(dir, 'any-manifest.json');
    writeFileSync(manifest, JSON.stringify({ abc: 'query A { clusters { totalCount } }' }));
    // Every section present, so that every key path exists to be replaced.
    const full = {
      port: 4000, host: '127.0.0.1', graphiql: true,
      vcenters: [{ name: 'a', url: 'https://a', username: 'u', passwordEnv: 'X', caFile, caPin: false, insecure: false, allowPlaintext: false, timeoutMs: 1000, maxConcurrentRequests: 4 }],
      simulator: { vcenters: 1, datacentersPerVcenter: 1, clustersPerDatacenter: 1, hostsPerCluster: 1, seed: 1, latencyMs: 0, basePort: 0 },
      auth: {
        mode: 'vcenter', allowAnonymous: false, realm: 'r', passthrough: { maxUsers: 10, idleSeconds: 60 },
        jwt: { issuer: 'i', audience: 'a', jwksUri: 'https://idp/certs', caFile, clockToleranceSec: 1, algorithms: ['RS256'], rolesClaim: 'g', roles: { viewer: ['v'], operator: ['o'] }, subjectClaim: 's', timeoutMs: 1000, refreshCooldownMs: 1, failureBackoffMs: 1, jwksMaxAgeMs: 1, maxJwksBytes: 1, maxJwksKeys: 1 },
      },
      cors: { origins: ['https://a.example'] },
      callerLimits: { requestsPerSecond: 1, burst: 1, webSocketsPerCaller: 1, connectionInitWaitTimeoutMs: 1000, failedLoginBurst: 1 },
      depots: { allow: ['https://depot.example/'], allowCmdOption: false, allowProxy: false, maxFetchesPerCall: 1 },
      trustedDocuments: { manifest, enforce: 'all' },
      metrics: { port: 9464, host: '127.0.0.1' },
      mirror: { staleMaxAgeMs: 1000, maxWaitSeconds: 1, pageSize: 100 },
    };
    expect(() => loadConfig(['--config', configFile(full)], { X: 'x' })).not.toThrow();
    // The file's schema directly (one instance; building it costs tens of ms): loadConfig's
    // later rules only see values this schema accepted.
    const schema = configFileSchema(dir, { X: 'x' });
    // Every key and every section above it (`auth.jwt.roles`, `auth.jwt`, `auth`, `vcenters[]`, `vcenters`).
    const leaves = schemaKeyPaths(schema).filter((p) => p !== 'vcenters[].password');
    const paths = [...new Set(leaves.flatMap((p) => p.split('.').map((_, i, steps) => steps.slice(0, i + 1).join('.'))).flatMap((p) => (p.endsWith('[]') ? [p, p.slice(0, -2)] : [p])))];
    let refusals = 0;
    for (const path of paths) {
      for (const value of [null, -1, 1.5, '', 'text', [], [1], {}, true]) {
        const copy = structuredClone(full) as Record<string, any>;
        const steps = path.replace('[]', '.0').split('.');
        let node = copy;
        for (const step of steps.slice(0, -1)) node = node[step];
        node[steps.at(-1)!] = value;
        const parsed = schema.safeParse(copy);
        if (parsed.success) continue;
        const problems = describeIssues('config.json', schema, copy, parsed.error.issues);
        expect(problems.join('\n'), `${path} = ${JSON.stringify(value)}`).toMatch(new RegExp(`^config\\.json: (unknown key ")?${path.replace('[]', '[0]').replace(/[.[\]]/g, '\\$&')}`, 'm'));
        refusals++;
      }
    }
    // Most replacements are wrong types: a schema that let them through would show here.
    expect(refusals).toBeGreaterThan(leaves.length * 7);
  });
});

describe('the README configuration reference', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const reference = readme.slice(readme.indexOf('### Configuration reference'), readme.indexOf('\n## ', readme.indexOf('### Configuration reference')));
  /** The table rows under a heading of the reference, split into cells. */
  const rows = (heading: string) => {
    const start = reference.indexOf(heading);
    expect(start, heading).toBeGreaterThan(-1);
    const table = reference.slice(start).split('\n\n')[1]!;
    return table.split('\n').slice(2).filter((line) => line.startsWith('|')).map((line) => line.split('|').slice(1, -1).map((cell) => cell.trim()));
  };

  it('documents every file key of the schema, and no key the schema does not have', () => {
    const documented = rows('#### File keys').map(([key]) => /^`([^`]+)`$/.exec(key!)?.[1] ?? `not a key: ${key}`);
    expect(documented.toSorted()).toEqual(schemaKeyPaths(configFileSchema('/', {})).toSorted());
  });

  it('documents every flag and environment variable the gateway reads, and the file key each one sets', () => {
    const documented = rows('#### Flags and environment variables').map(([flag, env, key]) => ({
      flag: /^`--([a-z-]+)/.exec(flag!)?.[1],
      env: /^`([A-Z_]+)`$/.exec(env!)?.[1],
      key: /^`([^`]+)`$/.exec(key!)?.[1],
    }));
    expect(documented).toEqual(COMMAND_LINE.map(({ flag, env, key }) => ({ flag, env, key })));
  });
});

describe('a configured vCenter (the standalone simulator with its CA file)', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ seed: 2, size: { vcenters: 1, clustersPerDatacenter: 2, hostsPerCluster: 2 } });
  });
  afterAll(() => sim?.close());

  it('is reached with TLS verification through caFile', async () => {
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, sim.caPem!);
    const file = configFile({
      vcenters: [{ name: 'lab', url: sim.vcenters[0]!.url, username: sim.username, passwordEnv: 'LAB_PW', caFile }],
    });
    const config = loadConfig(['--config', file], { LAB_PW: sim.password });
    const gateway = createGateway({ vcenters: config.vcenters });
    const url = await gateway.listen(0);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ vcenters { name about { apiVersion } } clusters { totalCount } }' }),
      });
      const body = (await res.json()) as any;
      expect(body.errors).toBeUndefined();
      expect(body.data).toEqual({ vcenters: [{ name: 'lab', about: { apiVersion: '8.0.3.0' } }], clusters: { totalCount: 2 } });
    } finally {
      await gateway.close(500);
    }
  });
});
