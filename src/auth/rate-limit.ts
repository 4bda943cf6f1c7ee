/**
 * Per-caller limits with bounded memory: a token bucket for request rates and a counter for
 * concurrent things (subscriptions, WebSocket connections). Keys are Caller keys (or client
 * addresses for anonymous callers), so the number of keys is attacker-influenced: both
 * structures hold at most `maxKeys` entries whatever the traffic.
 */

export interface RateLimiterOptions {
  /** Sustained rate per key. */
  ratePerSecond: number;
  /** Requests a key may make at once after being idle (bucket capacity). */
  burst: number;
  /** Most keys tracked at once; beyond it the least recently used key is forgotten. */
  maxKeys: number;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

function requirePositive(name: string, value: number, integer = false): void {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${name} must be a positive ${integer ? 'integer' : 'number'}`);
  }
}

const monotonicNow = (): number => performance.now();

// Refill is fractional; without a tolerance 0.998 + 0.002 tokens can fall short of one.
const EPSILON = 1e-9;

export class RateLimiter {
  private readonly ratePerMs: number;
  private readonly burst: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  /** Map order is least recently used first: every take() moves its key to the end. */
  private readonly buckets = new Map<string, Bucket>();
  /** After this long untouched a bucket is full again, i.e. no different from a missing one. */
  private readonly refillMs: number;

  constructor(options: RateLimiterOptions) {
    requirePositive('ratePerSecond', options.ratePerSecond);
    requirePositive('burst', options.burst, true);
    requirePositive('maxKeys', options.maxKeys, true);
    this.ratePerMs = options.ratePerSecond / 1000;
    this.burst = options.burst;
    this.maxKeys = options.maxKeys;
    this.now = options.now ?? monotonicNow;
    this.refillMs = this.burst / this.ratePerMs;
  }

  take(key: string): TakeResult {
    const now = this.now();
    this.sweepIdle(now);
    const bucket = this.buckets.get(key);
    let tokens = this.burst;
    if (bucket) {
      tokens = Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.updatedAt) * this.ratePerMs);
      this.buckets.delete(key);
    } else if (this.buckets.size >= this.maxKeys) {
      // Only reached when maxKeys keys are all active: the least recently seen one starts over.
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
    if (tokens >= 1 - EPSILON) {
      this.buckets.set(key, { tokens: Math.max(0, tokens - 1), updatedAt: now });
      return { ok: true };
    }
    this.buckets.set(key, { tokens, updatedAt: now });
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil((1 - tokens) / this.ratePerMs - EPSILON)) };
  }

  /** Whether `take(key)` would succeed now, without taking anything (a gate checked before costly work). */
  available(key: string): boolean {
    const bucket = this.buckets.get(key);
    if (!bucket) return true;
    return Math.min(this.burst, bucket.tokens + Math.max(0, this.now() - bucket.updatedAt) * this.ratePerMs) >= 1 - EPSILON;
  }

  /** Keys currently tracked (for metrics and tests). */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled completely; they sit at the front since order is by last use. */
  private sweepIdle(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt < this.refillMs) return;
      this.buckets.delete(key);
    }
  }
}

export interface ConcurrencyLimiterOptions {
  /** Most concurrent holders per key. */
  max: number;
  /** Most distinct keys holding at once; a new key beyond it is refused, never another key evicted. */
  maxKeys: number;
}

export class ConcurrencyLimiter {
  private readonly max: number;
  private readonly maxKeys: number;
  /** Only keys that hold at least one slot: a key is deleted when its last slot is released. */
  private readonly counts = new Map<string, number>();

  constructor(options: ConcurrencyLimiterOptions) {
    requirePositive('max', options.max, true);
    requirePositive('maxKeys', options.maxKeys, true);
    this.max = options.max;
    this.maxKeys = options.maxKeys;
  }

  /**
   * Takes one slot for `key`; returns its release function (safe to call more than once), or
   * undefined when `key` already holds `max` slots or `maxKeys` other keys hold slots.
   */
  acquire(key: string): (() => void) | undefined {
    const count = this.counts.get(key) ?? 0;
    if (count >= this.max) return undefined;
    if (count === 0 && this.counts.size >= this.maxKeys) return undefined;
    this.counts.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const remaining = (this.counts.get(key) ?? 1) - 1;
      if (remaining > 0) this.counts.set(key, remaining);
      else this.counts.delete(key);
    };
  }

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Keys currently holding at least one slot. */
  get size(): number {
    return this.counts.size;
  }
}
