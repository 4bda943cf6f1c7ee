// One simulated vCenter: an HTTP(S) server that routes /api to the REST
// handlers, /sdk/vim25 to VI/JSON, and /_sim/ to the observability routes.

import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import { InventoryChangeError, applyInventoryChange, parseInventoryChange, startChurn } from './dynamics.ts';
import type { InventoryChange, InventoryChangeResult } from './dynamics.ts';
import { fault } from './faults.ts';
import { pathSegments, readBody, sendEmpty, sendJson } from './http.ts';
import { FaultInjector, parseFaultRules } from './injection.ts';
import { refuseRest, refuseVim } from './request-validation.ts';
import type { RequestValidator } from './request-validation.ts';
import type { SimQuirks } from './quirks.ts';
import type { Decision, FaultRule } from './injection.ts';
import type { VCenterInventory } from './inventory.ts';
import { Authorization } from './authz.ts';
import type { UserDirectory } from './authz.ts';
import { handleRest, restRouteTemplate, restServiceError } from './rest.ts';
import { SessionStore } from './sessions.ts';
import { StatsRecorder } from './stats.ts';
import type { SimStats } from './stats.ts';
import { TaskStore } from './tasks.ts';
import type { TlsMaterial } from './tls.ts';
import { handleVim, vimRoute } from './vim.ts';

export interface VCenterServerOptions {
  inventory: VCenterInventory;
  host: string;
  /** 0 = ephemeral */
  port: number;
  tls?: TlsMaterial;
  latencyMs: number;
  /** Users, roles and permissions (the same on every vCenter of the simulator). */
  users: UserDirectory;
  restListLimits: { clusters: number; hosts: number };
  propertyCollectorPageSize: number;
  /** How long a ScanHostPatchV2_Task runs. */
  patchScanDurationMs: number;
  /** False: CreateFilter and WaitForUpdatesEx answer NotSupported. */
  changeFeed: boolean;
  /** How long finished tasks stay known. */
  taskRetentionMs: number;
  /** Fault rules in force from the start, and the seed of their RNG. */
  faults: FaultRule[];
  faultSeed: number;
  /** Answers a real vCenter may give that the default simulator does not. */
  quirks: SimQuirks;
  /** Checks every request against the official spec subsets; undefined when they are absent. */
  requestValidator: RequestValidator | undefined;
}

/** What vCenter's reverse proxy (envoy) answers when the service behind it is unavailable. */
const PROXY_503_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';

export class VCenterServer {
  readonly inventory: VCenterInventory;
  private readonly sessions = new SessionStore();
  private readonly recorder = new StatsRecorder();
  private readonly tasks: TaskStore;
  private readonly authz: Authorization;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly injector: FaultInjector;
  private latencyMs: number;
  private quirks: SimQuirks;
  private port = 0;
  private listening = false;
  private closed = false;
  /** Brings the vCenter back after POST /_sim/down {forMs}. */
  private restoreTimer: NodeJS.Timeout | undefined;
  /** down()/up()/close() run one after another. */
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly options: VCenterServerOptions) {
    this.inventory = options.inventory;
    this.latencyMs = options.latencyMs;
    this.quirks = options.quirks;
    this.tasks = new TaskStore(options.patchScanDurationMs, options.taskRetentionMs, (t) => {
      const dropped = this.quirks.dropTasksOf ?? [];
      return dropped.includes('*') || dropped.includes(t.entity.value);
    });
    this.injector = new FaultInjector(options.faultSeed, options.faults);
    this.authz = new Authorization(options.inventory, options.users);
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
    // closeAllConnections() misses sockets still in their TLS handshake or between requests
    // before the parser tracks them; a vCenter going down drops every TCP connection.
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  async listen(port = this.options.port): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.listening = true;
    return this.port;
  }

  /** Stops listening and destroys every connection (requests in flight end without an answer). */
  down(): Promise<void> {
    return this.serialize(async () => {
      if (!this.listening) return;
      this.listening = false;
      this.recorder.faultInjected('down');
      await this.stopServer();
    });
  }

  /** Listens again on the same port. */
  up(): Promise<void> {
    return this.serialize(async () => {
      clearTimeout(this.restoreTimer);
      this.restoreTimer = undefined;
      if (this.listening || this.closed) return;
      await this.listen(this.port);
    });
  }

  isUp(): boolean {
    return this.listening;
  }

  setFaults(rules: FaultRule[], seed?: number): void {
    this.injector.set(rules, seed);
  }

  /** Replaces the quirks in force (they apply from the next request on). */
  setQuirks(quirks: SimQuirks): void {
    this.quirks = { ...quirks };
  }

  clearFaults(): void {
    this.injector.set([]);
  }

  faultRules(): FaultRule[] {
    return this.injector.list();
  }

  private serialize(step: () => Promise<void>): Promise<void> {
    const next = this.transition.then(step);
    this.transition = next.catch(() => undefined);
    return next;
  }

  private stopServer(): Promise<void> {
    return new Promise<void>((resolve) => {
      // The callback gets ERR_SERVER_NOT_RUNNING when already stopped: nothing to wait for then.
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  get url(): string {
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${this.port}`;
  }

  get listeningPort(): number {
    return this.port;
  }

  stats(): SimStats {
    return this.recorder.snapshot({ sessions: this.sessions.live(), sessionsByUser: this.sessions.liveByUser(), filters: this.sessions.liveFilters(), tasks: this.tasks.counts() });
  }

  resetStats(): void {
    this.recorder.reset();
  }

  expireSessions(): void {
    this.sessions.expireAll();
  }

  /** Stops the random inventory churn, if any. */
  private stopChurn: (() => void) | undefined;

  /** Random inventory churn (dynamics.ts startChurn); 0 stops it. */
  setChurn(perSecond: number, seed = this.options.faultSeed): void {
    this.stopChurn?.();
    this.stopChurn = perSecond > 0 ? startChurn(this.inventory, perSecond, seed) : undefined;
  }

  /** Applies an inventory change (dynamics.ts); throws InventoryChangeError when vCenter would refuse it. */
  changeInventory(change: InventoryChange): InventoryChangeResult {
    return applyInventoryChange(this.inventory, change);
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.setChurn(0);
    clearTimeout(this.restoreTimer);
    this.restoreTimer = undefined;
    await this.serialize(async () => {
      this.listening = false;
      await this.stopServer();
    });
  }

  /** Route template of a request, as counted in stats and matched by fault rules. */
  private routeOf(method: string, segments: string[]): string {
    if (segments[0] === 'api') return restRouteTemplate(method, segments) ?? '(unmatched)';
    if (segments[0] === 'sdk' && segments[1] === 'vim25') return vimRoute(this.inventory, method, segments) ?? '(unmatched)';
    return '(unmatched)';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    const segments = pathSegments(url.pathname);
    const method = req.method ?? 'GET';
    if (segments[0] === '_sim') return this.handleSim(req, res, segments[1] ?? '');

    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const route = this.routeOf(method, segments);
    try {
      if (route !== '(unmatched)' && (await this.refusedAsInvalid(req, res, method, route, segments, url))) return;
      const decision = this.injector.decide(method, route);
      if (decision && (await this.inject(decision, req, res, segments))) return;
      if (segments[0] === 'api') {
        handleRest(req, res, segments, url.searchParams, {
          inv: this.inventory,
          sessions: this.sessions,
          stats: this.recorder,
          authz: this.authz,
          limits: this.options.restListLimits,
          quirks: this.quirks,
        });
      } else if (segments[0] === 'sdk' && segments[1] === 'vim25') {
        await handleVim(req, res, segments, {
          inv: this.inventory,
          sessions: this.sessions,
          stats: this.recorder,
          authz: this.authz,
          pageSize: this.options.propertyCollectorPageSize,
          tasks: this.tasks,
          patchScanDurationMs: this.options.patchScanDurationMs,
          changeFeed: this.options.changeFeed,
          quirks: this.quirks,
        });
      } else {
        sendEmpty(res, 404);
      }
    } finally {
      this.recorder.count(method, route);
    }
  }

  /** Validates the request against the spec (the one hook); true when it was refused. */
  private async refusedAsInvalid(req: IncomingMessage, res: ServerResponse, method: string, route: string, segments: string[], url: URL): Promise<boolean> {
    const validator = this.options.requestValidator;
    if (!validator) return false;
    const vim = segments[0] === 'sdk';
    const verdict = vim
      ? validator.checkVim(method, segments, method === 'POST' ? await readBody(req) : '')
      : validator.checkRest(method, url.pathname.replace(/^\/api/, ''), url.searchParams);
    if (!verdict.checked) return false;
    this.recorder.validation(method, route, verdict.problems.length === 0);
    validator.note(method, route, verdict.problems.length === 0);
    if (verdict.problems.length === 0) return false;
    if (vim) refuseVim(res, verdict.problems);
    else refuseRest(res, verdict.problems);
    return true;
  }

  /**
   * Applies an injected fault; true when the request was answered (or
   * deliberately not) by the fault, false when it goes on to its handler.
   * Waits end when the client goes away or the vCenter goes down or closes
   * (their connections are destroyed), so no timer outlives its request.
   */
  private async inject(d: Decision, req: IncomingMessage, res: ServerResponse, segments: string[]): Promise<boolean> {
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    res.once('close', onClose);
    try {
      if (d.delayMs > 0) {
        this.recorder.faultInjected('latency');
        try {
          await sleep(d.delayMs, undefined, { signal: gone.signal });
        } catch {
          return true;
        }
      }
      switch (d.outcome) {
        case 'pass':
          return false;
        case 'hang':
          this.recorder.faultInjected('hang');
          if (!gone.signal.aborted) await new Promise((resolve) => gone.signal.addEventListener('abort', resolve, { once: true }));
          return true;
        case 'reset': {
          this.recorder.faultInjected('reset');
          const socket = req.socket;
          // A TCP RST where the socket is plain TCP; TLS sockets can only be destroyed.
          if (!(socket instanceof TLSSocket) && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
          else socket.destroy();
          return true;
        }
        case 'error':
          this.injectError(d.rule.error ?? '503', d.rule.retryAfterSeconds, res, segments);
          return true;
      }
    } finally {
      res.off('close', onClose);
    }
  }

  private injectError(error: string, retryAfterSeconds: number | undefined, res: ServerResponse, segments: string[]): void {
    const vim = segments[0] === 'sdk';
    if (error === '503') {
      this.recorder.faultInjected('http503');
      const headers: Record<string, string> = retryAfterSeconds !== undefined ? { 'retry-after': String(Math.round(retryAfterSeconds)) } : {};
      if (!vim) return restServiceError(res, 503, headers);
      const body = Buffer.from(PROXY_503_BODY);
      res.writeHead(503, { 'content-type': 'text/plain', 'content-length': body.length, server: 'envoy', ...headers });
      res.end(body);
      return;
    }
    if (!vim) {
      this.recorder.faultInjected(error === '500' ? 'http500' : `fault:${error}`);
      return restServiceError(res, 500);
    }
    const type = error === '500' ? 'SystemError' : error;
    this.recorder.faultInjected(error === '500' ? 'http500' : `fault:${type}`);
    const [, , , moType = 'ManagedObject', moId = ''] = segments;
    const body =
      type === 'SystemError'
        ? fault.systemError('Injected fault').body
        : type === 'NotAuthenticated'
          ? fault.notAuthenticated({ type: moType, value: moId }).body
          : { _typeName: type, faultstring: `Injected fault ${type}.` };
    sendJson(res, 500, body);
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
    if (action === 'faults') {
      if (method === 'GET') return sendJson(res, 200, { rules: this.faultRules() });
      if (method === 'DELETE') {
        this.clearFaults();
        return sendEmpty(res, 204);
      }
      if (method === 'POST') {
        try {
          const body = JSON.parse(await readBody(req)) as unknown;
          const spec = Array.isArray(body) ? { rules: body } : (body as { rules?: unknown; seed?: unknown });
          if (spec.seed !== undefined && (typeof spec.seed !== 'number' || !Number.isInteger(spec.seed))) throw new Error('seed must be an integer');
          this.setFaults(parseFaultRules(spec.rules), spec.seed as number | undefined);
        } catch (err) {
          return sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
        }
        return sendEmpty(res, 204);
      }
    }
    if (action === 'churn' && (method === 'POST' || method === 'DELETE')) {
      try {
        if (method === 'DELETE') this.setChurn(0);
        else {
          let body: { perSecond?: unknown; seed?: unknown };
          try {
            body = JSON.parse(await readBody(req)) as typeof body;
          } catch {
            throw new InventoryChangeError(400, 'body must be {"perSecond": <number>, "seed"?: <integer>}');
          }
          if (typeof body.perSecond !== 'number' || !(body.perSecond > 0)) throw new InventoryChangeError(400, 'perSecond must be a positive number (DELETE stops the churn)');
          if (body.seed !== undefined && !Number.isInteger(body.seed)) throw new InventoryChangeError(400, 'seed must be an integer');
          this.setChurn(body.perSecond, body.seed as number | undefined);
        }
        return sendEmpty(res, 204);
      } catch (err) {
        if (err instanceof InventoryChangeError) return sendJson(res, err.status, { error: err.message });
        throw err;
      }
    }
    if (method === 'POST' && action === 'inventory') {
      try {
        let body: unknown;
        try {
          body = JSON.parse(await readBody(req));
        } catch {
          throw new InventoryChangeError(400, 'body must be JSON');
        }
        return sendJson(res, 200, this.changeInventory(parseInventoryChange(body)));
      } catch (err) {
        if (err instanceof InventoryChangeError) return sendJson(res, err.status, { error: err.message });
        throw err;
      }
    }
    if (method === 'POST' && action === 'down') {
      let forMs: unknown;
      try {
        const text = await readBody(req);
        forMs = text.trim() === '' ? undefined : (JSON.parse(text) as { forMs?: unknown }).forMs;
      } catch {
        forMs = Number.NaN;
      }
      if (forMs !== undefined && (typeof forMs !== 'number' || !Number.isFinite(forMs) || forMs < 0)) {
        return sendJson(res, 400, { error: 'body must be {"forMs": <non-negative number>} or empty (down until up())' });
      }
      // Answer first, then go down; come back by itself after forMs.
      res.once('finish', () => {
        void this.down().then(() => {
          if (typeof forMs === 'number' && !this.closed) this.restoreTimer = setTimeout(() => void this.up(), forMs);
        });
      });
      return sendEmpty(res, 204, { connection: 'close' });
    }
    sendJson(res, 404, { error: `unknown simulator route ${method} /_sim/${action}` });
  }
}
