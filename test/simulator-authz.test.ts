// The simulator's users, roles and permissions, over HTTPS on loopback: what
// each default user sees through REST lists, PropertyCollector traversal,
// container views and explicit objectSets; which calls answer 403
// UNAUTHORIZED / NoPermission; who a task's reason names; logins refused;
// sessions per user in /_sim/stats. Fault and reason bodies are checked
// against the official OpenAPI subsets.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../src/simulator/client.ts';
import { DEFAULT_USERS, DEPOT_URLS, READ_ONLY_PRIVILEGES, principalName, startSimulator } from '../src/simulator/index.ts';
import type { SimStats, Simulator, SimulatedVCenter } from '../src/simulator/index.ts';
import { restValidator, viJsonValidator } from './spec-validator.ts';

const VIM = '/sdk/vim25/8.0.3.0';
const PC = `${VIM}/PropertyCollector/propertyCollector`;
type Json = Record<string, any>;

const ADMIN = { name: 'administrator@vsphere.local', password: 'VMware1!' };
const passwordOf = (name: string): string => {
  const u = DEFAULT_USERS.find((d) => d.name === name);
  if (!u) throw new Error(`no default user ${name}`);
  return u.password;
};
const READONLY = { name: 'readonly@vsphere.local', password: passwordOf('readonly@vsphere.local') };
const CLUSTER_READER = { name: 'cluster-reader@vsphere.local', password: passwordOf('cluster-reader@vsphere.local') };
const CLUSTER_ADMIN = { name: 'cluster-admin@vsphere.local', password: passwordOf('cluster-admin@vsphere.local') };
/** A custom role and users to show nearest-permission-wins, non-propagating permissions and custom privileges. */
const LIFECYCLE = { name: 'lifecycle@vsphere.local', password: 'Lifecycle1!' };
const MIXED = { name: 'mixed@vsphere.local', password: 'Mixed1!' };
const DC_ONLY = { name: 'dc-only@vsphere.local', password: 'DcOnly1!' };
type User = { name: string; password: string };

let sim: Simulator;
let client: SimClient;
let vc: SimulatedVCenter;

beforeAll(async () => {
  sim = await startSimulator({
    // Scans outlast the file: tasks stay running, so cancel and recentTask see them without waiting.
    patchScanDurationMs: 120_000,
    roles: [{ name: 'LifecycleViewer', privileges: [...READ_ONLY_PRIVILEGES, 'VcIntegrity.lifecycleSettings.Read'] }],
    users: [
      { ...LIFECYCLE, permissions: [{ entity: 'root', role: 'LifecycleViewer' }] },
      // ReadOnly everywhere, but NoAccess on the third cluster (nearer, so it wins there) and
      // Administrator on the third cluster's first host (nearer still).
      { ...MIXED, permissions: [{ entity: 'root', role: 'ReadOnly' }, { entity: 'cluster:2', role: 'NoAccess' }, { entity: 'host:8', role: 'Administrator' }] },
      // Not propagating: the datacenter itself only, none of its clusters or hosts.
      { ...DC_ONLY, permissions: [{ entity: 'datacenter-3', role: 'ReadOnly', propagate: false }] },
    ],
  });
  client = new SimClient(sim);
  vc = sim.vcenters[0] as SimulatedVCenter;
});

afterAll(async () => {
  await client?.close();
  await sim?.close();
});

const restSessions = new Map<string, string>();
const vimSessions = new Map<string, string>();
async function restSession(v: SimulatedVCenter, u: User): Promise<string> {
  const key = `${v.url} ${u.name}`;
  const s = restSessions.get(key) ?? (await client.restLogin(v, u.name, u.password));
  restSessions.set(key, s);
  return s;
}
async function vimSession(v: SimulatedVCenter, u: User): Promise<string> {
  const key = `${v.url} ${u.name}`;
  const s = vimSessions.get(key) ?? (await client.vimLogin(v, '8.0.3.0', u.name, u.password));
  vimSessions.set(key, s);
  return s;
}

const ids = (list: Json[], field: string): string[] => list.map((x) => x[field] as string).sort();
const hostsOf = (v: SimulatedVCenter, clusterIndexes: number[]): string[] =>
  clusterIndexes.flatMap((i) => v.inventory.clusters[i]?.hosts ?? []).sort();
const clustersAt = (v: SimulatedVCenter, clusterIndexes: number[]): string[] => clusterIndexes.map((i) => v.inventory.clusters[i]?.moId as string).sort();
const moref = (type: string, value: string) => ({ _typeName: 'ManagedObjectReference', type, value });
const patchManagerOf = (host: string): string => `patchManager-${host.slice('host-'.length)}`;

/** RetrievePropertiesEx and every continuation page; the objects of all pages. */
async function retrieveAll(v: SimulatedVCenter, session: string, specSet: unknown[]): Promise<Json[]> {
  const first = await client.call(v, 'POST', `${PC}/RetrievePropertiesEx`, { session, body: { specSet, options: { maxObjects: 5 } } });
  expect(first.status, first.text).toBe(200);
  if (first.json === null) return [];
  const objects: Json[] = [...((first.json as Json).objects as Json[])];
  let token = (first.json as Json).token as string | undefined;
  for (let pages = 0; token && pages < 100; pages++) {
    const next = (await client.call(v, 'POST', `${PC}/ContinueRetrievePropertiesEx`, { session, body: { token } })).json as Json;
    objects.push(...(next.objects as Json[]));
    token = next.token;
  }
  return objects;
}

/** The inventory walk a client does from the root folder: datacenters, host folders, clusters, hosts. */
const INVENTORY_TRAVERSAL = [
  { _typeName: 'TraversalSpec', name: 'folder', type: 'Folder', path: 'childEntity', skip: false, selectSet: [{ name: 'folder' }, { name: 'dc' }, { name: 'cr' }] },
  { _typeName: 'TraversalSpec', name: 'dc', type: 'Datacenter', path: 'hostFolder', skip: false, selectSet: [{ name: 'folder' }] },
  { _typeName: 'TraversalSpec', name: 'cr', type: 'ComputeResource', path: 'host', skip: false },
];
const NAMES = ['HostSystem', 'ClusterComputeResource', 'Datacenter', 'Folder'].map((type) => ({ _typeName: 'PropertySpec', type, pathSet: ['name'] }));

/** What each default user must see on a vCenter: cluster indexes (inventory order), and whether it reads the datacenters and folders. */
function expectedView(v: SimulatedVCenter, u: User): { clusters: number[]; containers: boolean } {
  const all = v.inventory.clusters.map((_, i) => i);
  switch (u.name) {
    case ADMIN.name:
    case READONLY.name:
    case LIFECYCLE.name:
      return { clusters: all, containers: true };
    case CLUSTER_READER.name:
      return { clusters: [0], containers: false };
    case CLUSTER_ADMIN.name:
      return { clusters: [1], containers: false };
    default:
      throw new Error(u.name);
  }
}
const DEFAULT_VIEWERS = [ADMIN, READONLY, CLUSTER_READER, CLUSTER_ADMIN, LIFECYCLE];

describe('simulator authz: what each user sees', () => {
  it('REST cluster and host lists return exactly the clusters and hosts the user may read, on every vCenter', async () => {
    expect(sim.vcenters).toHaveLength(2);
    for (const v of sim.vcenters) {
      expect(v.inventory.clusters).toHaveLength(3);
      for (const u of DEFAULT_VIEWERS) {
        const s = await restSession(v, u);
        const { clusters } = expectedView(v, u);
        const clusterList = await client.call(v, 'GET', '/api/vcenter/cluster', { session: s });
        expect(clusterList.status).toBe(200);
        expect(ids(clusterList.json as Json[], 'cluster'), `${u.name} on ${v.name}`).toEqual(clustersAt(v, clusters));
        const hostList = await client.call(v, 'GET', '/api/vcenter/host', { session: s });
        expect(ids(hostList.json as Json[], 'host'), `${u.name} on ${v.name}`).toEqual(hostsOf(v, clusters));
      }
    }
    // A filter naming a cluster the user may not read matches nothing; GET of that cluster is 403.
    const s = await restSession(vc, CLUSTER_READER);
    const other = vc.inventory.clusters[2]?.moId as string;
    expect((await client.call(vc, 'GET', `/api/vcenter/cluster?clusters=${other}`, { session: s })).json).toEqual([]);
    expect((await client.call(vc, 'GET', `/api/vcenter/host?clusters=${other}`, { session: s })).json).toEqual([]);
    const forbidden = await client.call(vc, 'GET', `/api/vcenter/cluster/${other}`, { session: s });
    expect(forbidden.status).toBe(403);
    expect((forbidden.json as Json).error_type).toBe('UNAUTHORIZED');
    const own = await client.call(vc, 'GET', `/api/vcenter/cluster/${vc.inventory.clusters[0]?.moId}`, { session: s });
    expect(own.status).toBe(200);
  });

  it('nearest permission wins, NoAccess hides, non-propagating permissions stay on their object', async () => {
    const inv = vc.inventory;
    const mixed = await restSession(vc, MIXED);
    // ReadOnly on root, NoAccess on cluster 2, Administrator on host 8 (the first host of cluster 2).
    expect(inv.hosts[8]?.cluster).toBe(inv.clusters[2]?.moId);
    expect(ids((await client.call(vc, 'GET', '/api/vcenter/cluster', { session: mixed })).json as Json[], 'cluster')).toEqual(clustersAt(vc, [0, 1]));
    expect(ids((await client.call(vc, 'GET', '/api/vcenter/host', { session: mixed })).json as Json[], 'host')).toEqual([...hostsOf(vc, [0, 1]), inv.hosts[8]?.moId].sort());

    const dcOnly = await restSession(vc, DC_ONLY);
    expect(inv.datacenters[0]?.moId).toBe('datacenter-3');
    expect((await client.call(vc, 'GET', '/api/vcenter/cluster', { session: dcOnly })).json).toEqual([]);
    expect((await client.call(vc, 'GET', '/api/vcenter/host', { session: dcOnly })).json).toEqual([]);
    const vs = await vimSession(vc, DC_ONLY);
    const objects = await retrieveAll(vc, vs, [{ propSet: NAMES, objectSet: [{ obj: moref('Folder', inv.rootFolder), skip: true, selectSet: INVENTORY_TRAVERSAL }] }]);
    expect(objects.map((o) => o.obj.value)).toEqual(['datacenter-3']);
  });

  it('PropertyCollector traversal from the root folder leaves out what the user may not read', async () => {
    for (const u of DEFAULT_VIEWERS) {
      const s = await vimSession(vc, u);
      const objects = await retrieveAll(vc, s, [{ propSet: NAMES, objectSet: [{ obj: moref('Folder', vc.inventory.rootFolder), skip: true, selectSet: INVENTORY_TRAVERSAL }] }]);
      const { clusters, containers } = expectedView(vc, u);
      const expected = [
        ...clustersAt(vc, clusters),
        ...hostsOf(vc, clusters),
        ...(containers ? [...vc.inventory.datacenters.map((d) => d.moId), ...vc.inventory.datacenters.map((d) => d.hostFolder)] : []),
      ].sort();
      expect(objects.map((o) => o.obj.value).sort(), u.name).toEqual(expected);
      // Omitted silently: nothing reached by traversal reports a missing property.
      expect(objects.filter((o) => o.missingSet)).toEqual([]);
    }
  });

  it('container views list only the objects the user may read, as the view property and through traversal', async () => {
    for (const u of DEFAULT_VIEWERS) {
      const s = await vimSession(vc, u);
      const created = await client.call(vc, 'POST', `${VIM}/ViewManager/ViewManager/CreateContainerView`, {
        session: s,
        body: { container: moref('Folder', vc.inventory.rootFolder), type: ['HostSystem', 'ClusterComputeResource'], recursive: true },
      });
      expect(created.status).toBe(200);
      const view = created.json as Json;
      const { clusters } = expectedView(vc, u);
      const expected = [...clustersAt(vc, clusters), ...hostsOf(vc, clusters)].sort();
      const listed = (await client.call(vc, 'GET', `${VIM}/ContainerView/${encodeURIComponent(view.value)}/view`, { session: s })).json as Json[];
      expect(listed.map((r) => r.value).sort(), u.name).toEqual(expected);
      const objects = await retrieveAll(vc, s, [
        { propSet: NAMES, objectSet: [{ obj: view, skip: true, selectSet: [{ _typeName: 'TraversalSpec', type: 'ContainerView', path: 'view', skip: false }] }] },
      ]);
      expect(objects.map((o) => o.obj.value).sort(), u.name).toEqual(expected);
      await client.call(vc, 'POST', `${VIM}/ContainerView/${encodeURIComponent(view.value)}/DestroyView`, { session: s });
    }
  });

  it('an object named in objectSet that the user may not read comes back with every requested path missing: NoPermission', async () => {
    const s = await vimSession(vc, CLUSTER_READER);
    const own = vc.inventory.clusters[0]?.hosts[0] as string;
    const foreign = vc.inventory.clusters[2]?.hosts[0] as string;
    const objects = await retrieveAll(vc, s, [
      { propSet: [{ type: 'HostSystem', pathSet: ['runtime.connectionState', 'name'] }], objectSet: [{ obj: moref('HostSystem', own) }, { obj: moref('HostSystem', foreign) }] },
    ]);
    expect(objects).toHaveLength(2);
    const [mine, theirs] = objects as [Json, Json];
    expect(mine.obj.value).toBe(own);
    expect(mine.propSet.map((p: Json) => p.name)).toEqual(['name', 'runtime.connectionState']);
    expect(mine.missingSet).toBeUndefined();
    expect(theirs).toEqual({
      _typeName: 'ObjectContent',
      obj: moref('HostSystem', foreign),
      missingSet: ['name', 'runtime.connectionState'].map((path) => ({ _typeName: 'MissingProperty', path, fault: expect.objectContaining(noPermissionOn('HostSystem', foreign)) })),
    });

    // A property GET of an object the user may not read is the NoPermission fault itself.
    const denied = await client.call(vc, 'GET', `${VIM}/HostSystem/${foreign}/configManager`, { session: s });
    expect(denied.status).toBe(500);
    expect(denied.json).toMatchObject(noPermissionOn('HostSystem', foreign));
    expect((await client.call(vc, 'GET', `${VIM}/HostSystem/${own}/configManager`, { session: s })).status).toBe(200);
  });
});

/** The fields of a NoPermission fault for System.Read on an entity. */
function noPermissionOn(type: string, value: string, privilege = 'System.Read'): Json {
  return {
    _typeName: 'NoPermission',
    object: moref(type, value),
    privilegeId: privilege,
    missingPrivileges: [{ _typeName: 'NoPermissionEntityPrivileges', entity: moref(type, value), privilegeIds: [privilege] }],
  };
}

describe('simulator authz: vLCM reads need their own privilege', () => {
  it('installed-images and software: 403 UNAUTHORIZED without VcIntegrity privileges (ReadOnly has none), 200 for Administrator', async () => {
    const cluster = (i: number) => vc.inventory.clusters[i]?.moId as string;
    const get = async (u: User, i: number, what: 'installed-images' | 'software') =>
      (await client.call(vc, 'GET', `/api/esx/settings/clusters/${cluster(i)}/${what}`, { session: await restSession(vc, u) })).status;
    for (const i of [0, 1]) {
      expect(await get(ADMIN, i, 'installed-images')).toBe(200);
      expect(await get(ADMIN, i, 'software')).toBe(200);
      expect(await get(READONLY, i, 'installed-images')).toBe(403);
      expect(await get(READONLY, i, 'software')).toBe(403);
    }
    // The cluster reader can list its cluster, yet ReadOnly does not cover vLCM.
    expect(await get(CLUSTER_READER, 0, 'installed-images')).toBe(403);
    // Administrator on the second cluster only.
    expect(await get(CLUSTER_ADMIN, 1, 'installed-images')).toBe(200);
    expect(await get(CLUSTER_ADMIN, 1, 'software')).toBe(200);
    expect(await get(CLUSTER_ADMIN, 0, 'installed-images')).toBe(403);
    // A custom role with VcIntegrity.lifecycleSettings.Read reads installed images but not the desired software spec.
    expect(await get(LIFECYCLE, 0, 'installed-images')).toBe(200);
    expect(await get(LIFECYCLE, 0, 'software')).toBe(403);
    const body = (await client.call(vc, 'GET', `/api/esx/settings/clusters/${cluster(0)}/installed-images`, { session: await restSession(vc, READONLY) })).json as Json;
    expect(body.error_type).toBe('UNAUTHORIZED');
    // An unknown cluster is still 404, whoever asks.
    expect((await client.call(vc, 'GET', '/api/esx/settings/clusters/domain-c999/installed-images', { session: await restSession(vc, READONLY) })).status).toBe(404);
  });
});

describe('simulator authz: patch scans and tasks', () => {
  const scan = async (u: User, host: string) =>
    client.call(vc, 'POST', `${VIM}/HostPatchManager/${patchManagerOf(host)}/ScanHostPatchV2_Task`, { session: await vimSession(vc, u), body: { metaUrls: [...DEPOT_URLS] } });
  const taskInfo = async (u: User, task: string) => client.call(vc, 'GET', `${VIM}/Task/${task}/info`, { session: await vimSession(vc, u) });

  it('a scan needs System.Read on the host: started under the user (TaskReasonUser), else NoPermission and no task', async () => {
    const own = vc.inventory.clusters[0]?.hosts[1] as string;
    const foreign = vc.inventory.clusters[2]?.hosts[1] as string;
    const started = await scan(CLUSTER_READER, own);
    expect(started.status, started.text).toBe(200);
    const task = (started.json as Json).value as string;
    const info = (await taskInfo(CLUSTER_READER, task)).json as Json;
    expect(info.reason).toEqual({ _typeName: 'TaskReasonUser', userName: principalName(CLUSTER_READER.name) });
    expect(info.reason.userName).toBe('VSPHERE.LOCAL\\Cluster-reader');
    expect(info.entity).toEqual(moref('HostSystem', own));

    const tasksBefore = vc.stats().liveTasks;
    const refused = await scan(CLUSTER_READER, foreign);
    expect(refused.status).toBe(500);
    expect(refused.json).toMatchObject(noPermissionOn('HostSystem', foreign));
    expect(vc.stats().liveTasks).toBe(tasksBefore);

    // System.Read is all the spec asks for: the ReadOnly user may scan.
    const byReader = await scan(READONLY, foreign);
    expect(byReader.status).toBe(200);
    expect(((await taskInfo(ADMIN, (byReader.json as Json).value)).json as Json).reason.userName).toBe('VSPHERE.LOCAL\\Readonly');
  });

  it('CancelTask needs System.Read on the task entity; Task.info of a task the user may not see is NoPermission', async () => {
    const host = vc.inventory.clusters[1]?.hosts[1] as string;
    const task = ((await scan(ADMIN, host)).json as Json).value as string;
    expect(((await taskInfo(ADMIN, task)).json as Json).reason.userName).toBe('VSPHERE.LOCAL\\Administrator');

    const cancel = async (u: User) => client.call(vc, 'POST', `${VIM}/Task/${task}/CancelTask`, { session: await vimSession(vc, u) });
    const refused = await cancel(CLUSTER_READER);
    expect(refused.status).toBe(500);
    expect(refused.json).toMatchObject(noPermissionOn('HostSystem', host));
    const hidden = await taskInfo(CLUSTER_READER, task);
    expect(hidden.status).toBe(500);
    expect(hidden.json).toMatchObject(noPermissionOn('HostSystem', host));
    expect(((await taskInfo(ADMIN, task)).json as Json).cancelled).toBe(false);

    // The second cluster's administrator may cancel it.
    expect((await cancel(CLUSTER_ADMIN)).status).toBe(204);
    const after = (await taskInfo(ADMIN, task)).json as Json;
    expect(after).toMatchObject({ state: 'error', cancelled: true });
  });

  it('recentTask (TaskManager, HostSystem, via PropertyCollector) lists only tasks on entities the user may read', async () => {
    // At least one task on the reader's cluster and one elsewhere.
    await scan(ADMIN, vc.inventory.clusters[0]?.hosts[2] as string);
    await scan(ADMIN, vc.inventory.clusters[2]?.hosts[2] as string);
    const recent = async (u: User) =>
      ((await client.call(vc, 'GET', `${VIM}/TaskManager/TaskManager/recentTask`, { session: await vimSession(vc, u) })).json as Json[]).map((r) => r.value as string);
    const all = await recent(ADMIN);
    const entityOf = new Map<string, string>();
    for (const t of all) entityOf.set(t, ((await taskInfo(ADMIN, t)).json as Json).entity.value);
    const readerHosts = new Set(vc.inventory.clusters[0]?.hosts);
    const expected = all.filter((t) => readerHosts.has(entityOf.get(t) as string));
    expect(expected.length).toBeGreaterThanOrEqual(2);
    expect(expected.length).toBeLessThan(all.length);
    expect(await recent(CLUSTER_READER)).toEqual(expected);
    expect(await recent(READONLY)).toEqual(all);

    const s = await vimSession(vc, CLUSTER_READER);
    const viaPc = (await client.call(vc, 'POST', `${PC}/RetrievePropertiesEx`, {
      session: s,
      body: { specSet: [{ propSet: [{ type: 'TaskManager', pathSet: ['recentTask'] }], objectSet: [{ obj: moref('TaskManager', 'TaskManager') }] }], options: {} },
    })).json as Json;
    expect((viaPc.objects[0].propSet[0].val._value as Json[]).map((r) => r.value)).toEqual(expected);
    const ownHost = vc.inventory.clusters[0]?.hosts[2] as string;
    const onHost = ((await client.call(vc, 'GET', `${VIM}/HostSystem/${ownHost}/recentTask`, { session: s })).json as Json[]).map((r) => r.value);
    expect(onHost).toEqual(all.filter((t) => entityOf.get(t) === ownHost));
    // Tasks reached by traversal from the TaskManager are silently left out too.
    const traversed = await retrieveAll(vc, s, [
      {
        propSet: [{ type: 'Task', pathSet: ['info.state'] }],
        objectSet: [{ obj: moref('TaskManager', 'TaskManager'), skip: true, selectSet: [{ _typeName: 'TraversalSpec', type: 'TaskManager', path: 'recentTask', skip: false }] }],
      },
    ]);
    expect(traversed.map((o) => o.obj.value)).toEqual(expected);
  });

  it('a PropertyFilter on tasks: a task the user may not read enters with its paths missing (NoPermission)', async () => {
    const own = ((await scan(CLUSTER_READER, vc.inventory.clusters[0]?.hosts[3] as string)).json as Json).value as string;
    const foreignHost = vc.inventory.clusters[1]?.hosts[2] as string;
    const foreign = ((await scan(ADMIN, foreignHost)).json as Json).value as string;
    const s = await vimSession(vc, CLUSTER_READER);
    const filter = await client.call(vc, 'POST', `${PC}/CreateFilter`, {
      session: s,
      body: { spec: { propSet: [{ type: 'Task', pathSet: ['info'] }], objectSet: [{ obj: moref('Task', own) }, { obj: moref('Task', foreign) }] }, partialUpdates: false },
    });
    expect(filter.status).toBe(200);
    const updates = (await client.call(vc, 'POST', `${PC}/WaitForUpdatesEx`, { session: s, body: { version: '', options: { maxWaitSeconds: 5 } } })).json as Json;
    const objectSet = updates.filterSet[0].objectSet as Json[];
    expect(objectSet.map((o) => [o.kind, o.obj.value])).toEqual([['enter', own], ['enter', foreign]]);
    const [mine, theirs] = objectSet as [Json, Json];
    expect(mine.changeSet.map((c: Json) => c.name)).toEqual(['info']);
    expect(mine.missingSet).toBeUndefined();
    expect(theirs.changeSet).toEqual([]);
    expect(theirs.missingSet).toEqual([{ _typeName: 'MissingProperty', path: 'info', fault: expect.objectContaining(noPermissionOn('HostSystem', foreignHost)) }]);
    await client.call(vc, 'POST', `${VIM}/PropertyFilter/${encodeURIComponent((filter.json as Json).value)}/DestroyPropertyFilter`, { session: s });
  });
});

describe('simulator authz: logins, sessions per user, bulk users', () => {
  it('refuses an unknown user, a wrong password and another user\'s password: 401 UNAUTHENTICATED and InvalidLogin, counted per API', async () => {
    const v = sim.vcenters[1] as SimulatedVCenter;
    v.resetStats();
    const attempts = [
      { user: 'nobody@vsphere.local', pass: 'VMware1!' },
      { user: CLUSTER_READER.name, pass: 'wrong' },
      { user: CLUSTER_READER.name, pass: READONLY.password },
    ];
    for (const a of attempts) {
      const rest = await client.call(v, 'POST', '/api/session', { headers: { authorization: `Basic ${Buffer.from(`${a.user}:${a.pass}`).toString('base64')}` } });
      expect(rest.status).toBe(401);
      expect((rest.json as Json).error_type).toBe('UNAUTHENTICATED');
      const vim = await client.call(v, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { _typeName: 'Login', userName: a.user, password: a.pass } });
      expect(vim.status).toBe(500);
      expect((vim.json as Json)._typeName).toBe('InvalidLogin');
    }
    // User names are case-insensitive, passwords are not.
    const ok = await client.restLogin(v, 'Cluster-Reader@VSPHERE.local', CLUSTER_READER.password);
    const stats = v.stats();
    expect(stats.failedLogins).toEqual({ rest: 3, vim: 3 });
    expect(stats.logins).toEqual({ rest: 1, vim: 0 });
    expect((await client.call(v, 'GET', '/api/session', { session: ok })).json).toMatchObject({ user: 'VSPHERE.LOCAL\\Cluster-reader' });
    await client.call(v, 'DELETE', '/api/session', { session: ok });
  });

  it('bulk users log in; /_sim/stats counts live sessions per user per API, logins and logouts', async () => {
    const bulk = await startSimulator({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 2 }, bulkUsers: { count: 200, prefix: 'user', password: 'Bulk1!' } });
    const c = new SimClient(bulk);
    try {
      const v = bulk.vcenters[0] as SimulatedVCenter;
      expect(bulk.users.filter((u) => /^user\d+@vsphere\.local$/.test(u.name))).toHaveLength(200);
      const names = Array.from({ length: 200 }, (_, i) => `user${i + 1}@vsphere.local`);
      const rest = new Map<string, string>();
      const vim = new Map<string, string>();
      // 20 at a time: bounded concurrency on a busy machine.
      for (let i = 0; i < names.length; i += 20) {
        await Promise.all(
          names.slice(i, i + 20).map(async (n) => {
            rest.set(n, await c.restLogin(v, n, 'Bulk1!'));
            vim.set(n, await c.vimLogin(v, '8.0.3.0', n, 'Bulk1!'));
          }),
        );
      }
      // user7 opens two more REST sessions.
      await c.restLogin(v, 'user7@vsphere.local', 'Bulk1!');
      await c.restLogin(v, 'user7@vsphere.local', 'Bulk1!');
      const stats = (await c.call(v, 'GET', '/_sim/stats')).json as SimStats;
      expect(stats.logins).toEqual({ rest: 202, vim: 200 });
      expect(stats.liveSessions).toEqual({ rest: 202, vim: 200 });
      expect(Object.keys(stats.sessionsByUser.rest)).toHaveLength(200);
      expect(Object.keys(stats.sessionsByUser.vim)).toHaveLength(200);
      expect(stats.sessionsByUser.rest['VSPHERE.LOCAL\\User7']).toBe(3);
      expect(stats.sessionsByUser.rest['VSPHERE.LOCAL\\User8']).toBe(1);
      expect(stats.sessionsByUser.vim['VSPHERE.LOCAL\\User200']).toBe(1);
      expect(stats.logouts).toEqual({ rest: 0, vim: 0 });

      // Bulk users hold ReadOnly on the root folder: they read every cluster, and no vLCM data.
      const s1 = rest.get('user1@vsphere.local') as string;
      expect(ids((await c.call(v, 'GET', '/api/vcenter/cluster', { session: s1 })).json as Json[], 'cluster')).toEqual(clustersAt(v, [0]));
      expect((await c.call(v, 'GET', `/api/esx/settings/clusters/${v.inventory.clusters[0]?.moId}/installed-images`, { session: s1 })).status).toBe(403);

      for (const n of names.slice(0, 50)) {
        expect((await c.call(v, 'DELETE', '/api/session', { session: rest.get(n) as string })).status).toBe(204);
        expect((await c.call(v, 'POST', `${VIM}/SessionManager/SessionManager/Logout`, { session: vim.get(n) as string })).status).toBe(204);
      }
      const after = v.stats();
      expect(after.logouts).toEqual({ rest: 50, vim: 50 });
      expect(after.liveSessions).toEqual({ rest: 152, vim: 150 });
      expect(Object.keys(after.sessionsByUser.rest)).toHaveLength(151); // user7 keeps its two extra sessions
      expect(after.sessionsByUser.rest['VSPHERE.LOCAL\\User7']).toBe(2);
      expect(after.sessionsByUser.rest['VSPHERE.LOCAL\\User1']).toBeUndefined();
      expect(Object.keys(after.sessionsByUser.vim)).toHaveLength(150);
      // Expiry is not a logout.
      v.expireSessions();
      expect(v.stats()).toMatchObject({ logouts: { rest: 50, vim: 50 }, liveSessions: { rest: 0, vim: 0 }, sessionsByUser: { rest: {}, vim: {} } });
    } finally {
      await c.close();
      await bulk.close();
    }
  });

  it('rejects user options that name a missing role or object; a default user\'s missing object is no error', async () => {
    await expect(startSimulator({ users: [{ name: 'x@vsphere.local', password: 'x', permissions: [{ entity: 'root', role: 'Nope' }] }] })).rejects.toThrow(/unknown role 'Nope'/);
    await expect(startSimulator({ users: [{ name: 'x@vsphere.local', password: 'x', permissions: [{ entity: 'cluster:99', role: 'ReadOnly' }] }] })).rejects.toThrow(/cluster:99/);
    await expect(startSimulator({ bulkUsers: { count: -1, password: 'x' } })).rejects.toThrow(/bulkUsers.count/);
    // A default user's missing object is no error: a one-cluster fleet starts, and its cluster admin sees nothing.
    const small = await startSimulator({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } });
    const c = new SimClient(small);
    try {
      const v = small.vcenters[0] as SimulatedVCenter;
      const s = await c.restLogin(v, CLUSTER_ADMIN.name, CLUSTER_ADMIN.password);
      expect((await c.call(v, 'GET', '/api/vcenter/cluster', { session: s })).json).toEqual([]);
      const reader = await c.restLogin(v, CLUSTER_READER.name, CLUSTER_READER.password);
      expect(ids((await c.call(v, 'GET', '/api/vcenter/cluster', { session: reader })).json as Json[], 'cluster')).toEqual(clustersAt(v, [0]));
    } finally {
      await c.close();
      await small.close();
    }
  });

  it('permissions by inventory path, MoID and host index name the same objects', async () => {
    const first = vc.inventory;
    const dc = first.datacenters[0]?.name as string;
    const cluster = first.clusters[1]?.name as string;
    const host = first.hostById.get(first.clusters[2]?.hosts[0] as string)?.name as string;
    // Same seed and size: the same inventory, so paths read from `vc` name the same objects.
    const other = await startSimulator({
      size: { vcenters: 1 },
      users: [
        { name: 'path@vsphere.local', password: 'p', permissions: [{ entity: `/${dc}/host/${cluster}`, role: 'ReadOnly' }, { entity: `/${dc}/host/${first.clusters[2]?.name}/${host}`, role: 'ReadOnly' }] },
        { name: 'moid@vsphere.local', password: 'p', permissions: [{ entity: first.clusters[1]?.moId as string, role: 'ReadOnly' }, { entity: 'host:8', role: 'ReadOnly' }] },
      ],
    });
    const c = new SimClient(other);
    try {
      const v = other.vcenters[0] as SimulatedVCenter;
      for (const name of ['path@vsphere.local', 'moid@vsphere.local']) {
        const s = await c.restLogin(v, name, 'p');
        expect(ids((await c.call(v, 'GET', '/api/vcenter/cluster', { session: s })).json as Json[], 'cluster'), name).toEqual(clustersAt(v, [1]));
        expect(ids((await c.call(v, 'GET', '/api/vcenter/host', { session: s })).json as Json[], 'host'), name).toEqual([...hostsOf(v, [1]), first.clusters[2]?.hosts[0]].sort());
      }
    } finally {
      await c.close();
      await other.close();
    }
  });
});

describe('simulator authz: bodies match the official OpenAPI schemas', () => {
  it('NoPermission, MissingProperty in RetrieveResult and UpdateSet, TaskReasonUser, Unauthorized, Unauthenticated, InvalidLogin', async () => {
    const rest = restValidator();
    const vim = viJsonValidator();
    const valid = (validator: typeof rest, name: string, value: unknown): void => {
      expect(validator.errors(name, value), `${name}: ${JSON.stringify(value).slice(0, 400)}`).toEqual([]);
    };
    // The validator catches the field names that matter here.
    expect(vim.errors('NoPermissionEntityPrivileges', { _typeName: 'NoPermissionEntityPrivileges', entity: moref('HostSystem', 'host-1'), privileges: ['System.Read'] }).length).toBeGreaterThan(0);
    expect(vim.errors('TaskReasonUser', { _typeName: 'TaskReasonUser', user: 'x' }).length).toBeGreaterThan(0);

    const v = sim.vcenters[1] as SimulatedVCenter;
    const s = await vimSession(v, CLUSTER_READER);
    const own = v.inventory.clusters[0]?.hosts[0] as string;
    const foreign = v.inventory.clusters[1]?.hosts[0] as string;
    const refused = await client.call(v, 'POST', `${VIM}/HostPatchManager/${patchManagerOf(foreign)}/ScanHostPatchV2_Task`, { session: s, body: { metaUrls: [...DEPOT_URLS] } });
    valid(vim, 'NoPermission', refused.json);
    valid(vim, 'NoPermission', (await client.call(v, 'GET', `${VIM}/HostSystem/${foreign}/summary`, { session: s })).json);

    const started = (await client.call(v, 'POST', `${VIM}/HostPatchManager/${patchManagerOf(own)}/ScanHostPatchV2_Task`, { session: s, body: { metaUrls: [...DEPOT_URLS] } })).json as Json;
    const info = (await client.call(v, 'GET', `${VIM}/Task/${started.value}/info`, { session: s })).json as Json;
    valid(vim, 'TaskInfo', info);
    valid(vim, 'TaskReasonUser', info.reason);

    const retrieved = (await client.call(v, 'POST', `${PC}/RetrievePropertiesEx`, {
      session: s,
      body: { specSet: [{ propSet: [{ type: 'HostSystem', all: true }], objectSet: [{ obj: moref('HostSystem', own) }, { obj: moref('HostSystem', foreign) }] }], options: {} },
    })).json as Json;
    expect(retrieved.objects[1].missingSet.length).toBeGreaterThan(5);
    valid(vim, 'RetrieveResult', retrieved);

    const filter = (await client.call(v, 'POST', `${PC}/CreateFilter`, {
      session: s,
      body: { spec: { propSet: [{ type: 'HostSystem', pathSet: ['name'] }], objectSet: [{ obj: moref('HostSystem', foreign) }] }, partialUpdates: false },
    })).json as Json;
    const updates = (await client.call(v, 'POST', `${PC}/WaitForUpdatesEx`, { session: s, body: { version: '', options: { maxWaitSeconds: 5 } } })).json as Json;
    expect(updates.filterSet[0].objectSet[0].missingSet).toHaveLength(1);
    valid(vim, 'UpdateSet', updates);
    await client.call(v, 'POST', `${VIM}/PropertyFilter/${encodeURIComponent(filter.value)}/DestroyPropertyFilter`, { session: s });

    const readOnly = await restSession(v, READONLY);
    const forbidden = await client.call(v, 'GET', `/api/esx/settings/clusters/${v.inventory.clusters[0]?.moId}/installed-images`, { session: readOnly });
    expect(forbidden.status).toBe(403);
    valid(rest, 'Vapi.Std.Errors.Unauthorized', forbidden.json);
    const badLogin = await client.call(v, 'POST', '/api/session', { headers: { authorization: `Basic ${Buffer.from(`${READONLY.name}:nope`).toString('base64')}` } });
    valid(rest, 'Vapi.Std.Errors.Unauthenticated', badLogin.json);
    const invalidLogin = await client.call(v, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { userName: READONLY.name, password: 'nope' } });
    valid(vim, 'InvalidLogin', invalidLogin.json);
  });
});
