/**
 * Credential passthrough: each caller's own vCenter sessions, kept per credential so that
 * one user's requests reuse that user's sessions and never anybody else's.
 *
 * Bounded: at most `maxUsers` credentials hold sessions per vCenter; the least recently used
 * one is logged out when another arrives, and a credential idle for `idleMs` is logged out
 * too (vCenter limits concurrent sessions, and an idle session is a liability).
 */
import type { Logger } from '../log.ts';
import { credentialKey, type Credential } from './sessions.ts';

export interface UserSessionLimits {
  /** Credentials holding sessions at once, per vCenter (default 1,000). */
  maxUsers: number;
  /** A credential unused this long is logged out (default 15 minutes). */
  idleMs: number;
}

export const DEFAULT_USER_SESSION_LIMITS: UserSessionLimits = { maxUsers: 1_000, idleMs: 15 * 60_000 };

/** What the pool needs of a per-user client. */
export interface UserClient {
  /** Logs out of every API once the calls in flight have settled. */
  close(): Promise<void>;
}

interface Entry<C> {
  client: C;
  lastUsed: number;
}

export class UserClientPool<C extends UserClient> {
  /** Insertion order is recency order: a use moves the entry to the end. */
  private readonly entries = new Map<string, Entry<C>>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  evictions = 0;

  constructor(
    private readonly create: (cred: Credential) => C,
    private readonly limits: UserSessionLimits,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweepIdle(), Math.max(1_000, Math.min(60_000, limits.idleMs / 2)));
    this.sweeper.unref();
  }

  /** The client of this credential: the existing one, or a new one (evicting the least recently used). */
  get(cred: Credential): C {
    if (this.closed) throw new Error('user client pool is closed');
    const key = credentialKey(cred);
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      entry.lastUsed = this.now();
      this.entries.set(key, entry);
      return entry.client;
    }
    const client = this.create(cred);
    this.entries.set(key, { client, lastUsed: this.now() });
    while (this.entries.size > this.limits.maxUsers) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Entry<C>];
      this.entries.delete(oldestKey);
      this.evictions++;
      this.logger.info('passthrough sessions evicted (user limit reached); logging them out', { maxUsers: this.limits.maxUsers });
      void oldest.client.close();
    }
    return client;
  }

  /** Removes a credential's client (logging it out, if it ever logged in). */
  drop(cred: Credential): void {
    const key = credentialKey(cred);
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    void entry.client.close();
  }

  get size(): number {
    return this.entries.size;
  }

  private sweepIdle(): void {
    const cutoff = this.now() - this.limits.idleMs;
    for (const [key, entry] of this.entries) {
      if (entry.lastUsed > cutoff) break; // recency order: the rest are newer
      this.entries.delete(key);
      this.logger.debug('passthrough sessions idle; logging them out', { idleMs: this.limits.idleMs });
      void entry.client.close();
    }
  }

  /** Logs every user out. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const clients = [...this.entries.values()].map((e) => e.client);
    this.entries.clear();
    await Promise.allSettled(clients.map((c) => c.close()));
  }
}
