// Fault injection of the simulator: latency/jitter, error answers, hangs,
// connection resets and the whole vCenter down and up, seeded and replayable.
// Every test is bounded in time and talks to loopback only.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../src/simulator/client.ts';
import { startSimulator } from '../src/simulator/index.ts';
import type { FaultRule, Simulator, SimulatedVCenter } from '../src/simulator/index.ts';

const VIM = '/sdk/vim25/8.0.3.0';
const CONTENT = `${VIM}/ServiceInstance/ServiceInstance/content`;
const CONTENT_ROUTE = 'GET /sdk/vim25/{release}/ServiceInstance/{moId}/content';
type Json = Record<string, any>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sim: Simulator;
let c: SimClient;
let v: SimulatedVCenter;
let rest: string;

beforeAll(async () => {
  sim = await startSimulator({ size: { vcenters: 2, clustersPerDatacenter: 1, hostsPerCluster: 2 } });
  c = new SimClient(sim);
  v = sim.vcenters[0] as SimulatedVCenter;
  rest = await c.restLogin(v);
});

afterAll(async () => {
  await c?.close();
  await sim?.close();
});

/** Each test starts clean. */
function fresh(rules: FaultRule[] = [], seed?: number): void {
  v.setFaults(rules, seed);
  v.resetStats();
}

describe('simulator: fault injection', () => {
  it('adds latency and jitter to the chosen route only, never to /_sim/', async () => {
    fresh([{ route: 'GET /api/vcenter/cluster', latencyMs: 120, jitterMs: 40 }, { route: '*', latencyMs: 0 }]);
    const t = performance.now();
    expect((await c.call(v, 'GET', '/api/vcenter/cluster', { session: rest })).status).toBe(200);
    // A lower bound only: the injected delay is a floor; upper bounds belong in benchmarks.
    expect(performance.now() - t).toBeGreaterThanOrEqual(115);
    await c.call(v, 'GET', '/api/vcenter/host', { session: rest });
    await c.call(v, 'GET', '/_sim/stats');
    // The simulator counts each delay it injects: one, for the chosen route.
    expect(v.stats().faultsInjected).toEqual({ latency: 1 });
    // A bare template matches every method; the latency rule applies to /_sim/ never.
    fresh([{ route: '*', latencyMs: 300 }]);
    await c.call(v, 'GET', '/_sim/stats');
    expect(v.stats().faultsInjected).toEqual({});
    await c.call(v, 'GET', '/api/vcenter/host', { session: rest });
    expect(v.stats().faultsInjected).toEqual({ latency: 1 });
    v.clearFaults();
  });

  it('answers REST 503 SERVICE_UNAVAILABLE with Retry-After at the error rate, replayably for a seed', async () => {
    const rules: FaultRule[] = [{ route: 'GET /api/vcenter/cluster', errorRate: 0.5, error: '503', retryAfterSeconds: 2 }];
    const run = async (): Promise<number[]> => {
      const statuses: number[] = [];
      for (let i = 0; i < 16; i++) statuses.push((await c.call(v, 'GET', '/api/vcenter/cluster', { session: rest })).status);
      return statuses;
    };
    fresh(rules, 42);
    const first = await run();
    expect(first).toContain(503);
    expect(first).toContain(200);
    expect(v.stats().faultsInjected).toEqual({ http503: first.filter((x) => x === 503).length });
    // Unrelated routes draw nothing from the RNG: interleaving them does not change the sequence.
    fresh(rules, 42);
    const again: number[] = [];
    for (let i = 0; i < 16; i++) {
      await c.call(v, 'GET', '/api/vcenter/host', { session: rest });
      again.push((await c.call(v, 'GET', '/api/vcenter/cluster', { session: rest })).status);
    }
    expect(again).toEqual(first);
    fresh(rules, 7);
    expect(await run()).not.toEqual(first);

    fresh([{ route: 'GET /api/vcenter/cluster', errorRate: 1, retryAfterSeconds: 2 }]);
    const r = await c.call(v, 'GET', '/api/vcenter/cluster', { session: rest });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('2');
    expect(r.json).toEqual({
      error_type: 'SERVICE_UNAVAILABLE',
      messages: [{ args: [], default_message: 'The service is unavailable. Try again later.', id: 'com.vmware.vapi.endpoint.service_unavailable' }],
    });
    // Injected requests still count as requests.
    expect(v.stats().requests).toEqual({ 'GET /api/vcenter/cluster': 1 });
    v.clearFaults();
  });

  it('answers REST 500 ERROR, VI/JSON faults and a proxy 503 on VI/JSON routes', async () => {
    fresh([{ route: 'GET /api/vcenter/host', errorRate: 1, error: '500' }]);
    const r500 = await c.call(v, 'GET', '/api/vcenter/host', { session: rest });
    expect(r500.status).toBe(500);
    expect(r500.json).toMatchObject({ error_type: 'ERROR' });

    fresh([{ route: CONTENT_ROUTE, errorRate: 1, error: 'SystemError' }]);
    const sys = await c.call(v, 'GET', CONTENT);
    expect(sys.status).toBe(500);
    expect(sys.json).toEqual({ _typeName: 'SystemError', faultstring: 'A general system error occurred: Injected fault', reason: 'Injected fault' });

    fresh([{ route: CONTENT_ROUTE, errorRate: 1, error: 'NotAuthenticated' }]);
    expect((await c.call(v, 'GET', CONTENT)).json).toMatchObject({ _typeName: 'NotAuthenticated', object: { type: 'ServiceInstance', value: 'ServiceInstance' } });

    fresh([{ route: CONTENT_ROUTE, errorRate: 1, error: '503', retryAfterSeconds: 1 }]);
    const proxy = await c.call(v, 'GET', CONTENT).catch((e: unknown) => e);
    // The body is the proxy's text, not JSON: read it raw.
    expect(proxy).toBeInstanceOf(SyntaxError);
    const raw = await fetchRaw(CONTENT);
    expect(raw.status).toBe(503);
    expect(raw.headers.get('content-type')).toBe('text/plain');
    expect(raw.headers.get('retry-after')).toBe('1');
    expect(raw.text).toContain('upstream connect error');

    fresh([{ route: 'POST /sdk/vim25/{release}/SessionManager/{moId}/Login', errorRate: 1, error: '500' }]);
    expect((await c.call(v, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { userName: sim.username, password: sim.password } })).json).toMatchObject({ _typeName: 'SystemError' });
    expect(v.stats().faultsInjected).toEqual({ http500: 1 });
    v.clearFaults();
  });

  it('hangs until the client gives up, and a hung request ends when the simulator closes', async () => {
    fresh([{ route: 'GET /api/vcenter/cluster', hangRate: 1 }]);
    const t = performance.now();
    const gaveUp = await c.call(v, 'GET', '/api/vcenter/cluster', { session: rest, signal: AbortSignal.timeout(200) }).catch((e: unknown) => e);
    expect(gaveUp).toBeInstanceOf(Error);
    // The hang is endless: ending well within seconds means the client's 200 ms abort ended it.
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(v.stats().faultsInjected).toEqual({ hang: 1 });
    // Other routes still answer.
    expect((await c.call(v, 'GET', '/api/vcenter/host', { session: rest })).status).toBe(200);
    v.clearFaults();

    const own = await startSimulator({ tls: false, size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 }, faults: [{ route: '*', hangRate: 1 }] });
    const c2 = new SimClient(own);
    try {
      const vc = own.vcenters[0] as SimulatedVCenter;
      const pending = c2.call(vc, 'GET', CONTENT).catch((e: unknown) => e);
      await sleep(50);
      const closing = performance.now();
      await own.close();
      expect(performance.now() - closing).toBeLessThan(10_000);
      expect(await pending).toBeInstanceOf(Error);
    } finally {
      await c2.close();
      await own.close();
    }
  });

  it('resets the connection without an answer', async () => {
    fresh([{ route: 'GET /api/vcenter/cluster', resetRate: 1 }]);
    const e = await c.call(v, 'GET', '/api/vcenter/cluster', { session: rest }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(Error);
    expect(v.stats().faultsInjected).toEqual({ reset: 1 });
    v.clearFaults();
    expect((await c.call(v, 'GET', '/api/vcenter/cluster', { session: rest })).status).toBe(200);
    // Over plain HTTP the socket is reset (RST) instead.
    const plain = await startSimulator({ tls: false, size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 }, faults: [{ route: CONTENT_ROUTE, resetRate: 1 }] });
    const c2 = new SimClient(plain);
    try {
      const vc = plain.vcenters[0] as SimulatedVCenter;
      expect(await c2.call(vc, 'GET', CONTENT).catch((err: unknown) => err)).toBeInstanceOf(Error);
      expect(vc.stats().faultsInjected).toEqual({ reset: 1 });
    } finally {
      await c2.close();
      await plain.close();
    }
  });

  it('manages rules over /_sim/faults; invalid rules are refused', async () => {
    fresh();
    const rules = [{ route: 'GET /api/vcenter/cluster', errorRate: 1, error: '500' }];
    expect((await c.call(v, 'POST', '/_sim/faults', { body: { rules, seed: 3 } })).status).toBe(204);
    expect((await c.call(v, 'GET', '/_sim/faults')).json).toEqual({ rules });
    expect((await c.call(v, 'GET', '/api/vcenter/cluster', { session: rest })).status).toBe(500);
    // A bare array works too; '*' never touches /_sim/.
    expect((await c.call(v, 'POST', '/_sim/faults', { body: [{ route: '*', errorRate: 1 }] })).status).toBe(204);
    expect((await c.call(v, 'GET', '/_sim/stats')).status).toBe(200);
    expect((await c.call(v, 'GET', '/api/vcenter/host', { session: rest })).status).toBe(503);
    for (const bad of [{ rules: [{ route: '*', errorRate: 2 }] }, { rules: [{ errorRate: 0.1 }] }, { rules: [{ route: '*', errorRate: 0.6, hangRate: 0.6 }] }, { rules: [{ route: '*', error: 'not a fault' }] }, { rules: [{ route: '*', typo: 1 }] }, { rules: 'x' }]) {
      const r = await c.call(v, 'POST', '/_sim/faults', { body: bad });
      expect(r.status).toBe(400);
      expect((r.json as Json).error).toEqual(expect.any(String));
    }
    expect((await c.call(v, 'DELETE', '/_sim/faults')).status).toBe(204);
    expect((await c.call(v, 'GET', '/_sim/faults')).json).toEqual({ rules: [] });
    expect((await c.call(v, 'GET', '/api/vcenter/host', { session: rest })).status).toBe(200);
  });

  it('takes rules at start, for all vCenters or per vCenter, seeded by the simulator seed', async () => {
    const rules: FaultRule[] = [{ route: 'GET /api/vcenter/cluster', errorRate: 0.5, error: '500' }];
    const sequence = async (): Promise<number[][]> => {
      const s = await startSimulator({ tls: false, seed: 5, size: { vcenters: 2, clustersPerDatacenter: 1, hostsPerCluster: 1 }, faults: rules, perVcenter: [undefined, { faults: [] }] });
      const cc = new SimClient(s);
      try {
        const out: number[][] = [];
        for (const vc of s.vcenters) {
          const id = await cc.restLogin(vc);
          const statuses: number[] = [];
          for (let i = 0; i < 12; i++) statuses.push((await cc.call(vc, 'GET', '/api/vcenter/cluster', { session: id })).status);
          out.push(statuses);
        }
        return out;
      } finally {
        await cc.close();
        await s.close();
      }
    };
    const [a, b] = await sequence();
    expect(a).toContain(500);
    expect(b?.every((x) => x === 200)).toBe(true);
    expect(await sequence()).toEqual([a, b]);
  });

  it('takes the whole vCenter down and back up on the same port', async () => {
    const other = sim.vcenters[1] as SimulatedVCenter;
    const vim = await c.vimLogin(other);
    const port = other.port;
    // A long WaitForUpdatesEx in flight when the vCenter goes down ends too.
    await c.call(other, 'POST', `${VIM}/PropertyCollector/propertyCollector/CreateFilter`, {
      session: vim,
      body: { spec: { propSet: [{ type: 'Folder', pathSet: ['name'] }], objectSet: [{ obj: { type: 'Folder', value: 'group-d1' } }] }, partialUpdates: false },
    });
    const version = ((await c.call(other, 'POST', `${VIM}/PropertyCollector/propertyCollector/WaitForUpdatesEx`, { session: vim, body: { options: { maxWaitSeconds: 0 } } })).json as Json).version;
    const waiting = c.call(other, 'POST', `${VIM}/PropertyCollector/propertyCollector/WaitForUpdatesEx`, { session: vim, body: { version, options: { maxWaitSeconds: 30 } } }).catch((e: unknown) => e);
    await sleep(50);
    other.resetStats();
    await other.down();
    expect(await waiting).toBeInstanceOf(Error);
    const refused = await c.call(other, 'GET', CONTENT).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    await other.up();
    expect(other.port).toBe(port);
    expect((await c.call(other, 'GET', CONTENT)).status).toBe(200);
    // Sessions survive: the vCenter restarted its front end, not its session store.
    expect((await c.call(other, 'GET', `${VIM}/Folder/group-d1/name`, { session: vim })).status).toBe(200);

    // Down over HTTP for a while: back by itself.
    expect((await c.call(other, 'POST', '/_sim/down', { body: { forMs: 250 } })).status).toBe(204);
    await sleep(50);
    expect(await c.call(other, 'GET', CONTENT).catch((e: unknown) => e)).toBeInstanceOf(Error);
    let back = false;
    for (let i = 0; i < 40 && !back; i++) {
      await sleep(25);
      back = await c.call(other, 'GET', CONTENT).then((r) => r.status === 200, () => false);
    }
    expect(back).toBe(true);
    expect(other.stats().faultsInjected).toEqual({ down: 2 });
    expect((await c.call(other, 'POST', '/_sim/down', { body: { forMs: -1 } })).status).toBe(400);
  });

  it('closes cleanly while down with a pending restore', async () => {
    const own = await startSimulator({ tls: false, size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } });
    const c2 = new SimClient(own);
    const vc = own.vcenters[0] as SimulatedVCenter;
    expect((await c2.call(vc, 'POST', '/_sim/down', { body: { forMs: 60_000 } })).status).toBe(204);
    await c2.close();
    const t = performance.now();
    await own.close();
    // The pending restore is a minute away: close() did not wait for it.
    expect(performance.now() - t).toBeLessThan(10_000);
    // up() after close stays down.
    await vc.up();
    const c3 = new SimClient(own);
    expect(await c3.call(vc, 'GET', CONTENT).catch((e: unknown) => e)).toBeInstanceOf(Error);
    await c3.close();
  });
});

/** A raw HTTPS GET trusting the simulator CA (for non-JSON bodies). */
async function fetchRaw(path: string): Promise<{ status: number; headers: Headers; text: string }> {
  const { request } = await import('undici');
  const res = await request(v.url + path, { dispatcher: c.dispatcher });
  const text = await res.body.text();
  const headers = new Headers();
  for (const [k, val] of Object.entries(res.headers)) if (typeof val === 'string') headers.set(k, val);
  return { status: res.statusCode, headers, text };
}
