import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../src/graphql/ids.ts';
import { codes, simStatsOverHttp, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

describe('IDs and unknown objects', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 3 } });
  });
  afterAll(() => h?.close());

  it('round-trips every kind of node through node() and nodes()', async () => {
    const res = await h.gql(`{ vcenters { id } clusters(first: 1) { nodes { id name hosts(first: 1) { nodes { id name } } } } }`);
    const vcId = res.data.vcenters[0].id;
    const cluster = res.data.clusters.nodes[0];
    const host = cluster.hosts.nodes[0];
    const back = await h.gql(
      `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Cluster { name } ... on Host { name } } }`,
      { ids: [vcId, cluster.id, host.id] },
    );
    expect(back.errors).toBeUndefined();
    expect(back.data.nodes).toEqual([
      { __typename: 'VCenter', id: vcId },
      { __typename: 'Cluster', id: cluster.id, name: cluster.name },
      { __typename: 'Host', id: host.id, name: host.name },
    ]);
  });

  it.each([
    ['garbage', 'not-a-global-id!'],
    ['base64 of something else', Buffer.from('hello world').toString('base64url')],
    ['unknown type', Buffer.from('v1|Datastore|vc|datastore-1').toString('base64url')],
    ['unknown vCenter', toGlobalId('Cluster', 'no-such-vcenter', 'domain-c8')],
    ['malformed MoID', toGlobalId('Host', 'x', '../../api/session')],
    ['empty', ''],
  ])('node(id) with a bad ID (%s) is BAD_USER_INPUT', async (_label, id) => {
    const res = await h.gql(`query($id: ID!) { node(id: $id) { id } }`, { id });
    expect(res.data?.node ?? null).toBeNull();
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
  });

  it('rejects an ID of the wrong type in a filter', async () => {
    const vc = (await h.gql(`{ vcenters { id } }`)).data.vcenters[0].id;
    const res = await h.gql(`query($ids: [ID!]) { hosts(filter: { clusterIds: $ids }) { totalCount } }`, { ids: [vc] });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.errors![0]!.message).toMatch(/Cluster/);
  });

  it('answers null without an error for a well-formed ID of an object that does not exist (Relay)', async () => {
    const vcName = h.sim.vcenters[0]!.name;
    const gone = [toGlobalId('Cluster', vcName, 'domain-c99999'), toGlobalId('Host', vcName, 'host-99999'), toGlobalId('PatchScan', vcName, 'task-99999')];
    const res = await h.gql(`query($a: ID!, $b: ID!, $c: ID!, $ids: [ID!]!) { a: node(id: $a) { id } b: node(id: $b) { id } c: node(id: $c) { id } nodes(ids: $ids) { id } }`, {
      a: gone[0],
      b: gone[1],
      c: gone[2],
      ids: gone,
    });
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ a: null, b: null, c: null, nodes: [null, null, null] });
  });

  it('keeps the error of node(id) and patchScanCancel when vCenter fails: that is not "does not exist"', async () => {
    const vc = h.sim.vcenters[0]!;
    vc.setFaults([{ route: 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/RetrievePropertiesEx', errorRate: 1, error: 'SystemError' }]);
    try {
      const res = await h.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: toGlobalId('Host', vc.name, 'host-99999') });
      expect(res.data).toEqual({ node: null });
      expect(codes(res)).toEqual(['UPSTREAM_ERROR']);
      // Nor is a cancel that could not read the scan: NOT_FOUND only when the scan does not exist.
      const cancel = await h.gql(`mutation($id: ID!) { patchScanCancel(input: { id: $id }) { scan { id } userErrors { code upstreamFault } } }`, {
        id: toGlobalId('PatchScan', vc.name, 'task-99999'),
      });
      expect(cancel.data.patchScanCancel).toEqual({ scan: null, userErrors: [{ code: 'UPSTREAM_ERROR', upstreamFault: 'SystemError' }] });
    } finally {
      vc.clearFaults();
    }
  });

  it('keeps good items of nodes() when one ID is bad, with the error at that item', async () => {
    const vc = (await h.gql(`{ vcenters { id } }`)).data.vcenters[0].id;
    const res = await h.gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [vc, 'nope'] });
    expect(res.data.nodes).toEqual([{ id: vc }, null]);
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.path).toEqual(['nodes', 1]);
    expect(res.errors![0]!.extensions!['code']).toBe('BAD_USER_INPUT');
  });
});

describe('sessions', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 3 } });
  });
  afterAll(() => h?.close());

  it('reuses one session per vCenter per API across requests and renews an expired one once, transparently', async () => {
    const query = `{ clusters { nodes { name hosts { nodes { name product { build } } } installedImages { status } } } }`;
    const first = await h.gql(query);
    expect(first.errors).toBeUndefined();
    await Promise.all([h.gql(query), h.gql(query), h.gql(query)]);
    for (const vc of h.sim.vcenters) expect(vc.stats().logins).toEqual({ rest: 1, vim: 1 });

    for (const vc of h.sim.vcenters) vc.expireSessions();
    const results = await Promise.all([h.gql(query), h.gql(query), h.gql(query), h.gql(query)]);
    for (const r of results) {
      expect(r.errors).toBeUndefined();
      expect(r.data).toEqual(first.data);
    }
    for (const vc of h.sim.vcenters) expect(vc.stats().logins).toEqual({ rest: 2, vim: 2 });
  });
});

describe('a wrong service-account password', () => {
  it('makes one Login for 20 requests: the refusal is answered from a backoff, so the account is not locked', async () => {
    const h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } }, (sim) =>
      sim.vcenters.map((v) => ({ name: v.name, url: v.url, username: sim.username, password: 'Wrong-Passw0rd!', caPem: sim.caPem })),
    );
    try {
      for (let i = 0; i < 20; i++) {
        const res = await h.gql(`{ clusters { totalCount } }`);
        expect(res.errors?.map((e) => e.extensions?.['code'])).toEqual(['UNAUTHENTICATED']);
      }
      const stats = await simStatsOverHttp(h.sim, h.sim.vcenters[0]!.url);
      expect(stats.requests['POST /api/session']).toBe(1);
      expect(stats.failedLogins.rest).toBe(1);
      expect(stats.requests['GET /api/vcenter/cluster'] ?? 0).toBe(0);
    } finally {
      await h.close();
    }
  });
});

describe('a vCenter with a wrong password', () => {
  let h: Harness;
  const WRONG = 'Wrong-Secret-Passw0rd!';
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 3 } }, (sim) =>
      sim.vcenters.map((v, i) => ({
        name: v.name,
        url: v.url,
        username: sim.username,
        password: i === 0 ? WRONG : sim.password,
        caPem: sim.caPem,
      })),
    );
  });
  afterAll(() => h?.close());

  it('gives a typed UNAUTHENTICATED error while the other vCenter still answers', async () => {
    const res = await h.gql(`{ clusters { totalCount nodes { name vcenter { name } } } vcenters { name clusters { totalCount } } }`);
    const good = h.sim.vcenters[1]!.name;
    const bad = h.sim.vcenters[0]!.name;
    expect(res.data.clusters.totalCount).toBe(2);
    expect(res.data.clusters.nodes.every((c: any) => c.vcenter.name === good)).toBe(true);
    expect(res.data.vcenters.find((v: any) => v.name === good).clusters.totalCount).toBe(2);
    // The vCenter's own entry stays; only what needs its session fails.
    expect(res.data.vcenters.find((v: any) => v.name === bad).clusters).toBeNull();

    const clusterError = res.errors!.find((e) => e.path?.[0] === 'clusters')!;
    expect(clusterError.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vcenter: bad });
    const vcenterError = res.errors!.find((e) => e.path?.[0] === 'vcenters')!;
    expect(vcenterError.path).toEqual(['vcenters', 0, 'clusters']);
    expect(vcenterError.extensions).toMatchObject({ code: 'UNAUTHENTICATED', vcenter: bad });
  });

  it('never shows the password or a session id in responses or logs', async () => {
    const res = await h.gql(`{ clusters { nodes { name } } vcenters { clusters { totalCount } } }`);
    const everything = JSON.stringify(res) + h.logs.join('\n');
    expect(everything).not.toContain(WRONG);
    expect(everything).not.toContain(h.sim.password);
    expect(everything).not.toMatch(/vmware-api-session-id["']?\s*[:=]\s*["']?[0-9a-f]{8}/i);
    expect(everything).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}/);
  });
});
