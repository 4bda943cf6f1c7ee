// hostsChanged: every subscriber, over SSE and graphql-ws, receives each host change once and
// in order, fed by the inventory mirror without upstream work per subscriber.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toGlobalId } from '../src/graphql/ids.ts';
import type { InventoryChange, SimulatedVCenter } from '../src/simulator/index.ts';
import { sseFollow, wsFollow } from './clients.ts';
import type { LiveSubscription } from './clients.ts';
import { codes, eventually, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const SUBSCRIPTION = /* GraphQL */ `
  subscription Changes($filter: HostFilter) {
    hostsChanged(filter: $filter) {
      kind
      version
      host { moId name connectionState inMaintenanceMode product { build } cluster { moId } }
      changes { field before after }
    }
  }
`;
const WAIT_ROUTE = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx';

describe('hostsChanged subscription', () => {
  let h: Harness;
  let v: SimulatedVCenter;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 3 } }, undefined, {
      inventoryMirror: { maxWaitSeconds: 120 },
    });
    v = h.sim.vcenters[1]!;
    await Promise.all(h.gateway.mirrors!.list().map((m) => m.until((s) => s.state === 'LIVE' && s.feedVersion !== '')));
  });
  afterAll(() => h?.close());

  it('delivers each change once, in order, to every subscriber over SSE and graphql-ws', async () => {
    const mirror = h.gateway.mirrors!.get(v.name)!;
    const [first, second] = v.inventory.clusters;
    const clusterFilter = { filter: { clusterIds: [toGlobalId('Cluster', v.name, first!.moId)] } };
    // Each subscriber its own document: identical ones would share one execution, and a late
    // joiner of a shared execution starts from its latest result, which this test must not race.
    const own = (n: number) => `${SUBSCRIPTION} # subscriber ${n}`;
    const subscribers: Array<{ name: string; sub: LiveSubscription; filtered: boolean }> = [
      { name: 'sse', sub: sseFollow(h.url, own(1), {}), filtered: false },
      { name: 'sse, second', sub: sseFollow(h.url, own(2), {}), filtered: false },
      { name: 'ws', sub: wsFollow(h.url, own(3), {}), filtered: false },
      { name: 'ws, first cluster only', sub: wsFollow(h.url, own(4), clusterFilter), filtered: true },
      { name: 'sse, first cluster only', sub: sseFollow(h.url, own(5), clusterFilter), filtered: true },
    ];
    await eventually(() => mirror.hostChangeListeners(), (n) => n === subscribers.length);
    for (const vc of h.sim.vcenters) vc.resetStats();

    const inFirst = first!.hosts.map((id) => v.inventory.hostById.get(id)!).filter((x) => x.connectionState === 'connected' && !x.inMaintenanceMode);
    const [a, b] = inFirst;
    const other = v.inventory.hostById.get(second!.hosts[0]!)!;
    // Each step and the events it must produce: [kind, host, fields], host "new" for the added one.
    const steps: Array<{ change: () => InventoryChange; expect: Array<[string, string, string[]]>; inFirst: boolean }> = [
      { change: () => ({ action: 'disconnectHost', host: a!.moId }), expect: [['CHANGED', a!.moId, ['CONNECTION_STATE', 'POWER_STATE', 'BUILD']]], inFirst: true },
      { change: () => ({ action: 'reconnectHost', host: a!.moId }), expect: [['CHANGED', a!.moId, ['CONNECTION_STATE', 'POWER_STATE', 'BUILD']]], inFirst: true },
      { change: () => ({ action: 'enterMaintenance', host: b!.moId }), expect: [['CHANGED', b!.moId, ['MAINTENANCE_MODE']]], inFirst: true },
      { change: () => ({ action: 'setHostBuild', host: other.moId, build: '24585383' }), expect: [['CHANGED', other.moId, ['BUILD']]], inFirst: false },
      { change: () => ({ action: 'addHost', cluster: first!.moId, name: 'esx-live.sim.local' }), expect: [['ADDED', 'new', []]], inFirst: true },
      { change: () => ({ action: 'moveHost', host: b!.moId, cluster: second!.moId }), expect: [['CHANGED', b!.moId, ['CLUSTER']]], inFirst: true },
      { change: () => ({ action: 'removeHost', host: b!.moId }), expect: [['REMOVED', b!.moId, []]], inFirst: false },
    ];
    const expected: Array<[string, string, string[], boolean]> = [];
    let added = '';
    for (const step of steps) {
      const before = mirror.status().version;
      const result = v.changeInventory(step.change());
      if (result.host && step.expect[0]![1] === 'new') added = result.host;
      for (const [kind, host, fields] of step.expect) expected.push([kind, host === 'new' ? added : host, fields, step.inFirst]);
      // One change at a time through the mirror, so the expected order is the order made.
      await mirror.until((s) => s.version > before);
    }

    for (const { name, sub, filtered } of subscribers) {
      const want = expected.filter(([, , , first]) => !filtered || first);
      await sub.waitFor(() => sub.events.length >= want.length);
      const got = sub.events.map((e) => {
        expect(e.errors, name).toBeUndefined();
        const c = e.data.hostsChanged;
        return [c.kind, c.host.moId, c.changes.map((x: any) => x.field)];
      });
      expect(got, name).toEqual(want.map(([kind, host, fields]) => [kind, host, fields]));
      // Versions strictly increase: nothing twice, nothing out of order.
      const versions = sub.events.map((e) => e.data.hostsChanged.version);
      expect([...versions].sort((x, y) => x - y), name).toEqual(versions);
      expect(new Set(versions).size, name).toBe(versions.length);
    }

    // What changed, with before and after, and the host as it is now.
    const events = subscribers[0]!.sub.events.map((e) => e.data.hostsChanged);
    expect(events[0].changes).toEqual([
      { field: 'CONNECTION_STATE', before: 'CONNECTED', after: 'DISCONNECTED' },
      { field: 'POWER_STATE', before: 'POWERED_ON', after: 'UNKNOWN' },
      { field: 'BUILD', before: expect.stringMatching(/^\d+$/), after: null },
    ]);
    expect(events[0].host).toMatchObject({ moId: a!.moId, connectionState: 'DISCONNECTED', product: null });
    expect(events[4].host).toMatchObject({ name: 'esx-live.sim.local', connectionState: 'CONNECTED', cluster: { moId: first!.moId } });
    expect(events[5].changes).toEqual([{ field: 'CLUSTER', before: toGlobalId('Cluster', v.name, first!.moId), after: toGlobalId('Cluster', v.name, second!.moId) }]);
    // A removed host as it was last seen.
    expect(events[6].host).toMatchObject({ moId: b!.moId, inMaintenanceMode: true });

    // No upstream work per subscriber: the mirror's own feed calls only, whatever the subscriber count.
    for (const vc of h.sim.vcenters) {
      const routes = Object.keys(vc.stats().requests).filter((r) => r !== WAIT_ROUTE);
      expect(routes, vc.name).toEqual([]);
    }

    await Promise.all(subscribers.map(({ sub }) => sub.leave()));
    await eventually(() => mirror.hostChangeListeners(), (n) => n === 0);
  });

  it('refuses a bad filter with a typed error', async () => {
    const sub = wsFollow(h.url, SUBSCRIPTION, { filter: { clusterIds: ['not-an-id'] } });
    const event = await sub.waitFor((e) => e.errors !== undefined);
    expect(codes(event as never)).toEqual(['BAD_USER_INPUT']);
    await sub.leave();
  });
});
