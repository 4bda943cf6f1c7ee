// Compiled execution (graphql-jit, the default) answers exactly as graphql-js does (jit: false):
// data, error codes, paths and messages, partial results with one vCenter failing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_QUERY } from './queries.ts';
import { codes, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const SIZE = { size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 3 } };
const FAST_CLIENT = { retry: { baseDelayMs: 10, maxDelayMs: 20, maxAttempts: 1 }, breaker: { failureThreshold: 100, probeIntervalMs: 100 } };

describe('execution: graphql-jit by default, graphql-js with jit: false', () => {
  let compiled: Harness;
  let interpreted: Harness;
  beforeAll(async () => {
    [compiled, interpreted] = await Promise.all([
      startHarness(SIZE, undefined, { client: FAST_CLIENT }),
      startHarness(SIZE, undefined, { client: FAST_CLIENT, jit: false }),
    ]);
  });
  afterAll(async () => {
    await compiled?.close();
    await interpreted?.close();
  });

  const executors = (h: Harness) => (h.gateway.yoga.getEnveloped as unknown as { _plugins: { onExecute?: unknown }[] })._plugins.length;

  it('is on by default: one plugin more than with jit: false', () => {
    expect(executors(compiled)).toBe(executors(interpreted) + 1);
  });

  const cases: Array<[string, string, Record<string, unknown>?]> = [
    ['the fleet query', FLEET_QUERY],
    ['a connection page with cursors', `{ hosts(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name } } } }`],
    ['a variable out of range (BAD_USER_INPUT)', `query($n: Int) { hosts(first: $n) { totalCount } }`, { n: 5000 }],
    ['a malformed ID (BAD_USER_INPUT) next to good data', `{ vcenters { name } node(id: "not-an-id") { id } }`],
    ['a variable of the wrong type', `query($n: Int) { hosts(first: $n) { totalCount } }`, { n: 'many' }],
  ];
  for (const [name, query, variables] of cases) {
    it(`answers ${name} identically`, async () => {
      const [a, b] = await Promise.all([compiled.gql(query, variables), interpreted.gql(query, variables)]);
      expect(a).toEqual(b);
      if (name.includes('BAD_USER_INPUT')) expect(codes(a)).toContain('BAD_USER_INPUT');
      else if (!name.includes('wrong type')) expect(a.errors).toBeUndefined();
    });
  }

  it('answers a partial result identically when one vCenter fails', async () => {
    for (const h of [compiled, interpreted]) h.sim.vcenters[1]!.setFaults([{ route: '*', errorRate: 1 }]);
    try {
      const query = `{ clusters { totalCount nodes { name vcenter { name } } } }`;
      const [a, b] = await Promise.all([compiled.gql(query), interpreted.gql(query)]);
      expect(a).toEqual(b);
      expect(a.data.clusters.totalCount).toBe(2);
      expect(a.errors).toHaveLength(1);
    } finally {
      for (const h of [compiled, interpreted]) h.sim.vcenters[1]!.setFaults([]);
    }
  });
});
