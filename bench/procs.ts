/**
 * Forks bench/child.ts in a role and calls it over IPC, every call bounded by a timeout.
 * Children run the compiled build (`npm run build`, as `npm start` does), not TypeScript through
 * tsx: tsx's loader thread alone adds ~75 MB of RSS, which production does not carry.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildIfStale } from './build.ts';
import type { GatewayStart, MemorySample, RpcResponse, SimInfo, SimStart } from './protocol.ts';
import type { SimStats } from '../src/simulator/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('../dist/bench/child.js', import.meta.url));

/**
 * The V8 flags `npm start` (and the container's entry point) give the gateway, read from the
 * `start` script: every child runs with them, so the gateway is measured as it is deployed and
 * the peer, the floor and bare yoga get the same heap tuning.
 */
export function gatewayNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts['start']!;
  const command = /\bexec node((?:\s+--\S+)*)\s+dist\/src\/main\.js/.exec(start);
  if (!command) throw new Error(`package.json: the start script does not exec node on dist/src/main.js: ${start}`);
  return command[1]!.trim().split(/\s+/).filter(Boolean);
}

let built = false;
/** Builds (when stale) once per driver process, so the children always run the current source. */
function ensureBuilt(): void {
  if (built) return;
  buildIfStale();
  built = true;
}

export interface ChildOptions {
  /** Write a V8 CPU profile of this child into dir on exit (`node --cpu-prof`). */
  cpuProfDir?: string;
  /** V8's old-space limit in MB (`--max-old-space-size`), as a container deployment sets it. */
  maxOldSpaceMb?: number;
}

export class Child {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exited = false;
  readonly ready: Promise<void>;

  private constructor(
    readonly role: string,
    private readonly proc: ChildProcess,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role} child did not start in 30 s`)), 30_000);
      proc.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${role} child exited with ${String(code)} before it was ready`));
      });
    });
    proc.on('message', (msg: RpcResponse) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${role}: ${msg.error}`));
    });
    proc.on('exit', (code, signal) => {
      this.exited = true;
      for (const [, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error(`${role} child exited (${String(code ?? signal)})`));
      }
      this.pending.clear();
    });
  }

  static async start(role: 'sim' | 'gateway' | 'bare' | 'floor' | 'peer', options: ChildOptions = {}): Promise<Child> {
    ensureBuilt();
    const execArgv = ['--expose-gc', ...gatewayNodeFlags()];
    if (options.maxOldSpaceMb) execArgv.push(`--max-old-space-size=${options.maxOldSpaceMb}`);
    if (options.cpuProfDir) {
      mkdirSync(options.cpuProfDir, { recursive: true });
      execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
    }
    const proc = fork(CHILD, [role], { cwd: ROOT, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, LOG_LEVEL: 'error', NODE_ENV: 'production' } });
    const child = new Child(role, proc);
    await child.ready;
    return child;
  }

  call<T>(cmd: string, args?: unknown, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.role} child has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.role}.${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, cmd, args });
    });
  }

  memory(gc = false): Promise<MemorySample> {
    return this.call<MemorySample>('memory', { gc });
  }

  /** Asks the child to close what it runs and exit; kills it if it has not within 10 s. */
  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    await this.call('close', undefined, 10_000).catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export class SimProcess {
  private constructor(
    readonly child: Child,
    readonly info: SimInfo,
  ) {}

  static async start(opts: SimStart, options: ChildOptions = {}): Promise<SimProcess> {
    const child = await Child.start('sim', options);
    try {
      const info = await child.call<SimInfo>('start', opts, 120_000);
      return new SimProcess(child, info);
    } catch (err) {
      await child.close();
      throw err;
    }
  }

  stats(): Promise<SimStats[]> {
    return this.child.call<SimStats[]>('stats');
  }

  reset(): Promise<void> {
    return this.child.call('reset');
  }

  setLatency(ms: number): Promise<void> {
    return this.child.call('setLatency', ms);
  }

  endpoints(): GatewayStart['vcenters'] {
    return this.info.vcenters.map((v) => ({
      name: v.name,
      url: v.url,
      username: this.info.username,
      password: this.info.password,
      ...(this.info.caPem ? { caPem: this.info.caPem } : {}),
    }));
  }

  close(): Promise<void> {
    return this.child.close();
  }
}

export class GatewayProcess {
  private constructor(
    readonly child: Child,
    readonly url: string,
  ) {}

  static async start(sim: SimProcess, options: ChildOptions = {}, start: Omit<GatewayStart, 'vcenters'> = {}): Promise<GatewayProcess> {
    const child = await Child.start('gateway', options);
    try {
      const url = await child.call<string>('start', { vcenters: sim.endpoints(), ...start } satisfies GatewayStart);
      return new GatewayProcess(child, url);
    } catch (err) {
      await child.close();
      throw err;
    }
  }

  close(): Promise<void> {
    return this.child.close();
  }
}
