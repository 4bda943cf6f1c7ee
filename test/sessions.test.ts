/** SessionSlot: one shared login, and a backoff after a refused one. */
import { describe, expect, it } from 'vitest';
import { SessionSlot } from '../src/vsphere/sessions.ts';
import { UpstreamError } from '../src/vsphere/index.ts';

const refusal = () => new UpstreamError({ code: 'UNAUTHENTICATED', vcenter: 'vc', api: 'rest', status: 401, message: 'login refused' });

describe('SessionSlot login backoff', () => {
  it('answers callers from the refusal until the backoff expires, doubling it per refusal, and forgets it after a success', async () => {
    let now = 0;
    let logins = 0;
    let accept = false;
    const slot = new SessionSlot(
      {
        login: async () => {
          logins++;
          if (!accept) throw refusal();
          return 'session-1';
        },
        logout: async () => {},
      },
      { initialMs: 1_000, maxMs: 3_000 },
      () => now,
    );
    await expect(slot.get()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    for (let i = 0; i < 20; i++) await expect(slot.get()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(logins).toBe(1);
    expect(slot.retryLoginAt()).toBe(1_000);

    now = 1_000; // expired: one more try, refused again, now for 2 s
    await expect(slot.get()).rejects.toThrow('login refused');
    expect(logins).toBe(2);
    expect(slot.retryLoginAt()).toBe(3_000);
    now = 2_999;
    await expect(slot.get()).rejects.toThrow('login refused');
    expect(logins).toBe(2);

    now = 3_000; // third refusal: 4 s, capped at 3 s
    await expect(slot.get()).rejects.toThrow('login refused');
    expect(slot.retryLoginAt()).toBe(6_000);

    now = 6_000;
    accept = true;
    await expect(slot.get()).resolves.toBe('session-1');
    expect(slot.retryLoginAt()).toBeUndefined();
    expect(logins).toBe(4);
  });

  it('does not back off after a failure that is no refusal (the vCenter could not be reached)', async () => {
    let logins = 0;
    const slot = new SessionSlot({
      login: async () => {
        logins++;
        throw new UpstreamError({ code: 'VCENTER_UNAVAILABLE', vcenter: 'vc', api: 'rest', message: 'connection refused' });
      },
      logout: async () => {},
    });
    await expect(slot.get()).rejects.toMatchObject({ code: 'VCENTER_UNAVAILABLE' });
    await expect(slot.get()).rejects.toMatchObject({ code: 'VCENTER_UNAVAILABLE' });
    expect(logins).toBe(2);
    expect(slot.retryLoginAt()).toBeUndefined();
  });
});
