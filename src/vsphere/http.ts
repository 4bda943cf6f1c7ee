/**
 * HTTP transport to one vCenter: one undici Agent (keep-alive pool, bounded connections,
 * TLS verification on unless explicitly disabled), a per-vCenter concurrency cap, a timeout on
 * every request, and mapping of transport failures to UpstreamError. Status-code handling is
 * the caller's (REST and VI/JSON report errors differently); `withRetry` adds bounded retries.
 */
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import type { Logger } from '../log.ts';
import { CircuitBreaker, DEFAULT_BREAKER, type BreakerOptions } from './breaker.ts';
import { currentCallScope, DeadlineExceeded } from './call-scope.ts';
import { UpstreamError, type UpstreamApi, type UpstreamErrorCode } from './errors.ts';

export interface TransportOptions {
  name: string;
  /** Origin, e.g. `https://vc.example.com` (no trailing slash). */
  baseUrl: string;
  caPem?: string;
  /** Trust only caPem, not the public roots. */
  caPin?: boolean;
  insecure?: boolean;
  timeoutMs: number;
  maxConcurrentRequests: number;
  logger: Logger;
  breaker?: BreakerOptions;
  /** Told of every request sent (probes and logins included), for metrics and per-operation counts. */
  onUpstreamCall?: (call: UpstreamCall) => void;
}

export interface UpstreamCall {
  vcenter: string;
  api: UpstreamApi;
  method: HttpRequest['method'];
  /** Path as sent, query included: template it before using it as a metric label. */
  path: string;
  /** The HTTP status, or the error code when no response came back. */
  status: number | UpstreamErrorCode;
  /** When the request was sent (epoch milliseconds). */
  startedAt: number;
  durationMs: number;
  /** Retries of this call before this attempt (0: the first attempt). */
  attempt: number;
}

export interface HttpRequest {
  api: UpstreamApi;
  method: 'GET' | 'POST' | 'DELETE';
  /** Path plus query, starting with `/`. */
  path: string;
  headers?: Record<string, string>;
  /** JSON-serialised as the request body when defined. */
  json?: unknown;
  /** Overrides the endpoint's timeout for this call (long polls such as WaitForUpdatesEx). */
  timeoutMs?: number;
  /** Served before queued requests when the concurrency cap is reached (see Semaphore). */
  urgent?: boolean;
  /** Retries before this attempt, as withRetry counts them (told to onUpstreamCall). */
  attempt?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined for an empty / non-JSON body. */
  body: unknown;
  text: string;
}

interface Waiter {
  grant(): void;
}

/**
 * A counting semaphore whose waiters queue per owner (the caller) and are served round robin,
 * so one caller with a thousand queued calls delays another caller's call by at most one
 * turn per owner, not a thousand. Urgent waiters go ahead of everyone: the task watch loop is
 * urgent (at most one per vCenter, and every scan subscriber waits on it). A waiter whose
 * signal aborts leaves the queue and never takes a slot.
 */
export class Semaphore {
  private active = 0;
  private peakActive = 0;
  private queued = 0;
  private readonly urgentQueue: Waiter[] = [];
  /** Waiting calls per owner in arrival order; Map order is the round-robin order. */
  private readonly queues = new Map<string, Waiter[]>();
  constructor(private readonly limit: number) {}

  async acquire(urgent = false, owner = '', signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.limit) {
      this.active++;
      this.peakActive = Math.max(this.peakActive, this.active);
      return;
    }
    const queue = urgent ? this.urgentQueue : this.queueOf(owner);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = queue.indexOf(waiter);
        if (at >= 0) {
          queue.splice(at, 1);
          this.queued--;
          if (queue.length === 0 && this.queues.get(owner) === queue) this.queues.delete(owner);
        }
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      queue.push(waiter);
      this.queued++;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    // the releasing side handed its slot to us: `active` is unchanged
    this.peakActive = Math.max(this.peakActive, this.active);
  }

  release(): void {
    const next = this.urgentQueue.shift() ?? this.nextInTurn();
    if (next) {
      this.queued--;
      next.grant();
    } else this.active--;
  }

  private queueOf(owner: string): Waiter[] {
    let queue = this.queues.get(owner);
    if (!queue) this.queues.set(owner, (queue = []));
    return queue;
  }

  /** The first owner's oldest waiter; that owner then goes to the back of the rotation. */
  private nextInTurn(): Waiter | undefined {
    for (const [owner, queue] of this.queues) {
      const waiter = queue.shift();
      this.queues.delete(owner);
      if (queue.length > 0) this.queues.set(owner, queue);
      if (waiter) return waiter;
    }
    return undefined;
  }

  get inFlight(): number { return this.active; }
  get peak(): number { return this.peakActive; }
  get waiting(): number { return this.queued; }
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE', 'CERT_REJECTED',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE', 'INVALID_CA', 'HOSTNAME_MISMATCH', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED',
]);
/** Unavailability that a retry cannot fix. */
const PERMANENT_UNAVAILABLE = new Set(['ENOTFOUND']);

function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') codes.push(c);
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError') codes.push('ETIMEDOUT');
    if (e instanceof AggregateError) for (const sub of e.errors) codes.push(...errorCodes(sub));
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** HTTP statuses that mean the vCenter (or its reverse proxy) is not serving. */
const OUTAGE_STATUSES = new Set([502, 503, 504]);

export class HttpTransport {
  private readonly agent: Agent;
  private readonly sem: Semaphore;
  private count = 0;
  private closed = false;
  readonly breaker: CircuitBreaker;

  constructor(private readonly opts: TransportOptions) {
    const connect: Record<string, unknown> = { timeout: opts.timeoutMs };
    // One secure context per vCenter: built per connection, parsing the system roots plus the
    // vCenter's CA costs milliseconds of CPU on every new TLS connection.
    if (opts.caPem) connect.secureContext = createSecureContext({ ca: opts.caPin ? [opts.caPem] : [...rootCertificates, opts.caPem] });
    if (opts.insecure) {
      connect.rejectUnauthorized = false;
      opts.logger.warn('TLS certificate verification is DISABLED for this vCenter (insecure: true)', { vcenter: opts.name, url: opts.baseUrl });
    }
    this.agent = new Agent({
      connections: opts.maxConcurrentRequests,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect,
    });
    this.sem = new Semaphore(opts.maxConcurrentRequests);
    this.breaker = new CircuitBreaker(opts.breaker ?? DEFAULT_BREAKER, () => this.probe(), (status) => {
      if (status.state === 'open') opts.logger.warn('vCenter unavailable: failing fast and probing', { vcenter: opts.name, ...status });
      else opts.logger.info('vCenter available again', { vcenter: opts.name });
    });
  }

  /**
   * The breaker's probe, also the readiness check: does the vCenter answer HTTP at all? An
   * unauthenticated GET is enough. It skips the concurrency queue: a busy vCenter is not a down one.
   */
  async probe(): Promise<boolean> {
    try {
      const r = await this.sendNow({ api: 'rest', method: 'GET', path: '/api/session' });
      return !OUTAGE_STATUSES.has(r.status);
    } catch {
      return false;
    }
  }

  /** Upstream requests sent so far (every attempt, logins included). */
  get requestCount(): number { return this.count; }
  get inFlight(): number { return this.sem.inFlight; }
  get peakInFlight(): number { return this.sem.peak; }
  /** Calls waiting for a concurrency slot. */
  get queued(): number { return this.sem.waiting; }

  /**
   * One attempt: waits for a concurrency slot (in its caller's turn), then sends with a
   * whole-call timeout. The current call scope's signal withdraws a queued call and aborts a
   * sent one; such a call is no verdict on the vCenter, so the breaker does not count it.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const scope = currentCallScope();
    if (scope?.signal.aborted) throw this.abandoned(req, scope.signal);
    if (this.closed) {
      throw new UpstreamError({ code: 'VCENTER_UNAVAILABLE', vcenter: this.opts.name, api: req.api, message: `vCenter "${this.opts.name}": client is closed` });
    }
    if (this.breaker.isOpen) {
      const { lastError, since } = this.breaker.status();
      throw new UpstreamError({
        code: 'VCENTER_UNAVAILABLE',
        vcenter: this.opts.name,
        api: req.api,
        message: `vCenter "${this.opts.name}" is unavailable since ${since}; failing fast while probing it. Last error: ${lastError ?? 'unknown'}`,
        retryable: false,
      });
    }
    try {
      await this.sem.acquire(req.urgent, scope?.owner, scope?.signal);
    } catch (error) {
      if (scope?.signal.aborted) throw this.abandoned(req, scope.signal);
      throw error;
    }
    try {
      const response = await this.sendNow(req, scope?.signal);
      if (OUTAGE_STATUSES.has(response.status)) this.breaker.recordOutage(`HTTP ${response.status} from ${stripQuery(req.path)}`);
      else this.breaker.recordSuccess();
      return response;
    } catch (error) {
      if (scope?.signal.aborted) throw this.abandoned(req, scope.signal);
      if (error instanceof UpstreamError && (error.code === 'VCENTER_UNAVAILABLE' || error.code === 'UPSTREAM_TIMEOUT')) {
        this.breaker.recordOutage(error.message);
      }
      throw error;
    } finally {
      this.sem.release();
    }
  }

  /** An upstream call its operation gave up on: UPSTREAM_TIMEOUT past the deadline, else CANCELLED. */
  private abandoned(req: HttpRequest, signal: AbortSignal): UpstreamError {
    const where = `vCenter "${this.opts.name}" (${req.api === 'rest' ? 'REST' : 'VI/JSON'} ${req.method} ${stripQuery(req.path)})`;
    const deadline = signal.reason instanceof DeadlineExceeded;
    // Thousands are made at once when a large operation is abandoned, and their stack (the
    // queue's) says nothing: skip capturing it, which is most of their cost.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return this.abandonedError(where, deadline, signal, req);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }

  private abandonedError(where: string, deadline: boolean, signal: AbortSignal, req: HttpRequest): UpstreamError {
    return new UpstreamError({
      code: deadline ? 'UPSTREAM_TIMEOUT' : 'CANCELLED',
      vcenter: this.opts.name,
      api: req.api,
      message: deadline
        ? `${where}: abandoned, the operation's deadline of ${(signal.reason as DeadlineExceeded).deadlineMs} ms passed`
        : `${where}: abandoned, the client went away`,
      retryable: false,
    });
  }

  private async sendNow(req: HttpRequest, cancel?: AbortSignal): Promise<HttpResponse> {
    const timeoutMs = req.timeoutMs ?? this.opts.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = cancel ? AbortSignal.any([timeout, cancel]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    }
    this.count++;
    const started = Date.now();
    try {
      const res = await request(this.opts.baseUrl + req.path, {
        dispatcher: this.agent,
        method: req.method,
        headers,
        body,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const text = await res.body.text();
      let parsed: unknown;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      this.opts.logger.debug('upstream request', {
        vcenter: this.opts.name, api: req.api, method: req.method, path: stripQuery(req.path),
        status: res.statusCode, ms: Date.now() - started,
      });
      this.opts.onUpstreamCall?.({ vcenter: this.opts.name, api: req.api, method: req.method, path: req.path, status: res.statusCode, startedAt: started, durationMs: Date.now() - started, attempt: req.attempt ?? 0 });
      return { status: res.statusCode, headers: res.headers as HttpResponse['headers'], body: parsed, text };
    } catch (err) {
      const mapped = this.mapTransportError(err, req, timeout.aborted, timeoutMs);
      this.opts.onUpstreamCall?.({ vcenter: this.opts.name, api: req.api, method: req.method, path: req.path, status: mapped.code, startedAt: started, durationMs: Date.now() - started, attempt: req.attempt ?? 0 });
      throw mapped;
    }
  }

  private mapTransportError(err: unknown, req: HttpRequest, aborted: boolean, timeoutMs: number): UpstreamError {
    if (err instanceof UpstreamError) return err;
    const codes = errorCodes(err);
    const where = `vCenter "${this.opts.name}" (${req.api === 'rest' ? 'REST' : 'VI/JSON'} ${req.method} ${stripQuery(req.path)})`;
    const mk = (code: UpstreamErrorCode, message: string, retryable: boolean) =>
      new UpstreamError({ code, vcenter: this.opts.name, api: req.api, message, retryable, cause: err });
    const tls = codes.find((c) => TLS_CODES.has(c) || c.startsWith('ERR_TLS_') || c.startsWith('ERR_SSL_'));
    if (tls) {
      return mk('TLS_ERROR',
        `${where}: TLS verification of ${this.opts.baseUrl} failed (${tls}). ` +
        `Set the vCenter's CA certificate file (caFile) for this vCenter in the configuration; disabling verification (insecure) is not recommended.`,
        false);
    }
    if (aborted || codes.some((c) => TIMEOUT_CODES.has(c))) {
      return mk('UPSTREAM_TIMEOUT', `${where}: no complete answer within ${timeoutMs} ms`, true);
    }
    const unavailable = codes.find((c) => UNAVAILABLE_CODES.has(c));
    if (unavailable) {
      return mk('VCENTER_UNAVAILABLE', `${where}: cannot reach ${this.opts.baseUrl} (${unavailable})`, !PERMANENT_UNAVAILABLE.has(unavailable));
    }
    const msg = err instanceof Error ? err.message : String(err);
    return mk('VCENTER_UNAVAILABLE', `${where}: request failed: ${msg}`, false);
  }

  /** Closes the pool; forcibly destroys it when in-flight requests outlast `boundMs`. */
  async close(boundMs = this.opts.timeoutMs): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.breaker.stop();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), boundMs); timer.unref(); });
    const result = await Promise.race([this.agent.close().then(() => 'closed' as const), timedOut]);
    if (timer) clearTimeout(timer);
    if (result === 'timeout') await this.agent.destroy().catch(() => {});
  }
}

export function stripQuery(path: string): string {
  const i = path.indexOf('?');
  return i < 0 ? path : path.slice(0, i);
}

export interface RetryPolicy {
  /** Retries after the first attempt (default 2). */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Retry-After values above this are not waited for: the error is returned instead. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, baseDelayMs: 250, maxDelayMs: 4_000, maxRetryAfterMs: 30_000 };

export interface RetryOptions {
  idempotent: boolean;
  /** Whether a timeout may be retried (false for logins: a timed-out login may have created a session). */
  retryTimeouts?: boolean;
  policy: RetryPolicy;
  logger: Logger;
  what: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn` (given the number of retries so far), retrying idempotent calls on retryable UpstreamErrors (503, connection reset,
 * timeout) with capped exponential backoff plus full jitter, honouring Retry-After.
 * Non-idempotent calls are never retried here.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!(err instanceof UpstreamError) || !o.idempotent || !err.retryable || attempt >= o.policy.maxRetries) throw err;
      if (err.code === 'UPSTREAM_TIMEOUT' && o.retryTimeouts === false) throw err;
      const exp = Math.min(o.policy.maxDelayMs, o.policy.baseDelayMs * 2 ** attempt);
      let delay = exp / 2 + Math.random() * (exp / 2);
      if (err.retryAfterMs !== undefined) {
        if (err.retryAfterMs > o.policy.maxRetryAfterMs) throw err;
        delay = Math.max(delay, err.retryAfterMs);
      }
      o.logger.debug('retrying upstream call', { what: o.what, code: err.code, status: err.status, attempt: attempt + 1, delayMs: Math.round(delay) });
      await sleep(delay);
    }
  }
}
