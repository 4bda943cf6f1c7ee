// One simulated vCenter: an HTTP(S) server that routes /api to the REST
// handlers, /sdk/vim25 to VI/JSON, and /_sim/ to the observability routes.

import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pathSegments, readBody, sendEmpty, sendJson } from './http.ts';
import type { VCenterInventory } from './inventory.ts';
import { handleRest } from './rest.ts';
import { SessionStore } from './sessions.ts';
import { StatsRecorder } from './stats.ts';
import type { SimStats } from './stats.ts';
import { TaskStore } from './tasks.ts';
import type { TlsMaterial } from './tls.ts';
import { handleVim } from './vim.ts';

export interface VCenterServerOptions {
  inventory: VCenterInventory;
  host: string;
  /** 0 = ephemeral */
  port: number;
  tls?: TlsMaterial;
  latencyMs: number;
  username: string;
  password: string;
  restListLimits: { clusters: number; hosts: number };
  propertyCollectorPageSize: number;
  /** How long a ScanHostPatchV2_Task runs. */
  patchScanDurationMs: number;
  /** False: CreateFilter and WaitForUpdatesEx answer NotSupported. */
  changeFeed: boolean;
  /** How long finished tasks stay known. */
  taskRetentionMs: number;
}

export class VCenterServer {
  readonly inventory: VCenterInventory;
  private readonly sessions = new SessionStore();
  private readonly recorder = new StatsRecorder();
  private readonly tasks: TaskStore;
  private readonly server: Server;
  private latencyMs: number;
  private port = 0;

  constructor(private readonly options: VCenterServerOptions) {
    this.inventory = options.inventory;
    this.latencyMs = options.latencyMs;
    this.tasks = new TaskStore(options.patchScanDurationMs, options.taskRetentionMs);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        // A bug, not a vCenter behaviour: answer 500 and keep serving.
        if (!res.headersSent) sendJson(res, 500, { error: String(err) });
        else res.destroy();
      });
    };
    this.server = options.tls
      ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler)
      : createHttpServer(handler);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${this.port}`;
  }

  get listeningPort(): number {
    return this.port;
  }

  stats(): SimStats {
    return this.recorder.snapshot({ sessions: this.sessions.live(), filters: this.sessions.liveFilters(), tasks: this.tasks.counts() });
  }

  resetStats(): void {
    this.recorder.reset();
  }

  expireSessions(): void {
    this.sessions.expireAll();
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const segments = pathSegments(url.pathname);
    const method = req.method ?? 'GET';
    if (segments[0] === '_sim') return this.handleSim(req, res, segments[1] ?? '');

    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    let route: string | undefined;
    try {
      if (segments[0] === 'api') {
        route = handleRest(req, res, segments, url.searchParams, {
          inv: this.inventory,
          sessions: this.sessions,
          stats: this.recorder,
          username: this.options.username,
          password: this.options.password,
          limits: this.options.restListLimits,
        });
      } else if (segments[0] === 'sdk' && segments[1] === 'vim25') {
        route = await handleVim(req, res, segments, {
          inv: this.inventory,
          sessions: this.sessions,
          stats: this.recorder,
          username: this.options.username,
          password: this.options.password,
          pageSize: this.options.propertyCollectorPageSize,
          tasks: this.tasks,
          patchScanDurationMs: this.options.patchScanDurationMs,
          changeFeed: this.options.changeFeed,
        });
      } else {
        sendEmpty(res, 404);
      }
    } finally {
      this.recorder.count(method, route ?? '(unmatched)');
    }
  }

  private async handleSim(req: IncomingMessage, res: ServerResponse, action: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'GET' && action === 'stats') return sendJson(res, 200, this.stats());
    if (method === 'POST' && action === 'reset') {
      this.resetStats();
      return sendEmpty(res, 204);
    }
    if (method === 'POST' && action === 'expire-sessions') {
      this.expireSessions();
      return sendEmpty(res, 204);
    }
    if (method === 'POST' && action === 'latency') {
      let ms: unknown;
      try {
        ms = (JSON.parse(await readBody(req)) as { ms?: unknown }).ms;
      } catch {
        ms = undefined;
      }
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return sendJson(res, 400, { error: 'body must be {"ms": <non-negative number>}' });
      this.setLatency(ms);
      return sendEmpty(res, 204);
    }
    sendJson(res, 404, { error: `unknown simulator route ${method} /_sim/${action}` });
  }
}
