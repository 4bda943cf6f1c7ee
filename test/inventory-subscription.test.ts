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
      host { id moId name connectionState inMaintenanceMode product { build } cluster { moId } }
      changes { field before after }
    }
  }
`;
const WAIT_ROUTE = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx';

describe('hostsChanged subscription', () => {
  let h: Harness;
  let v: SimulatedVCenter;
  beforeAll(async () => {
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 5 } }, undefined, {
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
    // Each subscriber its own document, so each has its own execution (the next test shares one).
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

  it('shares one execution among identical subscribers: each of 25 (WS and SSE, mixed filters) gets every matching change once, in order, and upstream work does not grow with them', async () => {
    const mirror = h.gateway.mirrors!.get(v.name)!;
    const otherVc = h.sim.vcenters[0]!;
    const otherMirror = h.gateway.mirrors!.get(otherVc.name)!;
    const usable = (vc: SimulatedVCenter, cluster: string) =>
      vc.inventory.clusterById.get(cluster)!.hosts.map((id) => vc.inventory.hostById.get(id)!).filter((x) => x.connectionState === 'connected' && !x.inMaintenanceMode);
    const [first, second] = v.inventory.clusters;
    const [f1, f2, f3] = usable(v, first!.moId);
    const [s1] = usable(v, second!.moId);
    const [o1] = usable(otherVc, otherVc.inventory.clusters[0]!.moId);
    expect([f1, f2, f3, s1, o1].every(Boolean)).toBe(true);
    const filter = { filter: { clusterIds: [toGlobalId('Cluster', v.name, first!.moId)] } };
    const builds = ['24022510', '24280767', '24414501', '24585383'];
    const WAIT = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx';
    type Seen = [vcenter: string, version: number, host: string];
    const key = ([vc, version, host]: Seen) => `${vc}/${String(version).padStart(6, '0')}/${host}`;

    /**
     * One round of changes, each step waited through its mirror; the second step is a burst of
     * three changes made in one tick, which vCenter reports in one update (one mirror version).
     * Returns what every unfiltered and every filtered subscriber must receive, and the upstream
     * requests per vCenter from the first change until the feeds wait again.
     */
    const round = async (r: number): Promise<{ all: Seen[]; filtered: Seen[]; requests: Record<string, Record<string, number>> }> => {
      for (const vc of h.sim.vcenters) vc.resetStats();
      const all: Seen[] = [];
      const filtered: Seen[] = [];
      const step = async (vc: SimulatedVCenter, changes: Array<[InventoryChange, boolean]>) => {
        const m = h.gateway.mirrors!.get(vc.name)!;
        const before = m.status().version;
        for (const [change] of changes) vc.changeInventory(change);
        const { version } = await m.until((st) => st.version > before);
        for (const [change, matches] of changes) {
          const seen: Seen = [vc.name, version, (change as { host: string }).host];
          all.push(seen);
          if (matches) filtered.push(seen);
        }
      };
      await step(v, [[{ action: 'enterMaintenance', host: f1!.moId }, true]]);
      const build = builds.find((b) => b !== f2!.image.release.build)!;
      await step(v, [
        [{ action: 'setHostBuild', host: f2!.moId, build }, true],
        [{ action: 'enterMaintenance', host: f3!.moId }, true],
        [{ action: r === 0 ? 'disconnectHost' : 'reconnectHost', host: s1!.moId }, false],
      ]);
      await step(otherVc, [[{ action: r === 0 ? 'enterMaintenance' : 'exitMaintenance', host: o1!.moId }, false]]);
      await step(v, [[{ action: 'exitMaintenance', host: f1!.moId }, true]]);
      await step(v, [[{ action: 'exitMaintenance', host: f3!.moId }, true]]);
      // Every feed waits again: its last request is in the counts.
      await eventually(() => h.sim.vcenters.map((vc) => vc.stats().waitingCalls), (w) => w.every((n) => n === 1));
      return { all, filtered, requests: Object.fromEntries(h.sim.vcenters.map((vc) => [vc.name, vc.stats().requests])) };
    };
    /** What a subscriber received: [vCenter, version, host], events of one version sorted by host. */
    const received = (sub: LiveSubscription, from: number): Seen[] =>
      sub.events.slice(from).map((e) => {
        expect(e.errors).toBeUndefined();
        const c = e.data.hostsChanged;
        const vc = c.host.id === toGlobalId('Host', v.name, c.host.moId) ? v.name : otherVc.name;
        return [vc, c.version, c.host.moId] as Seen;
      });
    const inOrder = (list: Seen[]) => {
      // Versions of one vCenter never go back; within one version the order is the mirror's.
      for (const vc of [v.name, otherVc.name]) {
        const versions = list.filter((x) => x[0] === vc).map((x) => x[1]);
        expect(versions).toEqual([...versions].sort((a, b) => a - b));
      }
      return [...list].sort((a, b) => key(a).localeCompare(key(b)));
    };

    // Round 0: one subscriber.
    const single = wsFollow(h.url, SUBSCRIPTION, {});
    await eventually(() => mirror.hostChangeListeners(), (n) => n === 1);
    const alone = await round(0);
    await single.waitFor(() => single.events.length >= alone.all.length);
    expect(inOrder(received(single, 0))).toEqual(inOrder(alone.all));
    expect(alone.requests).toEqual({ [otherVc.name]: { [WAIT]: 1 }, [v.name]: { [WAIT]: 4 } });

    // Round 1: 24 more with the same two documents (20 over graphql-ws, 4 over SSE, every
    // other one filtered), joining the execution the first one runs.
    const joiners = Array.from({ length: 24 }, (_, i) => {
      const vars = i % 2 === 1 ? filter : {};
      return { filtered: i % 2 === 1, sub: i < 20 ? wsFollow(h.url, SUBSCRIPTION, vars) : sseFollow(h.url, SUBSCRIPTION, vars) };
    });
    // Joined once each has seen a change of a host no round touches (made until all have).
    // (In the filtered cluster, so every subscriber sees it.)
    const marker = usable(v, first!.moId).find((x) => ![f1, f2, f3].includes(x))!;
    expect(marker).toBeDefined();
    const isMarker = (e: LiveSubscription['events'][number]) => e.data?.hostsChanged?.host.moId === marker.moId;
    /** Toggles the marker's maintenance mode until every one of `subs` has seen one of its events. */
    const markUntilSeen = async (subs: LiveSubscription[]): Promise<number> => {
      let toggles = 0;
      while (!subs.every((sub) => sub.events.some(isMarker))) {
        expect(toggles++).toBeLessThan(20);
        const before = mirror.status().version;
        v.changeInventory({ action: marker.inMaintenanceMode ? 'exitMaintenance' : 'enterMaintenance', host: marker.moId });
        await mirror.until((st) => st.version > before);
        await Promise.allSettled(subs.map((sub) => sub.waitFor(isMarker, 0, 1_000)));
      }
      return toggles;
    };
    const toggles = await markUntilSeen(joiners.map((j) => j.sub));
    // Only the marker's changes came before the round: nothing replayed from before joining.
    for (const { sub } of joiners) expect(sub.events.filter((e) => !isMarker(e))).toEqual([]);
    const starts = joiners.map(({ sub }) => sub.events.length);
    // The first subscriber got every marker change, once.
    await single.waitFor(() => single.events.length >= alone.all.length + toggles);
    const singleStart = single.events.length;
    expect(singleStart - alone.all.length).toBe(toggles);
    await eventually(() => mirror.hostChangeListeners() + otherMirror.hostChangeListeners(), (n) => n === 4); // two documents, two mirrors

    const crowd = await round(1);
    for (const [i, { sub, filtered }] of joiners.entries()) {
      const want = filtered ? crowd.filtered : crowd.all;
      await sub.waitFor(() => sub.events.length - starts[i]! >= want.length);
      expect(inOrder(received(sub, starts[i]!)), `subscriber ${i}${filtered ? ' (filtered)' : ''}`).toEqual(inOrder(want));
    }
    await single.waitFor(() => single.events.length - singleStart >= crowd.all.length);
    expect(inOrder(received(single, singleStart))).toEqual(inOrder(crowd.all));

    // The feeds' own requests only, the same with 25 subscribers as with one.
    expect(crowd.requests).toEqual(alone.requests);

    // One more joins once the shared execution has delivered a round: it gets no event from
    // before it joined (events are not states: nothing is replayed), only the marker's after.
    const operations = h.gateway.load().operations;
    const late = wsFollow(h.url, SUBSCRIPTION, {});
    await eventually(() => h.gateway.load().operations, (n) => n === operations + 1);
    await markUntilSeen([late]);
    expect(late.events.filter((e) => !isMarker(e))).toEqual([]);

    await Promise.all([single, late, ...joiners.map((j) => j.sub)].map((sub) => sub.leave()));
    await eventually(() => mirror.hostChangeListeners() + otherMirror.hostChangeListeners(), (n) => n === 0);
  });

  it('refuses a bad filter with a typed error', async () => {
    const sub = wsFollow(h.url, SUBSCRIPTION, { filter: { clusterIds: ['not-an-id'] } });
    const event = await sub.waitFor((e) => e.errors !== undefined);
    expect(codes(event as never)).toEqual(['BAD_USER_INPUT']);
    await sub.leave();
  });
});
