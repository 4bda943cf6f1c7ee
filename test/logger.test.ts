/** The logger: pino underneath, the same small interface, and no secret in any line. */
import { describe, expect, it } from 'vitest';
import { REDACTED, createLogger } from '../src/log.ts';
import { newOperation, runInOperation } from '../src/operation-context.ts';

describe('createLogger', () => {
  it('writes one JSON line per call through the collector, at or above its level, without secrets', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (l) => lines.push(l) });
    logger.debug('dropped');
    logger.child({ vcenter: 'vc-1' }).warn('login failed', { request: { headers: { authorization: 'Basic c2VjcmV0' } }, deep: { a: { b: { password: 'VMware1!' } } } });
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({ level: 'warn', msg: 'login failed', vcenter: 'vc-1' });
    expect(record.request.headers.authorization).toBe(REDACTED);
    expect(record.deep.a.b.password).toBe(REDACTED);
    expect(lines[0]).not.toContain('VMware1!');
    expect(lines[0]).not.toContain('c2VjcmV0');
    expect(typeof record.time).toBe('string');
  });

  it('names the running operation in every line, once, whether or not the logger is bound to it', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (l) => lines.push(l) });
    runInOperation(newOperation('op-7', 'http'), () => {
      logger.debug('from a vSphere client');
      logger.child({ requestId: 'op-7' }).info('from a resolver');
    });
    logger.info('outside');
    const records = lines.map((l) => JSON.parse(l));
    expect(records.map((r) => r.requestId)).toEqual(['op-7', 'op-7', undefined]);
    for (const l of lines.slice(0, 2)) expect(l.match(/"requestId"/g)).toHaveLength(1);
  });
});
