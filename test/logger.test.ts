/** The logger: pino underneath, the same small interface, and no secret in any line. */
import { describe, expect, it } from 'vitest';
import { REDACTED, createLogger } from '../src/log.ts';
import { newOperation, runInOperation } from '../src/operation-context.ts';
import { startHarness } from './harness.ts';

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

  it('writes a key bound by a child logger once, even when the call site passes it again', () => {
    const lines: string[] = [];
    const vcenterLogger = createLogger({ level: 'info', write: (l) => lines.push(l) }).child({ vcenter: 'vc-1' });
    vcenterLogger.info('REST session created', { vcenter: 'vc-1', user: 'administrator@vsphere.local' });
    vcenterLogger.child({ component: 'inventory-mirror' }).info('state', { vcenter: 'vc-1', component: 'inventory-mirror', state: 'LIVE' });
    expect(lines).toHaveLength(2);
    expect(topLevelKeys(lines[0]!)).toEqual(['level', 'time', 'vcenter', 'user', 'msg']);
    expect(topLevelKeys(lines[1]!)).toEqual(['level', 'time', 'vcenter', 'component', 'state', 'msg']);
  });

  it('no line a running gateway writes has a key twice (sessions, mirror, task watcher, access log)', async () => {
    const h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 1, hostsPerCluster: 2 } }, undefined, { inventoryMirror: {} });
    try {
      const res = await h.gql('{ clusters { nodes { name hosts { nodes { name } } } } }');
      expect(res.errors).toBeUndefined();
    } finally {
      await h.close();
    }
    // Sessions created and closed on both vCenters, each through a logger bound to its vCenter.
    expect(h.logs.filter((l) => l.includes('session created')).length).toBeGreaterThanOrEqual(4);
    for (const line of h.logs) {
      const keys = topLevelKeys(line);
      expect(keys, line).toEqual([...new Set(keys)]);
    }
  });
});

/** The top-level keys of one JSON object line in written order, duplicates kept (JSON.parse would merge them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}
