import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter, RateLimiter } from '../src/auth/rate-limit.ts';

function fakeClock(start = 1_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('RateLimiter (token bucket)', () => {
  it('allows a burst, then refuses with the exact wait until the next token', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3, maxKeys: 10, now: clock.now });
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterMs: 500 });
    clock.advance(499);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(limiter.take('a')).toEqual({ ok: true });
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterMs: 500 });
  });

  it('refused attempts do not consume tokens', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 10, now: clock.now });
    expect(limiter.take('a').ok).toBe(true);
    for (let i = 0; i < 5; i++) {
      clock.advance(100);
      expect(limiter.take('a').ok).toBe(false);
    }
    clock.advance(500);
    expect(limiter.take('a')).toEqual({ ok: true });
  });

  it('never saves up more than burst tokens', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3, maxKeys: 10, now: clock.now });
    expect(limiter.take('a').ok).toBe(true); // 2 left
    clock.advance(1_400); // would be 4.8 uncapped
    expect([1, 2, 3, 4].map(() => limiter.take('a').ok)).toEqual([true, true, true, false]);
  });

  it('holds each key to burst + rate × time exactly over a long run', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 5, burst: 4, maxKeys: 10, now: clock.now });
    let allowed = 0;
    for (let step = 0; step < 1_000; step++) {
      if (limiter.take('busy').ok) allowed++;
      clock.advance(10); // 100 attempts per second for 10 s
    }
    // 4 at once, then 5 per second for the 9.99 s that followed the first attempt.
    expect(allowed).toBe(4 + 49);
  });

  it('keeps keys independent', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 10, now: clock.now });
    expect(limiter.take('jwt:https://idp#alice').ok).toBe(true);
    expect(limiter.take('jwt:https://idp#alice').ok).toBe(false);
    expect(limiter.take('jwt:https://idp#bob').ok).toBe(true);
  });

  it('tracks at most maxKeys keys; the least recently used one is forgotten first', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 3, now: clock.now });
    for (const key of ['a', 'b', 'c']) expect(limiter.take(key).ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false); // a is now the most recently used
    expect(limiter.take('d').ok).toBe(true); // evicts b, the least recently used
    expect(limiter.size).toBe(3);
    expect(limiter.take('a').ok).toBe(false); // still remembered
    expect(limiter.take('c').ok).toBe(false); // still remembered
    expect(limiter.take('b').ok).toBe(true); // forgotten, so a fresh bucket
    for (let i = 0; i < 10_000; i++) limiter.take(`flood-${i}`);
    expect(limiter.size).toBe(3);
  });

  it('sweeps keys whose bucket has refilled, so memory follows active keys only', () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 5, maxKeys: 1_000, now: clock.now });
    for (let i = 0; i < 500; i++) limiter.take(`client-${i}`);
    expect(limiter.size).toBe(500);
    clock.advance(499); // 1 token short of full: still tracked
    limiter.take('client-0');
    expect(limiter.size).toBe(500);
    clock.advance(1); // everyone but client-0 has refilled completely
    limiter.take('new');
    expect(limiter.size).toBe(2);
  });

  it('refuses nonsensical options', () => {
    expect(() => new RateLimiter({ ratePerSecond: 0, burst: 1, maxKeys: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ ratePerSecond: 1, burst: 0.5, maxKeys: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: Number.NaN })).toThrow(RangeError);
  });
});

describe('ConcurrencyLimiter', () => {
  it('grants max slots per key and one more after a release', () => {
    const limiter = new ConcurrencyLimiter({ max: 2, maxKeys: 10 });
    const first = limiter.acquire('a');
    const second = limiter.acquire('a');
    expect(first).toBeTypeOf('function');
    expect(second).toBeTypeOf('function');
    expect(limiter.acquire('a')).toBeUndefined();
    expect(limiter.count('a')).toBe(2);
    expect(limiter.acquire('b')).toBeTypeOf('function');
    first!();
    expect(limiter.count('a')).toBe(1);
    expect(limiter.acquire('a')).toBeTypeOf('function');
    expect(limiter.count('a')).toBe(2);
  });

  it('release is idempotent: a second call does not free another holder’s slot', () => {
    const limiter = new ConcurrencyLimiter({ max: 2, maxKeys: 10 });
    const first = limiter.acquire('a')!;
    limiter.acquire('a');
    first();
    first();
    first();
    expect(limiter.count('a')).toBe(1);
    expect(limiter.acquire('a')).toBeTypeOf('function');
    expect(limiter.acquire('a')).toBeUndefined();
  });

  it('forgets a key when its last slot is released', () => {
    const limiter = new ConcurrencyLimiter({ max: 3, maxKeys: 10 });
    const releases = [limiter.acquire('a')!, limiter.acquire('a')!, limiter.acquire('b')!];
    expect(limiter.size).toBe(2);
    for (const release of releases) release();
    expect(limiter.size).toBe(0);
    expect(limiter.count('a')).toBe(0);
  });

  it('never evicts a holder: beyond maxKeys a new key is refused until a key lets go', () => {
    const limiter = new ConcurrencyLimiter({ max: 2, maxKeys: 2 });
    const a = limiter.acquire('a')!;
    limiter.acquire('b');
    expect(limiter.acquire('c')).toBeUndefined();
    expect(limiter.acquire('a')).toBeTypeOf('function'); // a known key still gets its own slots
    expect([limiter.count('a'), limiter.count('b'), limiter.count('c')]).toEqual([2, 1, 0]);
    a();
    expect(limiter.count('a')).toBe(1);
    expect(limiter.acquire('c')).toBeUndefined(); // a still holds a slot, so it still counts
  });

  it('admits a new key once an existing key has released everything', () => {
    const limiter = new ConcurrencyLimiter({ max: 1, maxKeys: 1 });
    const a = limiter.acquire('a')!;
    expect(limiter.acquire('c')).toBeUndefined();
    a();
    expect(limiter.acquire('c')).toBeTypeOf('function');
    expect(limiter.count('c')).toBe(1);
  });

  it('refuses nonsensical options', () => {
    expect(() => new ConcurrencyLimiter({ max: 0, maxKeys: 1 })).toThrow(RangeError);
    expect(() => new ConcurrencyLimiter({ max: 1, maxKeys: 1.5 })).toThrow(RangeError);
  });
});
