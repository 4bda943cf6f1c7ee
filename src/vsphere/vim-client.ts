/**
 * vim25 VI/JSON API (`/sdk/vim25/{release}`) client.
 *
 * Bootstrap: `GET /sdk/vim25/8.0.1.0/ServiceInstance/ServiceInstance/content` (8.0.1.0 is the first
 * release with the VI/JSON API; later vCenters accept it). `about.apiVersion` of that answer is the
 * release used for every later call. A 404 there means a vCenter without the VI/JSON API.
 */
import {
  UpstreamError,
  faultMessage,
  faultToCode,
  parseRetryAfter,
  restStatusToCode,
  scrub,
} from './errors.ts';
import { type HttpResponse, type HttpTransport, withRetry } from './http.ts';
import { currentCallScope, detached } from './call-scope.ts';
import type { ClientContext } from './rest-client.ts';
import { SESSION_HEADER } from './rest-client.ts';
import { type Credential, SessionedClient, withSession } from './sessions.ts';
import { decodeVim, encodeFilterSpec, encodeVim, moRef } from './vim-codec.ts';
import type {
  AboutInfo,
  ManagedObjectReference,
  MethodFault,
  ObjectContent,
  PropertyFilterSpec,
  RetrieveResult,
  ServiceContent,
} from './vim-types.ts';

/** First release with the VI/JSON API; accepted by every later vCenter. */
export const BOOTSTRAP_RELEASE = '8.0.1.0';

const RELEASE_RE = /^\d{1,2}\.\d{1,2}\.\d{1,2}\.\d{1,4}$/;

/**
 * The releases the VI/JSON spec lists (its `release` server variable), from the first with
 * the VI/JSON API on, oldest first. A vCenter serves every listed release up to its own.
 */
export const KNOWN_RELEASES = ['8.0.1.0', '8.0.2.0', '8.0.3.0', '8.0.3.1', '9.0.0.0', '9.1.0.0', '9.1.1.0'] as const;

function compareReleases(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The release to speak with a vCenter reporting `apiVersion`: the highest listed release not
 * above it (8.0.3.2 → 8.0.3.1), since an unlisted patch release has no URL of its own.
 */
export function negotiateRelease(apiVersion: string): string {
  let chosen: string = BOOTSTRAP_RELEASE;
  for (const r of KNOWN_RELEASES) if (compareReleases(r, apiVersion) <= 0) chosen = r;
  return chosen;
}

/**
 * Bounds on one paged read. A read of N named objects needs about N ÷ page size pages; a
 * read through a traversal (container view) is bounded by the vSphere maxima of objects per
 * vCenter. Past the bound, or past the absolute cap, a vCenter that keeps answering tokens is
 * not finishing: the read stops with UPSTREAM_ERROR instead of calling for ever.
 */
export const PAGE_MARGIN = 3;
export const MAX_PAGES_PER_READ = 1_000;
export const TRAVERSAL_OBJECT_BOUND = 50_000;
/** vCenter's page size when the caller sets no maxObjects. */
const DEFAULT_PAGE_SIZE = 100;

export interface RetrieveOptions {
  /** Objects per page (RetrieveOptions.maxObjects). */
  maxObjects?: number;
  /** Aborted when the operation that needs the read has ended: no further page is fetched. */
  signal?: AbortSignal;
}

export function pageLimit(specSet: readonly PropertyFilterSpec[], maxObjects: number | undefined): number {
  const traverses = specSet.some((s) => s.objectSet.some((o) => (o.selectSet?.length ?? 0) > 0));
  const objects = traverses ? TRAVERSAL_OBJECT_BOUND : specSet.reduce((n, s) => n + s.objectSet.length, 0);
  return Math.min(Math.ceil(objects / Math.max(1, maxObjects ?? DEFAULT_PAGE_SIZE)) + PAGE_MARGIN, MAX_PAGES_PER_READ);
}

export interface InvokeOptions {
  /** May the call be retried on 503 / reset / timeout? Default false (never blindly retried). */
  idempotent?: boolean;
  /** Overrides the endpoint's timeout for this call, e.g. a WaitForUpdatesEx long poll. */
  timeoutMs?: number;
  /** Goes ahead of queued calls when the vCenter's concurrency cap is reached. */
  urgent?: boolean;
  /**
   * The body only means something in the session it was built for (WaitForUpdatesEx's
   * version): after a renewal the call is not replayed; the caller gets the expiry error and
   * rebuilds its session state first.
   */
  sessionBound?: boolean;
}

interface CallResult<T> {
  value: T;
  /** The session the successful attempt used. */
  sid: string;
}

interface ViewEntry {
  sid: string | undefined;
  view: Promise<ManagedObjectReference>;
}

/**
 * The spec's request type of a method: `{method}RequestType`, where vim25 drops the `_Task`
 * suffix (ScanHostPatchV2_Task → ScanHostPatchV2RequestType).
 */
export function requestTypeName(method: string): string {
  return `${method.replace(/_Task$/, '')}RequestType`;
}

export class VimClient extends SessionedClient {
  private content: Promise<ServiceContent> | undefined;
  private release: string | undefined;
  private readonly views = new Map<string, ViewEntry>();

  /**
   * @param bootstrap a client of the same vCenter whose ServiceContent and release this one
   *   reuses (per-user clients share the service account's: they are the same for everyone).
   */
  constructor(
    private readonly transport: HttpTransport,
    cred: Credential,
    private readonly ctx: ClientContext,
    private readonly bootstrap?: VimClient,
  ) {
    super(cred, () => new UpstreamError({ code: 'VCENTER_UNAVAILABLE', vcenter: ctx.name, api: 'vim', message: `vCenter "${ctx.name}": client is closed` }));
  }

  /** The release discovered from `about.apiVersion` (undefined before the first call). */
  apiRelease(): string | undefined {
    return this.bootstrap ? this.bootstrap.apiRelease() : this.release;
  }

  // ---------- bootstrap ----------

  /** ServiceContent, fetched once (single-flight, no session needed); a failure is not cached. */
  serviceContent(): Promise<ServiceContent> {
    if (this.bootstrap) return this.bootstrap.serviceContent();
    if (!this.content) {
      const p = detached(() => this.fetchServiceContent());
      this.content = p;
      p.catch(() => {
        if (this.content === p) this.content = undefined;
      });
    }
    return this.content;
  }

  async about(): Promise<AboutInfo> {
    return (await this.serviceContent()).about;
  }

  private async fetchServiceContent(): Promise<ServiceContent> {
    const path = `/sdk/vim25/${BOOTSTRAP_RELEASE}/ServiceInstance/ServiceInstance/content`;
    const res = await withRetry(
      async (attempt) => {
        const r = await this.transport.send({ api: 'vim', method: 'GET', path, attempt });
        if (r.status === 200) return r;
        if (r.status === 404) {
          throw new UpstreamError({
            code: 'VIM_API_UNAVAILABLE', vcenter: this.ctx.name, api: 'vim', status: 404,
            message:
              `vCenter "${this.ctx.name}" has no VI/JSON API (GET ${path} answered 404): ` +
              `vCenter Server 8.0 Update 1 (API release ${BOOTSTRAP_RELEASE}) or later is required`,
          });
        }
        throw this.toError(r, 'GET', path);
      },
      { idempotent: true, policy: this.ctx.retry, logger: this.ctx.logger, what: 'VI/JSON ServiceInstance content' },
    );
    const content = decodeVim(res.body) as ServiceContent | undefined;
    if (!content || typeof content !== 'object' || !content.about || !content.propertyCollector || !content.rootFolder) {
      throw new UpstreamError({
        code: 'UPSTREAM_ERROR', vcenter: this.ctx.name, api: 'vim', status: res.status,
        message: `vCenter "${this.ctx.name}" VI/JSON ServiceContent is malformed (missing about/propertyCollector/rootFolder)`,
      });
    }
    const v = content.about.apiVersion;
    if (typeof v === 'string' && RELEASE_RE.test(v)) {
      this.release = negotiateRelease(v);
      if (this.release !== v) this.ctx.logger.info('about.apiVersion is not a listed release; using the highest listed one below it', { vcenter: this.ctx.name, apiVersion: v, release: this.release });
    } else {
      this.ctx.logger.warn('unexpected about.apiVersion; using the bootstrap release', { vcenter: this.ctx.name, apiVersion: v });
      this.release = BOOTSTRAP_RELEASE;
    }
    this.ctx.logger.info('VI/JSON API discovered', { vcenter: this.ctx.name, release: this.release, build: content.about.build });
    return content;
  }

  private async base(): Promise<string> {
    await this.serviceContent();
    return `/sdk/vim25/${this.apiRelease() ?? BOOTSTRAP_RELEASE}`;
  }

  // ---------- sessions ----------

  protected async login(): Promise<string> {
    const content = await this.serviceContent();
    const sm = content.sessionManager;
    if (!sm) {
      throw new UpstreamError({
        code: 'UPSTREAM_ERROR', vcenter: this.ctx.name, api: 'vim',
        message: `vCenter "${this.ctx.name}" ServiceContent has no sessionManager`,
      });
    }
    const path = `${await this.base()}/SessionManager/${encodeURIComponent(sm.value)}/Login`;
    const body = encodeVim({ userName: this.cred.username, password: this.cred.password }, 'LoginRequestType');
    const res = await withRetry(
      async (attempt) => {
        const r = await this.transport.send({ api: 'vim', method: 'POST', path, json: body, attempt });
        if (r.status === 200) return r;
        throw this.toError(r, 'POST', path, `login as "${this.cred.username}"`);
      },
      { idempotent: true, retryTimeouts: false, policy: this.ctx.retry, logger: this.ctx.logger, what: 'VI/JSON login' },
    );
    const h = res.headers[SESSION_HEADER];
    const id = Array.isArray(h) ? h[0] : h;
    if (!id) {
      throw new UpstreamError({
        code: 'UPSTREAM_ERROR', vcenter: this.ctx.name, api: 'vim', status: res.status,
        message: `vCenter "${this.ctx.name}" VI/JSON Login answered ${res.status} without a ${SESSION_HEADER} header`,
      });
    }
    this.views.clear();
    this.ctx.logger.info('VI/JSON session created', { vcenter: this.ctx.name, user: this.cred.username });
    return id;
  }

  protected async logout(sessionId: string): Promise<void> {
    try {
      const content = await this.serviceContent();
      if (!content.sessionManager) return;
      const path = `${await this.base()}/SessionManager/${encodeURIComponent(content.sessionManager.value)}/Logout`;
      const r = await this.transport.send({ api: 'vim', method: 'POST', path, headers: { [SESSION_HEADER]: sessionId } });
      this.ctx.logger.info('VI/JSON session closed', { vcenter: this.ctx.name, status: r.status });
    } catch (err) {
      this.ctx.logger.warn('VI/JSON logout failed', { vcenter: this.ctx.name, error: err instanceof UpstreamError ? err.toJSON() : String(err) });
    }
  }

  override async close(): Promise<void> {
    this.views.clear();
    await super.close();
  }

  // ---------- calls ----------

  private static isExpired(err: unknown): boolean {
    return err instanceof UpstreamError && (err.fault === 'NotAuthenticated' || err.status === 401);
  }

  /** One authenticated call with session reuse/renewal and (for idempotent calls) retries. */
  private async call<T>(method: 'GET' | 'POST', rel: string, json: unknown, { idempotent = false, timeoutMs, urgent, sessionBound = false }: InvokeOptions): Promise<CallResult<T>> {
    const path = `${await this.base()}${rel}`;
    return withSession(
      this.slot(),
      (sid) =>
        withRetry(
          async (attempt) => {
            const r = await this.transport.send({ api: 'vim', method, path, json, headers: { [SESSION_HEADER]: sid }, timeoutMs, urgent, attempt });
            if (r.status === 204) return { value: undefined as T, sid };
            if (r.status >= 200 && r.status < 300) return { value: decodeVim(r.body) as T, sid };
            throw this.toError(r, method, path);
          },
          { idempotent, policy: this.ctx.retry, logger: this.ctx.logger, what: `VI/JSON ${method} ${rel}` },
        ),
      VimClient.isExpired,
      !sessionBound,
    );
  }

  /** `POST /{moType}/{moId}/{method}`; body gets `_typeName` of the method's request type (see requestTypeName). 204 → undefined. */
  async invoke<T = unknown>(moType: string, moId: string, method: string, body?: Record<string, unknown>, opts: InvokeOptions = {}): Promise<T> {
    const rel = `/${encodeURIComponent(moType)}/${encodeURIComponent(moId)}/${encodeURIComponent(method)}`;
    const json = body === undefined ? undefined : encodeVim(body, requestTypeName(method));
    return (await this.call<T>('POST', rel, json, opts)).value;
  }

  /** `GET /{moType}/{moId}/{property}`, decoded. */
  async getProperty<T = unknown>(moType: string, moId: string, property: string): Promise<T> {
    const rel = `/${encodeURIComponent(moType)}/${encodeURIComponent(moId)}/${encodeURIComponent(property)}`;
    return (await this.call<T>('GET', rel, undefined, { idempotent: true })).value;
  }

  /**
   * RetrievePropertiesEx, following `token` with ContinueRetrievePropertiesEx until done.
   * Tokens belong to a session: if the session is renewed mid-way, the retrieval restarts once.
   */
  async retrieveProperties(specSet: PropertyFilterSpec[], options: RetrieveOptions = {}): Promise<ObjectContent[]> {
    const pc = (await this.serviceContent()).propertyCollector;
    const base = `/PropertyCollector/${encodeURIComponent(pc.value)}`;
    const body = {
      _typeName: 'RetrievePropertiesExRequestType',
      specSet: specSet.map(encodeFilterSpec),
      options: encodeVim(options.maxObjects !== undefined ? { maxObjects: options.maxObjects } : {}, 'RetrieveOptions'),
    };
    const limit = pageLimit(specSet, options.maxObjects);
    for (let round = 0; ; round++) {
      const first = await this.call<RetrieveResult | null>('POST', `${base}/RetrievePropertiesEx`, body, { idempotent: true });
      const objects: ObjectContent[] = [...(first.value?.objects ?? [])];
      let token = first.value?.token;
      let sid = first.sid;
      let restart = false;
      let pages = 0;
      // Cancels the retrieval upstream (best effort) so the token's results are freed; detached,
      // since the operation it read for may be over.
      const cancelRetrieval = (pending: string) =>
        void detached(() => this.call('POST', `${base}/CancelRetrievePropertiesEx`, { _typeName: 'CancelRetrievePropertiesExRequestType', token: pending }, {})).catch(() => undefined);
      const operationEnded = () => options.signal?.aborted === true || currentCallScope()?.signal.aborted === true;
      while (token) {
        const cancelled = operationEnded();
        if (cancelled || ++pages > limit) {
          cancelRetrieval(token);
          throw new UpstreamError({
            code: cancelled ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR', vcenter: this.ctx.name, api: 'vim',
            message: cancelled
              ? `vCenter "${this.ctx.name}" VI/JSON RetrievePropertiesEx: the operation ended after ${pages} continuation pages; the read was stopped`
              : `vCenter "${this.ctx.name}" VI/JSON RetrievePropertiesEx: still paging after ${limit} continuation pages (${objects.length} objects so far); the read was stopped`,
          });
        }
        let page: CallResult<RetrieveResult | null>;
        try {
          page = await this.call<RetrieveResult | null>(
            'POST', `${base}/ContinueRetrievePropertiesEx`, { _typeName: 'ContinueRetrievePropertiesExRequestType', token }, { idempotent: true },
          );
        } catch (err) {
          if (operationEnded()) {
            cancelRetrieval(token);
            throw err;
          }
          if (round === 0 && this.slot().current() !== sid) {
            restart = true;
            break;
          }
          throw err;
        }
        if (page.sid !== sid) {
          // replayed on a renewed session: the earlier pages may be inconsistent with it
          if (round === 0) {
            restart = true;
            break;
          }
          sid = page.sid;
        }
        objects.push(...(page.value?.objects ?? []));
        token = page.value?.token;
      }
      if (!restart) return objects;
      this.ctx.logger.info('session renewed during a paged retrieval; restarting it', { vcenter: this.ctx.name });
    }
  }

  /** A recursive ContainerView of `type` under the root folder: one per type per session. */
  async containerView(type: string): Promise<ManagedObjectReference> {
    const content = await this.serviceContent();
    const sid = await this.slot().get();
    const cached = this.views.get(type);
    if (cached && (cached.sid === sid || cached.sid === undefined)) return cached.view;
    const vm = content.viewManager;
    if (!vm) {
      throw new UpstreamError({
        code: 'UPSTREAM_ERROR', vcenter: this.ctx.name, api: 'vim',
        message: `vCenter "${this.ctx.name}" ServiceContent has no viewManager`,
      });
    }
    const entry: ViewEntry = { sid: undefined, view: Promise.resolve(undefined as unknown as ManagedObjectReference) };
    // Cached for every later caller: not tied to this one's scope.
    entry.view = detached(() => this.call<ManagedObjectReference>(
      'POST',
      `/ViewManager/${encodeURIComponent(vm.value)}/CreateContainerView`,
      encodeVim({ container: content.rootFolder, type: [type], recursive: true }, 'CreateContainerViewRequestType'),
      { idempotent: true },
    )).then(
      (r) => {
        entry.sid = r.sid;
        return moRef(r.value.type, r.value.value);
      },
      (err: unknown) => {
        if (this.views.get(type) === entry) this.views.delete(type);
        throw err;
      },
    );
    this.views.set(type, entry);
    return entry.view;
  }

  /** Every object of `type` via its container view, in one RetrievePropertiesEx (+ pages). */
  async retrieveAll(type: string, pathSet: string[], options: RetrieveOptions = {}): Promise<ObjectContent[]> {
    for (let attempt = 0; ; attempt++) {
      const view = await this.containerView(type);
      const viewSid = this.views.get(type)?.sid;
      try {
        return await this.retrieveProperties(
          [
            {
              propSet: [{ type, pathSet }],
              objectSet: [
                {
                  obj: view,
                  skip: true,
                  selectSet: [{ name: 'traverseEntities', type: 'ContainerView', path: 'view', skip: false }],
                },
              ],
            },
          ],
          options,
        );
      } catch (err) {
        // the view belonged to an expired session: recreate it once
        const stale = err instanceof UpstreamError && (err.code === 'NOT_FOUND' || this.slot().current() !== viewSid);
        if (attempt === 0 && stale) {
          this.views.delete(type);
          continue;
        }
        throw err;
      }
    }
  }

  private toError(res: HttpResponse, method: string, path: string, action?: string): UpstreamError {
    const where = `vCenter "${this.ctx.name}" VI/JSON ${action ?? `${method} ${path}`}`;
    const body = res.body;
    const fault =
      body && typeof body === 'object' && typeof (body as MethodFault)._typeName === 'string' ? (decodeVim(body) as MethodFault) : undefined;
    if (fault?._typeName) {
      const name = fault._typeName;
      const text = faultMessage(fault);
      const message = scrub(`${where} failed: ${name}${text ? `: ${text}` : ''}`, this.ctx.secrets());
      const init: ConstructorParameters<typeof UpstreamError>[0] = {
        code: faultToCode(name), vcenter: this.ctx.name, api: 'vim', status: res.status, fault: name, message, detail: fault,
        retryable: res.status === 503,
      };
      const ra = parseRetryAfter(res.headers['retry-after']);
      if (ra !== undefined) init.retryAfterMs = ra;
      return new UpstreamError(init);
    }
    const { code, retryable } = restStatusToCode(res.status);
    const text = res.text ? res.text.slice(0, 200) : '';
    const init: ConstructorParameters<typeof UpstreamError>[0] = {
      code: res.status === 500 ? 'UPSTREAM_ERROR' : code, retryable, vcenter: this.ctx.name, api: 'vim', status: res.status,
      message: scrub(`${where} failed: HTTP ${res.status}${text ? `: ${text}` : ''}`, this.ctx.secrets()),
    };
    const ra = parseRetryAfter(res.headers['retry-after']);
    if (ra !== undefined) init.retryAfterMs = ra;
    return new UpstreamError(init);
  }
}
