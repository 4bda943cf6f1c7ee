/** The logger never writes a secret, and client mistakes do not flood the error level. */
import { describe, expect, it } from 'vitest';
import { REDACTED, createLogger, redact, redactUrlQuery } from '../src/log.ts';
import { startHarness } from './harness.ts';

describe('redact()', () => {
  it('replaces every value under a secret-looking key, at any depth, and keeps the rest', () => {
    const input = {
      user: 'administrator@vsphere.local',
      password: 'p1',
      nested: { Authorization: 'Basic YWRtaW46cDE=', 'vmware-api-session-id': 's1', list: [{ token: 't1', keep: 1 }], sessionId: 's2' },
      cookie: 'vmware_soap_session=s3',
      clientSecret: 'c1',
      empty: null,
    };
    expect(redact(input)).toEqual({
      user: 'administrator@vsphere.local',
      password: REDACTED,
      nested: { Authorization: REDACTED, 'vmware-api-session-id': REDACTED, list: [{ token: REDACTED, keep: 1 }], sessionId: REDACTED },
      cookie: REDACTED,
      clientSecret: REDACTED,
      empty: null,
    });
    // The input is not changed: redact copies.
    expect(input.password).toBe('p1');
  });

  it('writes an Error as name, message and stack only, never its other fields', () => {
    const error = Object.assign(new Error('boom'), { config: { password: 'p1' } });
    expect(redact({ error })).toEqual({ error: { name: 'Error', message: 'boom', stack: expect.any(String) } });
  });

  it('redacts the query string and user-info of URLs written to the logs', () => {
    expect(redactUrlQuery('https://u:p@depot.example/a/metadata.zip?X-Amz-Signature=abc#frag')).toBe(
      `https://depot.example/a/metadata.zip?${REDACTED}#${REDACTED}`,
    );
    expect(redactUrlQuery('https://depot.example/metadata.zip')).toBe('https://depot.example/metadata.zip');
    expect(redactUrlQuery('not a url?token=abc')).toBe(REDACTED);
  });
});

describe('the logger', () => {
  it('writes no secret-named field nor Authorization header, however it is nested', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) }).child({ apiKey: 'k1' });
    logger.error('upstream call failed', {
      request: { headers: { authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.secret', accept: 'application/json' } },
      password: 'Passw0rd!',
      depotPassword: 'D3pot!',
    });
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({ level: 'error', msg: 'upstream call failed', request: { headers: { authorization: REDACTED, accept: 'application/json' } } });
    for (const secret of ['eyJhbGciOiJIUzI1NiJ9', 'Passw0rd!', 'D3pot!']) expect(lines[0]).not.toContain(secret);
  });
});

describe('client mistakes in the logs', () => {
  it('one nodes() call with 500 bad IDs writes no error line', async () => {
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } });
    try {
      const before = h.logs.length;
      const ids = Array.from({ length: 500 }, (_, i) => `bad-${i}`);
      const res = await h.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids });
      expect(res.errors).toHaveLength(500);
      const levels = h.logs.slice(before).map((l) => JSON.parse(l).level as string);
      expect(levels.filter((l) => l === 'error')).toHaveLength(0);
      expect(levels.filter((l) => l === 'warn')).toHaveLength(0);
    } finally {
      await h.close();
    }
  });
});
