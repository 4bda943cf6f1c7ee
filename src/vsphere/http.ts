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
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined for an empty / non-JSON body. */
  body: unknown;
  text: string;
}

/**
 * A counting semaphore with a FIFO queue; urgent waiters go ahead of the others. The task watch
 * loop is urgent: at most one per vCenter, and every scan subscriber waits on it, so it must not
 * queue behind a burst of other calls (its own filter clean-up, a large query).
 */
export class Semaphore {
  private active = 0;
  private peakActive = 0;
  private readonly queue: Array<() => void> = [];
  private readonly urgentQueue: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async acquire(urgent = false): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      this.peakActive = Math.max(this.peakActive, this.active);
      return;
    }
    await new Promise<void>((resolve) => (urgent ? this.urgentQueue : this.queue).push(resolve));
    // the releasing side handed its slot to us: `active` is unchanged
    this.peakActive = Math.max(this.peakActive, this.active);
  }

  release(): void {
    const next = this.urgentQueue.shift() ?? this.queue.shift();
    if (next) next();
    else this.active--;
  }

  get inFlight(): number { return this.active; }
  get peak(): number { return this.peakActive; }
  get waiting(): number { return this.urgentQueue.length + this.queue.length; }
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

  /** The breaker's probe: does the vCenter answer HTTP at all? An unauthenticated GET is enough. */
  private async probe(): Promise<boolean> {
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

  /** One attempt: waits for a concurrency slot, then sends with a whole-call timeout. */
  async send(req: HttpRequest): Promise<HttpResponse> {
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
    await this.sem.acquire(req.urgent);
    try {
      const response = await this.sendNow(req);
      if (OUTAGE_STATUSES.has(response.status)) this.breaker.recordOutage(`HTTP ${response.status} from ${stripQuery(req.path)}`);
      else this.breaker.recordSuccess();
      return response;
    } catch (error) {
      if (error instanceof UpstreamError && (error.code === 'VCENTER_UNAVAILABLE' || error.code === 'UPSTREAM_TIMEOUT')) {
        this.breaker.recordOutage(error.message);
      }
      throw error;
    } finally {
      this.sem.release();
    }
  }

  private async sendNow(req: HttpRequest): Promise<HttpResponse> {
    const timeoutMs = req.timeoutMs ?? this.opts.timeoutMs;
    const signal = AbortSignal.timeout(timeoutMs);
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
      return { status: res.statusCode, headers: res.headers as HttpResponse['headers'], body: parsed, text };
    } catch (err) {
      throw this.mapTransportError(err, req, signal.aborted, timeoutMs);
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
 * Runs `fn`, retrying idempotent calls on retryable UpstreamErrors (503, connection reset,
 * timeout) with capped exponential backoff plus full jitter, honouring Retry-After.
 * Non-idempotent calls are never retried here.
 */
export async function withRetry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
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
