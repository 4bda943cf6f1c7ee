/**
 * The container image as far as it can be checked without a registry: the Dockerfile's
 * instructions, and the compiled entry run the way the image runs it (plain node on
 * dist/src/main.js, the image's environment) in front of a vCenter the test starts: it serves,
 * its health check passes, the simulator's code is never loaded, and SIGTERM ends it with 0.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../src/simulator/index.ts';
import type { Simulator } from '../src/simulator/index.ts';
import { gatewayNodeFlags } from '../bench/procs.ts';
import { dockerfile, execForm, imageEnv, lastStage, runtime } from './dockerfile.ts';
import { eventually } from './harness.ts';

const ROOT = resolve(import.meta.dirname, '..');

describe('Dockerfile', () => {
  it('builds in one stage and runs production dependencies plus dist/ in a slim one, as a non-root user, node as the entry point', () => {
    expect(lastStage).toBeGreaterThanOrEqual(1);
    const from = dockerfile.filter((i) => i.keyword === 'FROM');
    const buildName = / AS (\w+)/i.exec(from[0]!.args)![1]!;
    const build = dockerfile.filter((i) => i.stage === 0);
    expect(build.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args) && !i.args.includes('--omit'))).toBe(true);
    expect(build.some((i) => i.keyword === 'RUN' && i.args.includes('npm run build'))).toBe(true);

    expect(runtime.some((i) => i.keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args))).toBe(true);
    expect(runtime.some((i) => i.keyword === 'COPY' && i.args === `--from=${buildName} /app/dist ./dist`)).toBe(true);
    // No source, tests or dev toolchain in the runtime stage.
    expect(runtime.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).map((i) => i.args)).toEqual(['package.json package-lock.json ./']);
    expect(runtime.some((i) => i.keyword === 'RUN' && i.args.includes('npm run'))).toBe(false);

    const user = runtime.filter((i) => i.keyword === 'USER').at(-1)?.args ?? 'root';
    expect(user).not.toMatch(/^(root|0)(:|$)/);

    // Signals must reach the gateway: node itself, in exec form, never npm or a shell; with the
    // V8 flags `npm start` gives it (the heap tuning the benchmarks measure).
    expect(execForm('ENTRYPOINT')).toEqual(['node', ...gatewayNodeFlags(), 'dist/src/main.js']);
    expect(runtime.some((i) => i.keyword === 'CMD')).toBe(false);

    const healthcheck = runtime.find((i) => i.keyword === 'HEALTHCHECK')!;
    expect(healthcheck.args).toMatch(/--timeout=\d+s/);
    const probe = execForm('HEALTHCHECK');
    expect(probe[0]).toBe('node');
    expect(probe.join(' ')).toContain('/healthz');
    expect(probe.join(' ')).not.toMatch(/curl|wget/);

    expect(imageEnv).toMatchObject({ NODE_ENV: 'production', HOST: '0.0.0.0' });
    expect(runtime.find((i) => i.keyword === 'EXPOSE')!.args).toBe(imageEnv['PORT']);
  });

  it('.dockerignore keeps local builds, dependencies, history and tests out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', '.git', 'test']) expect(ignored).toContain(entry);
    // ...but not what the build stage copies.
    for (const copied of dockerfile.filter((i) => i.stage === 0 && i.keyword === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1))) {
      expect(ignored, copied).not.toContain(copied);
    }
  });
});

describe('the compiled entry, run as the image runs it', () => {
  let work: string;
  let sim: Simulator;

  beforeAll(async () => {
    // Its own build directory: other test files build dist/ concurrently.
    work = mkdtempSync(join(tmpdir(), 'gateway-image-'));
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(work, 'dist')], { stdio: 'ignore' });
    cpSync(join(ROOT, 'schema'), join(work, 'dist/schema'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
    // Records every module the process resolves (ESM hooks), to see what was loaded.
    writeFileSync(join(work, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (process.env.MODULE_LOG) appendFileSync(process.env.MODULE_LOG, result.url + '\\n');
  return result;
}\n`);
    writeFileSync(join(work, 'register.mjs'), `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`);
    sim = await startSimulator({ seed: 1, size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 2 } });
  }, 180_000);

  afterAll(async () => {
    await sim?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function run(args: string[], moduleLog: string): { child: ChildProcess; url: Promise<string>; exited: Promise<number | null>; output: () => string } {
    // The image's entry point (node's flags and the entry file), after the test's module-log hook.
    const child = spawn(process.execPath, ['--import', join(work, 'register.mjs'), ...execForm('ENTRYPOINT').slice(1), ...args], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The image's environment; only the address is the test's (loopback, any free port).
      env: { PATH: process.env['PATH'], ...imageEnv, HOST: '127.0.0.1', PORT: '0', MODULE_LOG: moduleLog },
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Bounded: a child that never prints its URL fails the test (the start of a cold process on a busy machine takes seconds).
    const url = eventually(() => /at (http\S+)/.exec(out)?.[1], Boolean, 60_000) as Promise<string>;
    return { child, url, exited, output: () => out };
  }

  it('serves in front of a configured vCenter without loading the simulator, passes its health check, and exits 0 on SIGTERM', async () => {
    const vc = sim.vcenters[0]!;
    writeFileSync(join(work, 'password'), sim.password);
    writeFileSync(join(work, 'ca.pem'), sim.caPem!);
    writeFileSync(join(work, 'config.json'), JSON.stringify({ vcenters: [{ name: vc.name, url: vc.url, username: sim.username, passwordFile: 'password', caFile: 'ca.pem' }] }));
    const moduleLog = join(work, 'modules-configured.log');
    const g = run(['--config', 'config.json'], moduleLog);
    try {
      const url = await g.url;
      const origin = url.replace(/\/graphql$/, '');
      expect((await fetch(`${origin}/healthz`)).status).toBe(200);
      await eventually(async () => (await fetch(`${origin}/readyz`)).status, (s) => s === 200);
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ clusters { totalCount } }' }) });
      expect(((await res.json()) as any).data.clusters.totalCount).toBe(1);

      // The image's HEALTHCHECK command, as Docker would run it inside the container.
      const [command, ...args] = execForm('HEALTHCHECK');
      expect(command).toBe('node');
      const port = new URL(url).port;
      const health = spawn(process.execPath, args, { env: { PATH: process.env['PATH'], ...imageEnv, PORT: port }, stdio: 'ignore' });
      expect(await new Promise((r) => health.on('exit', r))).toBe(0);

      const loaded = readFileSync(moduleLog, 'utf8').split('\n').filter(Boolean);
      expect(loaded.some((u) => u.endsWith('/dist/src/gateway.js'))).toBe(true);
      expect(loaded.filter((u) => u.includes('/dist/src/simulator/'))).toEqual([]);

      g.child.kill('SIGTERM');
      expect(await g.exited).toBe(0);
      expect(g.output()).not.toContain(sim.password);
    } finally {
      g.child.kill('SIGKILL');
    }
  }, 90_000);

  it('loads the simulator when no vCenter is configured (the module log sees it)', async () => {
    const moduleLog = join(work, 'modules-embedded.log');
    const g = run(['--sim-vcenters', '1', '--sim-clusters', '1', '--sim-hosts', '1'], moduleLog);
    try {
      await g.url;
      const loaded = readFileSync(moduleLog, 'utf8').split('\n');
      expect(loaded.some((u) => u.endsWith('/dist/src/simulator/index.js'))).toBe(true);
      g.child.kill('SIGTERM');
      expect(await g.exited).toBe(0);
    } finally {
      g.child.kill('SIGKILL');
    }
  }, 90_000);
});
