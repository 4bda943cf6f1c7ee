/**
 * `--check-config FILE`, run as an operator runs it: the CLI in a child process (through tsx, so
 * no build is needed). It validates the file with the flags and environment, reads the files the
 * configuration names, and exits: never starting the gateway, loading the simulator or
 * contacting a vCenter (a TCP listener standing in for the vCenters and the JWKS server counts
 * connections).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'check-config-'));
let upstream: Server;
let upstreamConnections = 0;
let upstreamUrl: string;

beforeAll(async () => {
  upstream = createServer((socket) => {
    upstreamConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  // Records every module the child resolves (ESM hook), to see what it loaded.
  writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.MODULE_LOG, result.url + '\\n');
  return result;
}\n`);
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
});
afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

function write(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  modules: string[];
}

function checkConfig(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const moduleLog = join(dir, `modules-${Math.random().toString(36).slice(2)}.log`);
  writeFileSync(moduleLog, '');
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', join(dir, 'register.mjs'), 'src/main.ts', ...args], {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'], MODULE_LOG: moduleLog, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  // Bounded: a check that starts a server instead of exiting fails the test.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, modules: readFileSync(moduleLog, 'utf8').split('\n').filter(Boolean) });
    }),
  );
}

/** What a check must never do: load the gateway or the simulator, or reach a vCenter. */
function expectNothingStarted(run: Run): void {
  expect(run.modules.some((u) => u.endsWith('/src/config.ts'))).toBe(true);
  expect(run.modules.filter((u) => u.endsWith('/src/gateway.ts') || u.endsWith('/src/start.ts') || u.includes('/src/simulator/'))).toEqual([]);
  expect(upstreamConnections).toBe(0);
}

describe('--check-config FILE', () => {
  it('exits 0 with a one-line summary for a valid file, reading its password and CA files', async () => {
    write('vc-b-password', 'secret-b\n');
    write('ca.pem', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
    const file = write('valid.json', {
      vcenters: [
        { name: 'vc-a', url: upstreamUrl, username: 'svc', passwordEnv: 'VC_A_PASSWORD', caFile: 'ca.pem', caPin: true },
        { name: 'vc-b', url: `${upstreamUrl}/b`, username: 'svc', passwordFile: 'vc-b-password' },
        { name: 'vc-c', url: `${upstreamUrl}/c`, username: 'svc', passwordFile: 'vc-b-password', insecure: true },
      ],
      auth: { mode: 'vcenter' },
      graphiql: false,
    });
    const run = await checkConfig(['--check-config', file, '--host', '0.0.0.0', '--metrics-port', '9464'], { VC_A_PASSWORD: 'secret-a' });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(`config OK (${file}): 3 vCenters (vc-a, vc-b, vc-c), auth vcenter, listening on 0.0.0.0:4000, metrics on 0.0.0.0:9464, GraphiQL off\n`);
    expectNothingStarted(run);
  }, 90_000);

  it('exits non-zero naming the file and the misspelt key', async () => {
    const file = write('misspelt.json', { vcenters: [{ name: 'vc-a', url: upstreamUrl, username: 'svc', passwordEnv: 'VC_A_PASSWORD', timeoutMS: 5000 }] });
    const run = await checkConfig(['--check-config', file], { VC_A_PASSWORD: 'secret-a' });
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toBe(`config invalid (1 problem):\n  ${file}: unknown key "vcenters[0].timeoutMS" (did you mean "timeoutMs"?)\n`);
    expectNothingStarted(run);
  }, 90_000);

  it('lists every problem, a missing passwordFile and bad flags and variables included, and never a password', async () => {
    const file = write('several.json', {
      port: 'eighty',
      vcenters: [
        { name: 'vc-a', url: upstreamUrl, username: 'svc', passwordFile: 'no-such-password-file' },
        { name: 'vc-b', url: upstreamUrl, username: 'svc', passwordEnv: 'VC_B_PASSWORD', caPin: true, password: 'inline-secret' },
      ],
      auth: { mode: 'jwt', jwt: { issuer: 'https://idp.example', audience: 'gateway', jwksUri: `${upstreamUrl}/certs`, algorithms: ['HS256'], roles: { viewer: ['v'] } } },
      callerLimits: { requestsPerSecond: 0 },
      trustedDocuments: { manifest: 'no-such-manifest.json', enforce: 'everyone' },
    });
    const run = await checkConfig(['--check-config', file, '--sim-hosts', '500'], { VC_B_PASSWORD: 'secret-b', METRICS_PORT: 'x', LOG_LEVEL: 'chatty' });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')).toEqual([
      'config invalid (11 problems):',
      '  METRICS_PORT (environment) must be an integer from 0 to 65535, got "x"',
      '  --sim-hosts must be an integer from 1 to 96, got "500"',
      '  LOG_LEVEL (environment) must be "debug", "info", "warn" or "error", got "chatty"',
      `  ${file}: port must be an integer from 0 to 65535, got "eighty"`,
      `  ${file}: vcenters[0].passwordFile: cannot read ${join(dir, 'no-such-password-file')} (ENOENT)`,
      `  ${file}: vcenters[1].password: passwords are not read from the config file itself; set passwordEnv or passwordFile instead`,
      `  ${file}: vcenters[1].caPin needs caFile: it trusts only that CA`,
      `  ${file}: auth.jwt.algorithms: HS256 not among RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519`,
      `  ${file}: callerLimits.requestsPerSecond must be an integer from 1 to 100000, got 0`,
      `  ${file}: trustedDocuments.manifest: cannot read ${join(dir, 'no-such-manifest.json')} (ENOENT)`,
      `  ${file}: trustedDocuments.enforce must be "all" or "viewers", got "everyone"`,
      '',
    ]);
    expect(run.stderr).not.toContain('secret');
    expectNothingStarted(run);
  }, 90_000);
});
