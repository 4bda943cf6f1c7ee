// Inventory dynamics of the simulator: every /_sim/inventory change shows in the
// change feed of a private PropertyCollector (CreatePropertyCollector) with the
// update kinds vim25 defines, and in the REST lists.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../src/simulator/client.ts';
import { startSimulator } from '../src/simulator/index.ts';
import type { InventoryChange, Simulator, SimulatedVCenter } from '../src/simulator/index.ts';

const VIM = '/sdk/vim25/8.0.3.0';
type Json = Record<string, any>;

let sim: Simulator;
let c: SimClient;
let v: SimulatedVCenter;
let s: string;

beforeAll(async () => {
  sim = await startSimulator({ tls: false, size: { vcenters: 1, clustersPerDatacenter: 3, hostsPerCluster: 4 } });
  c = new SimClient(sim);
  v = sim.vcenters[0]!;
  s = await c.vimLogin(v);
});

afterAll(async () => {
  await c?.close();
  await sim?.close();
});

const HOST_PATHS = ['name', 'parent', 'runtime.connectionState', 'runtime.powerState', 'runtime.inMaintenanceMode', 'config.product'];

async function post(path: string, body?: unknown, session = s): Promise<{ status: number; json: any }> {
  const r = await c.call(v, 'POST', path, { session, ...(body === undefined ? {} : { body }) });
  return { status: r.status, json: r.json };
}

/** A private collector with one filter over a container view of clusters and hosts; its first UpdateSet read. */
async function openFeed(): Promise<{ collector: string; version: string; initial: Json }> {
  const collector = await openFilter();
  const initial = await waitFor(collector, '');
  return { collector, version: initial.version, initial };
}

/** A private collector with one filter over a container view of clusters and hosts (no wait yet). */
async function openFilter(): Promise<string> {
  const collector = (await post(`${VIM}/PropertyCollector/propertyCollector/CreatePropertyCollector`)).json.value as string;
  const view = (await post(`${VIM}/ViewManager/ViewManager/CreateContainerView`, { container: { _typeName: 'ManagedObjectReference', type: 'Folder', value: 'group-d1' }, type: ['ClusterComputeResource', 'HostSystem'], recursive: true })).json;
  const spec = {
    _typeName: 'PropertyFilterSpec',
    propSet: [
      { _typeName: 'PropertySpec', type: 'ClusterComputeResource', pathSet: ['name', 'host'] },
      { _typeName: 'PropertySpec', type: 'HostSystem', pathSet: HOST_PATHS },
    ],
    objectSet: [{ _typeName: 'ObjectSpec', obj: view, skip: true, selectSet: [{ _typeName: 'TraversalSpec', type: 'ContainerView', path: 'view', skip: false }] }],
  };
  const filter = await post(`${VIM}/PropertyCollector/${encodeURIComponent(collector)}/CreateFilter`, { spec, partialUpdates: false });
  expect(filter.status).toBe(200);
  return collector;
}

async function waitFor(collector: string, version: string, maxWaitSeconds = 5): Promise<Json> {
  const r = await post(`${VIM}/PropertyCollector/${encodeURIComponent(collector)}/WaitForUpdatesEx`, { version, options: { maxWaitSeconds } });
  expect(r.status).toBe(200);
  return r.json;
}

/** kind + MoID → changed property names with their op, e.g. "modify host-12": ["runtime.connectionState=assign"]. */
function summarize(set: Json): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const fu of set.filterSet) {
    for (const ou of fu.objectSet) out[`${ou.kind} ${ou.obj.value}`] = (ou.changeSet ?? []).map((ch: Json) => `${ch.name}=${ch.op}`).sort();
  }
  return out;
}

const inventoryChange = (change: InventoryChange | Record<string, unknown>) => c.call(v, 'POST', '/_sim/inventory', { body: change });

describe('simulator: inventory dynamics in the change feed', () => {
  it('reports every object of the view as enter on the first wait', async () => {
    const { initial } = await openFeed();
    const kinds = Object.keys(summarize(initial));
    expect(kinds.filter((k) => k.startsWith('enter host-'))).toHaveLength(v.inventory.hosts.length);
    expect(kinds.filter((k) => k.startsWith('enter domain-c'))).toHaveLength(v.inventory.clusters.length);
  });

  // Each row: the change (built from the live inventory) and the ObjectUpdates it must produce.
  const cases: Array<{ name: string; change: () => InventoryChange; expected: (r: { host?: string; cluster?: string }) => Record<string, string[]> }> = [
    {
      name: 'disconnect: connection and power state assigned, config.product indirectly removed with config',
      change: () => ({ action: 'disconnectHost', host: connectedHost(0) }),
      expected: ({ host }) => ({ [`modify ${host}`]: ['config.product=indirectRemove', 'runtime.connectionState=assign', 'runtime.powerState=assign'] }),
    },
    {
      name: 'reconnect: connection and power state and product assigned',
      change: () => ({ action: 'reconnectHost', host: v.inventory.hosts.find((h) => h.connectionState === 'disconnected')!.moId }),
      expected: ({ host }) => ({ [`modify ${host}`]: ['config.product=assign', 'runtime.connectionState=assign', 'runtime.powerState=assign'] }),
    },
    {
      name: 'enter maintenance',
      change: () => ({ action: 'enterMaintenance', host: connectedHost(1) }),
      expected: ({ host }) => ({ [`modify ${host}`]: ['runtime.inMaintenanceMode=assign'] }),
    },
    {
      name: 'exit maintenance',
      change: () => ({ action: 'exitMaintenance', host: v.inventory.hosts.find((h) => h.inMaintenanceMode)!.moId }),
      expected: ({ host }) => ({ [`modify ${host}`]: ['runtime.inMaintenanceMode=assign'] }),
    },
    {
      name: 'add a host: the host enters, its cluster host list is assigned',
      change: () => ({ action: 'addHost', cluster: v.inventory.clusters[0]!.moId }),
      expected: ({ host, cluster }) => ({ [`enter ${host}`]: HOST_PATHS.map((p) => `${p}=assign`).sort(), [`modify ${cluster}`]: ['host=assign'] }),
    },
    {
      name: 'move a host in maintenance mode: parent assigned, both clusters modified',
      change: () => {
        const host = v.inventory.hosts.find((h) => h.inMaintenanceMode && h.connectionState === 'connected')!;
        const target = v.inventory.clusters.find((cl) => cl.moId !== host.cluster)!;
        from = host.cluster;
        return { action: 'moveHost', host: host.moId, cluster: target.moId };
      },
      expected: ({ host, cluster }) => ({ [`modify ${host}`]: ['parent=assign'], [`modify ${cluster}`]: ['host=assign'], [`modify ${from}`]: ['host=assign'] }),
    },
    {
      name: 'remove a host in maintenance mode: the host leaves',
      change: () => {
        const host = v.inventory.hosts.find((h) => h.inMaintenanceMode && h.connectionState === 'connected')!;
        from = host.cluster;
        return { action: 'removeHost', host: host.moId };
      },
      expected: ({ host }) => ({ [`leave ${host}`]: [], [`modify ${from}`]: ['host=assign'] }),
    },
    {
      name: 'change a build (remediation): config.product assigned',
      change: () => ({ action: 'setHostBuild', host: connectedHost(2), build: '24585383' }),
      expected: ({ host }) => ({ [`modify ${host}`]: ['config.product=assign'] }),
    },
    {
      name: 'rename a cluster: name assigned',
      change: () => ({ action: 'renameCluster', cluster: v.inventory.clusters[1]!.moId, name: 'Cluster-Renamed' }),
      expected: ({ cluster }) => ({ [`modify ${cluster}`]: ['name=assign'] }),
    },
  ];
  let from = '';
  const connectedHost = (i: number) => v.inventory.hosts.filter((h) => h.connectionState === 'connected' && !h.inMaintenanceMode)[i]!.moId;

  for (const row of cases) {
    it(row.name, async () => {
      const feed = await openFeed();
      const sentAt = Date.now();
      const res = await inventoryChange(row.change());
      expect(res.status).toBe(200);
      // The instant it applied the change, which delivery delays are measured from.
      const { appliedAt } = res.json as { appliedAt: number };
      expect(appliedAt).toBeGreaterThanOrEqual(sentAt);
      expect(appliedAt).toBeLessThanOrEqual(Date.now());
      const set = await waitFor(feed.collector, feed.version);
      expect(set.version).not.toBe(feed.version);
      expect(summarize(set)).toEqual(row.expected(res.json as { host?: string; cluster?: string }));
    });
  }

  it('shows changes in the REST lists', async () => {
    const rest = await c.restLogin(v);
    const cluster = v.inventory.clusters[2]!.moId;
    const added = (await inventoryChange({ action: 'addHost', cluster, name: 'esx-new.sim.local' })).json as { host: string };
    const hosts = (await c.call(v, 'GET', `/api/vcenter/host?clusters=${cluster}`, { session: rest })).json as Json[];
    expect(hosts.map((h) => h.name)).toContain('esx-new.sim.local');
    await inventoryChange({ action: 'disconnectHost', host: added.host });
    const after = (await c.call(v, 'GET', `/api/vcenter/host?hosts=${added.host}`, { session: rest })).json as Json[];
    expect(after).toEqual([{ host: added.host, name: 'esx-new.sim.local', connection_state: 'DISCONNECTED' }]);
    await inventoryChange({ action: 'renameCluster', cluster, name: 'Cluster-Rest' });
    const clusters = (await c.call(v, 'GET', `/api/vcenter/cluster?clusters=${cluster}`, { session: rest })).json as Json[];
    expect(clusters[0]).toMatchObject({ cluster, name: 'Cluster-Rest' });
  });

  it('refuses what vCenter refuses, with a status and a reason', async () => {
    const connected = connectedHost(0);
    const refusals: Array<[Record<string, unknown>, number, RegExp]> = [
      [{ action: 'explode' }, 400, /action must be one of/],
      [{ action: 'removeHost', host: 'host-99999' }, 404, /no host/],
      [{ action: 'removeHost', host: connected }, 409, /maintenance mode/],
      [{ action: 'setHostBuild', host: connected, build: '1' }, 400, /unknown ESXi build/],
      [{ action: 'renameCluster', cluster: v.inventory.clusters[0]!.moId, name: '' }, 400, /name/],
    ];
    for (const [body, status, message] of refusals) {
      const r = await inventoryChange(body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect((r.json as { error: string }).error).toMatch(message);
    }
    const notJson = await c.call(v, 'POST', '/_sim/inventory', { body: undefined, headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    for (const body of [{ perSecond: 'fast' }, { perSecond: 0 }, { perSecond: 5000 }, { perSecond: 5, seed: 1.5 }]) {
      expect((await c.call(v, 'POST', '/_sim/churn', { body })).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('simulator: random churn', () => {
  it('changes the inventory at the asked rate until stopped, each change in the feed', async () => {
    const feed = await openFeed();
    expect((await c.call(v, 'POST', '/_sim/churn', { body: { perSecond: 100, seed: 3 } })).status).toBe(204);
    const set = await waitFor(feed.collector, feed.version);
    expect(c.call(v, 'DELETE', '/_sim/churn').then((r) => r.status)).resolves.toBe(204);
    const kinds = Object.keys(summarize(set));
    expect(kinds.length).toBeGreaterThan(0);
    expect(kinds.every((k) => k.startsWith('modify '))).toBe(true);
  });
});

describe('simulator: private property collectors', () => {
  it('keep their own version: waits on the default collector do not invalidate a private one', async () => {
    const feed = await openFeed();
    const cluster = v.inventory.clusters[0]!.moId;
    // A filter on the session's default collector: its reports stay there.
    const own = await post(`${VIM}/PropertyCollector/propertyCollector/CreateFilter`, {
      spec: { propSet: [{ type: 'ClusterComputeResource', pathSet: ['name'] }], objectSet: [{ obj: { _typeName: 'ManagedObjectReference', type: 'ClusterComputeResource', value: cluster } }] },
      partialUpdates: false,
    });
    const initial = await waitFor('propertyCollector', '', 0);
    expect(initial.filterSet.map((f: Json) => f.filter.value)).toEqual([own.json.value]);
    await inventoryChange({ action: 'renameCluster', cluster, name: 'Cluster-Private' });
    const set = await waitFor(feed.collector, feed.version);
    expect(Object.keys(summarize(set))).toEqual([`modify ${cluster}`]);
    expect(set.filterSet.map((f: Json) => f.filter.value)).not.toContain(own.json.value);
    const onDefault = await waitFor('propertyCollector', initial.version);
    expect(onDefault.filterSet.map((f: Json) => f.filter.value)).toEqual([own.json.value]);
    await post(`${VIM}/PropertyFilter/${encodeURIComponent(own.json.value)}/DestroyPropertyFilter`);
    // An old version is InvalidCollectorVersion.
    const stale = await post(`${VIM}/PropertyCollector/${encodeURIComponent(feed.collector)}/WaitForUpdatesEx`, { version: feed.version, options: { maxWaitSeconds: 0 } });
    expect(stale.json).toMatchObject({ _typeName: 'InvalidCollectorVersion' });
  });

  it('belong to their session, and DestroyPropertyCollector ends a wait and removes the filters', async () => {
    const feed = await openFeed();
    const path = `${VIM}/PropertyCollector/${encodeURIComponent(feed.collector)}`;
    const other = await c.vimLogin(v);
    expect((await post(`${path}/WaitForUpdatesEx`, { version: '', options: { maxWaitSeconds: 0 } }, other)).json).toMatchObject({ _typeName: 'ManagedObjectNotFound' });
    const filtersBefore = v.stats().liveFilters;
    const waiting = post(`${path}/WaitForUpdatesEx`, { version: feed.version, options: { maxWaitSeconds: 10 } });
    expect((await post(`${path}/DestroyPropertyCollector`)).status).toBe(204);
    expect((await waiting).json).toMatchObject({ _typeName: 'RequestCanceled' });
    expect(v.stats().liveFilters).toBe(filtersBefore - 1);
    expect((await post(`${path}/WaitForUpdatesEx`, { version: '', options: { maxWaitSeconds: 0 } })).json).toMatchObject({ _typeName: 'ManagedObjectNotFound' });
  });
});

describe('simulator: the initial change calculation', () => {
  const maintenanceOf = (set: Json, host: string): unknown =>
    set.filterSet.flatMap((f: Json) => f.objectSet).find((o: Json) => o.obj.value === host)?.changeSet.find((ch: Json) => ch.name === 'runtime.inMaintenanceMode')?.val._value;

  it('reports a change made between CreateFilter and the first wait', async () => {
    const collector = await openFilter();
    const host = v.inventory.hosts.find((h) => h.connectionState === 'connected' && !h.inMaintenanceMode)!.moId;
    expect((await inventoryChange({ action: 'enterMaintenance', host })).status).toBe(200);
    const initial = await waitFor(collector, '', 0);
    expect(maintenanceOf(initial, host)).toBe(true);
    await inventoryChange({ action: 'exitMaintenance', host });
  });

  it('resumes a truncated calculation as it was computed: every object once, a change between pages follows as modify', async () => {
    const collector = await openFilter();
    const path = `${VIM}/PropertyCollector/${encodeURIComponent(collector)}/WaitForUpdatesEx`;
    const page = async (version: string) => (await post(path, { version, options: { _typeName: 'WaitOptions', maxWaitSeconds: 0, maxObjectUpdates: 5 } })).json as Json;
    const first = await page('');
    expect(first.truncated).toBe(true);
    const entered = first.filterSet.flatMap((f: Json) => f.objectSet).map((o: Json) => o.obj.value as string);
    // A host the first page did not carry changes before the calculation resumes.
    const host = v.inventory.hosts.find((h) => h.connectionState === 'connected' && !h.inMaintenanceMode && !entered.includes(h.moId))!.moId;
    expect((await inventoryChange({ action: 'enterMaintenance', host })).status).toBe(200);
    let set = first;
    let hostMaintenance: unknown;
    for (let i = 0; i < 10 && set.truncated; i++) {
      set = await page(set.version);
      const objects = set.filterSet.flatMap((f: Json) => f.objectSet) as Json[];
      expect(objects.every((o) => o.kind === 'enter')).toBe(true);
      entered.push(...objects.map((o) => o.obj.value as string));
      hostMaintenance ??= maintenanceOf(set, host);
    }
    expect(set.truncated).toBeUndefined();
    expect(entered).toHaveLength(v.inventory.hosts.length + v.inventory.clusters.length);
    expect(new Set(entered).size).toBe(entered.length);
    // As computed when the calculation began; the change comes next.
    expect(hostMaintenance).toBe(false);
    const next = await waitFor(collector, set.version, 0);
    expect(summarize(next)).toEqual({ [`modify ${host}`]: ['runtime.inMaintenanceMode=assign'] });
    await inventoryChange({ action: 'exitMaintenance', host });
  });
});
