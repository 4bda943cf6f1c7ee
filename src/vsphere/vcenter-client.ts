/**
 * VCenterClient: the one object the GraphQL layer uses per vCenter. It owns one HTTP transport
 * (undici Agent + concurrency cap) shared by a REST client and a VI/JSON client, each with its
 * own reused session.
 */
import type { RetrieveOptions } from './vim-client.ts';
import { DEFAULT_BREAKER, type BreakerOptions, type BreakerStatus } from './breaker.ts';
import { type Logger, silentLogger } from '../log.ts';
import { DEFAULT_RETRY, HttpTransport, type RetryPolicy, type UpstreamCall } from './http.ts';
import { RestClient, type ClientContext } from './rest-client.ts';
import type {
  ClusterFilter,
  ClusterSummary,
  HostFilter,
  HostSummary,
  InstalledImageInfo,
  SoftwareInfo,
} from './rest-types.ts';
import type { Credential } from './sessions.ts';
import { DEFAULT_USER_SESSION_LIMITS, UserClientPool, type UserSessionLimits } from './user-clients.ts';
import { VimClient, type InvokeOptions } from './vim-client.ts';
import type { AboutInfo, ManagedObjectReference, ObjectContent, PropertyFilterSpec, ServiceContent } from './vim-types.ts';

export interface VCenterEndpoint {
  /** Display name, stable, used in IDs and errors. */
  name: string;
  /** `https://vc.example.com` (no trailing /api). */
  url: string;
  username: string;
  password: string;
  /** Extra trusted CA(s), PEM; verification stays ON (Node's default roots stay trusted too). */
  caPem?: string;
  /** Trust only caPem for this vCenter: the public roots are not trusted. */
  caPin?: boolean;
  /** Explicit opt-in to skip TLS verification; logged as a warning at construction. */
  insecure?: boolean;
  /** Per upstream call (connect + headers + body), default 15000. */
  timeoutMs?: number;
  /** Per-vCenter cap on in-flight upstream requests (logins included), default 16. */
  maxConcurrentRequests?: number;
}

export interface VCenterClientOptions {
  logger?: Logger;
  /** Retry tuning (defaults: 2 retries, 250 ms base, 4 s cap). Mostly for tests. */
  retry?: Partial<RetryPolicy>;
  /** Circuit breaker tuning (defaults: open after 5 outage failures in a row, probe every 2 s). */
  breaker?: Partial<BreakerOptions>;
  /** Bounds on credential-passthrough sessions (forUser). */
  userSessions?: Partial<UserSessionLimits>;
  /** Told of every upstream request this client sends (metrics). */
  onUpstreamCall?: (call: UpstreamCall) => void;
}

/** What a per-user client borrows from its vCenter's service client. */
interface SharedUpstream {
  transport: HttpTransport;
  bootstrap: VimClient;
}

export interface VCenterClientDiagnostics {
  requests: number;
  inFlight: number;
  peakInFlight: number;
  /** Calls waiting for a slot under the per-vCenter cap. */
  queued: number;
  /** Sessions logged in now, per API. */
  sessions: { rest: number; vim: number };
  logins: { rest: number; vim: number };
  vimRelease?: string;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 16;

function normalizeUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`invalid vCenter url: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new TypeError(`vCenter url must be https: ${u.origin}`);
  let path = u.pathname.replace(/\/+$/, '');
  if (path.endsWith('/api')) path = path.slice(0, -4);
  if (path.endsWith('/sdk')) path = path.slice(0, -4);
  return `${u.origin}${path}`;
}

export class VCenterClient {
  readonly name: string;
  readonly url: string;
  private readonly transport: HttpTransport;
  private readonly rest: RestClient;
  private readonly vim: VimClient;
  private readonly logger: Logger;
  private closing: Promise<void> | undefined;
  /** Per-user clients (credential passthrough); only on the service client, created on first use. */
  private users: UserClientPool<VCenterClient> | undefined;
  /** Set on per-user clients: they share the service client's transport and do not close it. */
  private readonly shared: SharedUpstream | undefined;
  /** Calls in flight, so that logging a user out waits for that user's running calls. */
  private active = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly endpoint: VCenterEndpoint,
    private readonly options: VCenterClientOptions = {},
    shared?: SharedUpstream,
  ) {
    this.name = endpoint.name;
    this.url = normalizeUrl(endpoint.url);
    this.shared = shared;
    this.logger = (options.logger ?? silentLogger).child(shared ? { vcenter: endpoint.name, user: endpoint.username } : { vcenter: endpoint.name });
    const timeoutMs = endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxConcurrent = Math.max(1, Math.floor(endpoint.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS));
    const transportOpts: ConstructorParameters<typeof HttpTransport>[0] = {
      name: endpoint.name,
      baseUrl: this.url,
      timeoutMs,
      maxConcurrentRequests: maxConcurrent,
      logger: this.logger,
      breaker: { ...DEFAULT_BREAKER, ...options.breaker },
    };
    if (endpoint.caPem) transportOpts.caPem = endpoint.caPem;
    if (endpoint.caPem && endpoint.caPin) transportOpts.caPin = true;
    if (endpoint.insecure) transportOpts.insecure = true;
    if (options.onUpstreamCall) transportOpts.onUpstreamCall = options.onUpstreamCall;
    this.transport = shared?.transport ?? new HttpTransport(transportOpts);
    const cred: Credential = { url: this.url, username: endpoint.username, password: endpoint.password };
    const ctx: ClientContext = {
      name: endpoint.name,
      logger: this.logger,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      secrets: () => [endpoint.password, ...this.rest.sessionIds(), ...this.vim.sessionIds()],
    };
    this.rest = new RestClient(this.transport, cred, ctx);
    this.vim = new VimClient(this.transport, cred, ctx, shared?.bootstrap);
  }

  /**
   * The client that acts as `user` on this vCenter (credential passthrough): its own REST and
   * VI/JSON sessions, logged in on first use and reused by that user's later requests, over
   * this vCenter's connection pool, concurrency cap and circuit breaker.
   */
  forUser(user: { username: string; password: string }): VCenterClient {
    if (this.shared) {
      // Already this user's client (a context built from another context of the same caller).
      if (user.username === this.endpoint.username && user.password === this.endpoint.password) return this;
      throw new Error('forUser is called on the service client');
    }
    this.users ??= new UserClientPool<VCenterClient>(
      (cred) =>
        new VCenterClient({ ...this.endpoint, username: cred.username, password: cred.password }, this.options, {
          transport: this.transport,
          bootstrap: this.vim,
        }),
      { ...DEFAULT_USER_SESSION_LIMITS, ...this.options.userSessions },
      this.logger,
    );
    return this.users.get({ url: this.url, username: user.username, password: user.password });
  }

  /** Forgets a credential that vCenter refused, so that guessed passwords never push real users' sessions out. */
  dropUser(user: { username: string; password: string }): void {
    this.users?.drop({ url: this.url, username: user.username, password: user.password });
  }

  /** Credentials holding passthrough sessions now, and how many were evicted by the bound. */
  userSessionStats(): { users: number; evictions: number } {
    return { users: this.users?.size ?? 0, evictions: this.users?.evictions ?? 0 };
  }

  /**
   * Makes sure this client's credential is accepted, logging in to the REST API if it has no
   * session yet: how credential passthrough tells a refused password from a working one before
   * any GraphQL work. Rejects with the login's UpstreamError (UNAUTHENTICATED when refused).
   */
  verifyLogin(): Promise<void> {
    return this.track(() => this.rest.ensureSession());
  }

  private async track<T>(call: () => Promise<T>): Promise<T> {
    this.active++;
    try {
      return await call();
    } finally {
      if (--this.active === 0) this.idle?.();
    }
  }

  // ---------- REST ----------

  listClusters(filter?: ClusterFilter): Promise<ClusterSummary[]> {
    return this.track(() => this.rest.listClusters(filter));
  }

  listHosts(filter?: HostFilter): Promise<HostSummary[]> {
    return this.track(() => this.rest.listHosts(filter));
  }

  /** Last extracted installed images of a cluster (8.0.3.0+). 404 → UpstreamError NOT_FOUND. */
  getInstalledImages(clusterMoId: string): Promise<InstalledImageInfo> {
    return this.track(() => this.rest.getInstalledImages(clusterMoId));
  }

  /** Desired software of a single-image cluster. 404 → UpstreamError NOT_FOUND. */
  getDesiredSoftware(clusterMoId: string): Promise<SoftwareInfo> {
    return this.track(() => this.rest.getDesiredSoftware(clusterMoId));
  }

  // ---------- VI/JSON ----------

  serviceContent(): Promise<ServiceContent> {
    return this.vim.serviceContent();
  }

  about(): Promise<AboutInfo> {
    return this.vim.about();
  }

  retrieveProperties(specSet: PropertyFilterSpec[], options?: RetrieveOptions): Promise<ObjectContent[]> {
    return this.track(() => this.vim.retrieveProperties(specSet, options));
  }

  containerView(type: string): Promise<ManagedObjectReference> {
    return this.track(() => this.vim.containerView(type));
  }

  retrieveAll(type: string, pathSet: string[], options?: RetrieveOptions): Promise<ObjectContent[]> {
    return this.track(() => this.vim.retrieveAll(type, pathSet, options));
  }

  invoke<T = unknown>(moType: string, moId: string, method: string, body?: Record<string, unknown>, opts?: InvokeOptions): Promise<T> {
    return this.track(() => this.vim.invoke<T>(moType, moId, method, body, opts));
  }

  getProperty<T = unknown>(moType: string, moId: string, property: string): Promise<T> {
    return this.track(() => this.vim.getProperty<T>(moType, moId, property));
  }

  // ---------- lifecycle / diagnostics ----------

  /** The circuit breaker's view of this vCenter: closed (serving) or open (failing fast, probing). */
  health(): BreakerStatus {
    return this.transport.breaker.status();
  }

  /** Whether the vCenter answers HTTP now (readiness); bypasses the concurrency queue and the breaker. */
  probe(): Promise<boolean> {
    return this.transport.probe();
  }

  /**
   * Increases each time a session of `api` is (re)created. Server-side state bound to a
   * session, such as PropertyCollector filters, must be recreated after it changes.
   */
  sessionGeneration(api: 'rest' | 'vim'): number {
    return api === 'rest' ? this.rest.sessionGeneration() : this.vim.sessionGeneration();
  }

  /** Upstream requests this client made (every attempt, logins included). */
  requestCount(): number {
    return this.transport.requestCount;
  }

  diagnostics(): VCenterClientDiagnostics {
    const d: VCenterClientDiagnostics = {
      requests: this.transport.requestCount,
      inFlight: this.transport.inFlight,
      peakInFlight: this.transport.peakInFlight,
      queued: this.transport.queued,
      sessions: { rest: this.rest.sessionIds().length, vim: this.vim.sessionIds().length },
      logins: { rest: this.rest.loginCount(), vim: this.vim.loginCount() },
    };
    const r = this.vim.apiRelease();
    if (r) d.vimRelease = r;
    return d;
  }

  /** Logs out of both APIs (best effort, bounded by the timeout) and closes the HTTP pool. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.shared) {
      // A user's client: let that user's running calls finish (bounded), then log out; the
      // connection pool is the service client's.
      if (this.active > 0) {
        const settled = new Promise<void>((resolve) => (this.idle = resolve));
        const bound = new Promise<void>((resolve) => setTimeout(resolve, this.endpoint.timeoutMs ?? DEFAULT_TIMEOUT_MS).unref());
        await Promise.race([settled, bound]);
      }
      await Promise.allSettled([this.rest.close(), this.vim.close()]);
      return;
    }
    await this.users?.close();
    await Promise.allSettled([this.rest.close(), this.vim.close()]);
    await this.transport.close();
    this.logger.debug('vCenter client closed');
  }
}
