/**
 * Session management shared by the REST and VI/JSON clients.
 *
 * - One session per (vCenter, API, credential), reused by every request.
 * - Single-flight login: concurrent requests needing a session share one in-flight login.
 * - Single-flight renewal: when the server says a session expired, every request that saw that
 *   same session shares one re-login, then each retries its call once (a second failure is returned).
 * - A failed login (wrong password) is returned to its callers and not cached or retried in a loop.
 * - State is keyed by credential (url + username + SHA-256 of the password, never the password
 *   itself), so per-user credential passthrough can reuse this without a redesign.
 */
import { createHash } from 'node:crypto';

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
  /** Logins performed (successful or not), for diagnostics. */
  logins = 0;
  /**
   * Counts successful logins. Server-side state tied to a session (property filters,
   * views, collector versions) is gone once this changes.
   */
  generation = 0;

  constructor(private readonly hooks: SessionHooks) {}

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
    this.logins++;
    const p = this.hooks.login().then(
      (id) => {
        if (this.inflight === p) this.inflight = undefined;
        this.sessionId = id;
        this.generation++;
        return id;
      },
      (err: unknown) => {
        if (this.inflight === p) this.inflight = undefined;
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

  slot(cred: Credential, hooks: () => SessionHooks): SessionSlot {
    const key = credentialKey(cred);
    let s = this.slots.get(key);
    if (!s) {
      s = new SessionSlot(hooks());
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
