/**
 * Session management shared by the REST and VI/JSON clients.
 *
 * - One session per (vCenter, API, credential), reused by every request.
 * - Single-flight login: concurrent requests needing a session share one in-flight login.
 * - Single-flight renewal: when the server says a session expired, every request that saw that
 *   same session shares one re-login, then each retries its call once (a second failure is returned).
 * - A refused login (wrong password) is returned to its callers, and for a while (exponential,
 *   from 5 s up to 5 min) every caller gets that refusal again without a new Login: a wrong
 *   service-account password must not become one Login per client request, which locks
 *   the account on most directories.
 * - State is keyed by credential (url + username + SHA-256 of the password, never the password
 *   itself), so per-user credential passthrough can reuse this without a redesign.
 */
import { createHash } from 'node:crypto';
import { detached } from './call-scope.ts';
import { isUpstreamError } from './errors.ts';

export interface Credential {
  url: string;
  username: string;
  password: string;
}

/** Stable key for a credential; contains no secret (the password is hashed). */
export function credentialKey(c: Credential): string {
  const pw = createHash('sha256').update(c.password, 'utf8').digest('hex');
  return `${c.url}\u0000${c.username}\u0000${pw}`;
}

/** Backoff after a refused login: first wait, and the cap it doubles up to. */
export interface LoginBackoff {
  initialMs: number;
  maxMs: number;
}

/** A credential only changes with the configuration (a restart), so the first wait is already long. */
export const DEFAULT_LOGIN_BACKOFF: LoginBackoff = { initialMs: 5_000, maxMs: 300_000 };

/** The server said no to the credential (not: could not be reached). */
export function isLoginRefusal(error: unknown): boolean {
  return isUpstreamError(error) && error.code === 'UNAUTHENTICATED';
}

export interface SessionHooks {
  /** Logs in and resolves to the session id. */
  login(): Promise<string>;
  /** Ends the session (best effort). */
  logout(sessionId: string): Promise<void>;
  /** The error returned for a login attempted after close(). */
  closedError?(): Error;
}

export class SessionSlot {
  private sessionId: string | undefined;
  private inflight: Promise<string> | undefined;
  private closed = false;
  /** When a refused login may be tried again (ms since the epoch); undefined when not backing off. */
  retryLoginAt(): number | undefined {
    return this.refused && this.now() < this.refused.until ? this.refused.until : undefined;
  }

  /** Logins performed (successful or not), for diagnostics. */
  logins = 0;
  /**
   * Counts successful logins. Server-side state tied to a session (property filters,
   * views, collector versions) is gone once this changes.
   */
  generation = 0;
  /** The last refusal, answered again until `until`; `failures` refusals in a row so far. */
  private refused: { error: unknown; until: number; failures: number } | undefined;

  constructor(
    private readonly hooks: SessionHooks,
    private readonly backoff: LoginBackoff = DEFAULT_LOGIN_BACKOFF,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current session id, if logged in. */
  current(): string | undefined {
    return this.sessionId;
  }

  /** A usable session id: the current one, or a (shared) fresh login. */
  get(): Promise<string> {
    if (this.sessionId !== undefined) return Promise.resolve(this.sessionId);
    return this.login();
  }

  /**
   * Called by a request that was rejected because session `stale` expired. If someone already
   * replaced it, resolves to the new one; otherwise starts (or joins) one re-login.
   */
  renew(stale: string): Promise<string> {
    if (this.sessionId !== undefined && this.sessionId !== stale) return Promise.resolve(this.sessionId);
    if (this.sessionId === stale) this.sessionId = undefined;
    return this.login();
  }

  private login(): Promise<string> {
    if (this.closed) return Promise.reject(this.hooks.closedError?.() ?? new Error('session closed'));
    if (this.inflight) return this.inflight;
    if (this.refused && this.now() < this.refused.until) return Promise.reject(this.refused.error);
    this.logins++;
    // Shared by every waiting caller: one of them leaving must not abort it.
    const p = detached(() => this.hooks.login()).then(
      (id) => {
        if (this.inflight === p) this.inflight = undefined;
        this.refused = undefined;
        this.sessionId = id;
        this.generation++;
        return id;
      },
      (err: unknown) => {
        if (this.inflight === p) this.inflight = undefined;
        if (isLoginRefusal(err)) {
          const failures = (this.refused?.failures ?? 0) + 1;
          const wait = Math.min(this.backoff.initialMs * 2 ** (failures - 1), this.backoff.maxMs);
          this.refused = { error: err, until: this.now() + wait, failures };
        }
        throw err;
      },
    );
    this.inflight = p;
    return p;
  }

  /** Logs out (if logged in) and refuses further logins. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = this.inflight;
    if (pending) await pending.catch(() => undefined);
    const id = this.sessionId;
    this.sessionId = undefined;
    if (id !== undefined) await this.hooks.logout(id);
  }
}

/** Session slots keyed by credential. */
export class SessionStore {
  private readonly slots = new Map<string, SessionSlot>();

  constructor(private readonly backoff: LoginBackoff = DEFAULT_LOGIN_BACKOFF) {}

  slot(cred: Credential, hooks: () => SessionHooks): SessionSlot {
    const key = credentialKey(cred);
    let s = this.slots.get(key);
    if (!s) {
      s = new SessionSlot(hooks(), this.backoff);
      this.slots.set(key, s);
    }
    return s;
  }

  all(): SessionSlot[] {
    return [...this.slots.values()];
  }

  /** Ids of the sessions logged in now (for scrubbing them out of error messages). */
  currentIds(): string[] {
    return this.all().map((s) => s.current()).filter((s): s is string => s !== undefined);
  }

  /** Logins attempted across all slots, for diagnostics. */
  loginCount(): number {
    return this.all().reduce((n, s) => n + s.logins, 0);
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled(this.all().map((s) => s.close()));
  }
}

/**
 * Runs `fn` with a session; when `isExpired(err)` says the session was rejected, renews it once
 * (shared with every other request that saw the same session) and replays `fn` once. Safe for
 * non-idempotent calls: the first attempt was refused before it ran. With `replay` false the
 * session is renewed but the refusal is returned: the call's body belonged to the old session.
 */
export async function withSession<T>(
  slot: SessionSlot,
  fn: (sessionId: string) => Promise<T>,
  isExpired: (err: unknown) => boolean,
  replay = true,
): Promise<T> {
  const sid = await slot.get();
  try {
    return await fn(sid);
  } catch (err) {
    if (!isExpired(err)) throw err;
    const fresh = await slot.renew(sid);
    if (!replay) throw err;
    return await fn(fresh);
  }
}

/**
 * What the REST and VI/JSON clients share: one session slot per credential, logged in and out
 * through the subclass's own protocol, and the diagnostics the gateway reads from it.
 */
export abstract class SessionedClient {
  private readonly sessions = new SessionStore();

  constructor(
    protected readonly cred: Credential,
    private readonly closedError: () => Error,
  ) {}

  /** Logs in with `cred` and resolves to the session id. */
  protected abstract login(): Promise<string>;
  /** Ends a session (best effort, never throws). */
  protected abstract logout(sessionId: string): Promise<void>;

  protected slot(): SessionSlot {
    return this.sessions.slot(this.cred, () => ({
      login: () => this.login(),
      logout: (id) => this.logout(id),
      closedError: this.closedError,
    }));
  }

  /** Ids of the sessions logged in now (for scrubbing them out of error messages). */
  sessionIds(): string[] {
    return this.sessions.currentIds();
  }

  /** Successful logins so far: a change means the session (and server state tied to it) was replaced. */
  sessionGeneration(): number {
    return this.slot().generation;
  }

  loginCount(): number {
    return this.sessions.loginCount();
  }

  /** Logs out and refuses further logins. */
  async close(): Promise<void> {
    await this.sessions.closeAll();
  }
}
