/**
 * vCenter REST ("Automation API", `/api`) client: session login with HTTP Basic, session reuse
 * via `vmware-api-session-id`, vAPI error bodies mapped to UpstreamError.
 */
import type { Logger } from '../log.ts';
import {
  UpstreamError,
  parseRetryAfter,
  parseVapiError,
  restStatusToCode,
  scrub,
  vapiMessage,
} from './errors.ts';
import { type HttpResponse, type HttpTransport, type RetryPolicy, stripQuery, withRetry } from './http.ts';
import type {
  ClusterFilter,
  ClusterSummary,
  HostFilter,
  HostSummary,
  InstalledImageInfo,
  SoftwareInfo,
} from './rest-types.ts';
import { type Credential, SessionedClient, withSession } from './sessions.ts';

export const SESSION_HEADER = 'vmware-api-session-id';

export interface ClientContext {
  name: string;
  logger: Logger;
  retry: RetryPolicy;
  /** Secrets that must never appear in an error message. */
  secrets: () => Iterable<string | undefined>;
}

type Query = Record<string, string | string[] | boolean | undefined>;

export function buildQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    const values = Array.isArray(v) ? v : [String(v)];
    for (const item of values) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(item)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export class RestClient extends SessionedClient {
  constructor(
    private readonly transport: HttpTransport,
    cred: Credential,
    private readonly ctx: ClientContext,
  ) {
    super(cred, () => new UpstreamError({ code: 'VCENTER_UNAVAILABLE', vcenter: ctx.name, api: 'rest', message: `vCenter "${ctx.name}": client is closed` }));
  }

  /** `GET /api{path}` with the session; decoded JSON. */
  async get<T>(path: string, query?: Query): Promise<T> {
    const full = `/api${path}${buildQuery(query)}`;
    return withSession(
      this.slot(),
      (sid) =>
        withRetry(
          async (attempt) => {
            const res = await this.transport.send({ api: 'rest', method: 'GET', path: full, headers: { [SESSION_HEADER]: sid }, attempt });
            if (res.status >= 200 && res.status < 300) return res.body as T;
            throw this.toError(res, 'GET', full);
          },
          { idempotent: true, policy: this.ctx.retry, logger: this.ctx.logger, what: `REST GET ${stripQuery(full)}` },
        ),
      (err) => err instanceof UpstreamError && err.status === 401,
    );
  }

  /** Logs in unless a session exists; rejects with the login's error. */
  async ensureSession(): Promise<void> {
    await this.slot().get();
  }

  listClusters(filter: ClusterFilter = {}): Promise<ClusterSummary[]> {
    return this.get<ClusterSummary[]>('/vcenter/cluster', {
      clusters: filter.clusters,
      names: filter.names,
      folders: filter.folders,
      datacenters: filter.datacenters,
    }).then((r) => r ?? []);
  }

  listHosts(filter: HostFilter = {}): Promise<HostSummary[]> {
    return this.get<HostSummary[]>('/vcenter/host', {
      hosts: filter.hosts,
      names: filter.names,
      folders: filter.folders,
      datacenters: filter.datacenters,
      clusters: filter.clusters,
      standalone: filter.standalone,
      connection_states: filter.connectionStates,
    }).then((r) => r ?? []);
  }

  getInstalledImages(clusterMoId: string): Promise<InstalledImageInfo> {
    return this.get<InstalledImageInfo>(`/esx/settings/clusters/${encodeURIComponent(clusterMoId)}/installed-images`);
  }

  getDesiredSoftware(clusterMoId: string): Promise<SoftwareInfo> {
    return this.get<SoftwareInfo>(`/esx/settings/clusters/${encodeURIComponent(clusterMoId)}/software`);
  }

  /** `POST /api/session` with HTTP Basic → 201 and the session id as a JSON string. */
  protected async login(): Promise<string> {
    const auth = 'Basic ' + Buffer.from(`${this.cred.username}:${this.cred.password}`, 'utf8').toString('base64');
    const res = await withRetry(
      async (attempt) => {
        const r = await this.transport.send({ api: 'rest', method: 'POST', path: '/api/session', headers: { authorization: auth }, attempt });
        if (r.status >= 200 && r.status < 300) return r;
        throw this.toError(r, 'POST', '/api/session', `login as "${this.cred.username}"`);
      },
      { idempotent: true, retryTimeouts: false, policy: this.ctx.retry, logger: this.ctx.logger, what: 'REST login' },
    );
    const id = res.body;
    if (typeof id !== 'string' || id.length === 0) {
      throw new UpstreamError({
        code: 'UPSTREAM_ERROR', vcenter: this.ctx.name, api: 'rest', status: res.status,
        message: `vCenter "${this.ctx.name}" REST login answered ${res.status} without a session id`,
      });
    }
    this.ctx.logger.info('REST session created', { vcenter: this.ctx.name, user: this.cred.username });
    return id;
  }

  /** `DELETE /api/session` (best effort, never retried). */
  protected async logout(sessionId: string): Promise<void> {
    try {
      const r = await this.transport.send({ api: 'rest', method: 'DELETE', path: '/api/session', headers: { [SESSION_HEADER]: sessionId } });
      this.ctx.logger.info('REST session closed', { vcenter: this.ctx.name, status: r.status });
    } catch (err) {
      this.ctx.logger.warn('REST logout failed', { vcenter: this.ctx.name, error: err instanceof UpstreamError ? err.toJSON() : String(err) });
    }
  }

  private toError(res: HttpResponse, method: string, path: string, action?: string): UpstreamError {
    const vapi = parseVapiError(res.body);
    const { code, retryable } = restStatusToCode(res.status);
    const detailText = vapiMessage(vapi) ?? (res.text && !vapi ? res.text.slice(0, 200) : undefined);
    const type = vapi?.error_type ?? undefined;
    const head = `vCenter "${this.ctx.name}" REST ${action ?? `${method} ${stripQuery(path)}`} failed: HTTP ${res.status}${type ? ` ${type}` : ''}`;
    const message = scrub(detailText ? `${head}: ${detailText}` : head, this.ctx.secrets());
    const init: ConstructorParameters<typeof UpstreamError>[0] = {
      code, retryable, vcenter: this.ctx.name, api: 'rest', status: res.status, message, detail: vapi,
    };
    if (type) init.fault = type;
    const ra = parseRetryAfter(res.headers['retry-after']);
    if (ra !== undefined) init.retryAfterMs = ra;
    return new UpstreamError(init);
  }
}
