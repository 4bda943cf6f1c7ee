// Behaviour of the vCenter simulator over real HTTPS on loopback (TLS
// verification on, trusting only the simulator's CA).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../src/simulator/client.ts';
import { DEPOT_URLS, startSimulator } from '../src/simulator/index.ts';
import type { Simulator, SimulatedVCenter } from '../src/simulator/index.ts';
import { buildFleet, DEFAULT_FLEET_SIZE } from '../src/simulator/inventory.ts';

const VIM = '/sdk/vim25/8.0.3.0';
const UNAUTHENTICATED = {
  error_type: 'UNAUTHENTICATED',
  messages: [{ args: [], default_message: 'Authentication required.', id: 'com.vmware.vapi.endpoint.method.authentication.required' }],
};

type Json = Record<string, any>;

let sim: Simulator;
let client: SimClient;
let vc: SimulatedVCenter;

beforeAll(async () => {
  sim = await startSimulator();
  client = new SimClient(sim);
  vc = sim.vcenters[0] as SimulatedVCenter;
});

afterAll(async () => {
  await client?.close();
  await sim?.close();
});

/** Standard govc-style traversal from the root folder down to hosts. */
function inventoryTraversal(pathSet: string[], type = 'HostSystem'): Json {
  return {
    _typeName: 'PropertyFilterSpec',
    propSet: [{ _typeName: 'PropertySpec', type, pathSet }],
    objectSet: [
      {
        _typeName: 'ObjectSpec',
        obj: { _typeName: 'ManagedObjectReference', type: 'Folder', value: 'group-d1' },
        skip: true,
        selectSet: [
          { _typeName: 'TraversalSpec', name: 'folderTraversal', type: 'Folder', path: 'childEntity', skip: false, selectSet: [{ _typeName: 'SelectionSpec', name: 'folderTraversal' }, { _typeName: 'SelectionSpec', name: 'dcToHf' }, { _typeName: 'SelectionSpec', name: 'crToH' }] },
          { _typeName: 'TraversalSpec', name: 'dcToHf', type: 'Datacenter', path: 'hostFolder', skip: false, selectSet: [{ _typeName: 'SelectionSpec', name: 'folderTraversal' }] },
          { _typeName: 'TraversalSpec', name: 'crToH', type: 'ComputeResource', path: 'host', skip: false },
        ],
      },
    ],
  };
}

function propMap(content: Json): Record<string, unknown> {
  return Object.fromEntries((content.propSet ?? []).map((p: Json) => [p.name, p.val]));
}

describe('simulator: public API and inventory', () => {
  it('starts the default fleet with the documented shape', () => {
    expect(sim.vcenters).toHaveLength(2);
    expect(sim.username).toBe('administrator@vsphere.local');
    expect(sim.password).toBe('VMware1!');
    expect(sim.caPem).toMatch(/BEGIN CERTIFICATE/);
    for (const v of sim.vcenters) {
      expect(v.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(v.inventory.datacenters).toHaveLength(1);
      expect(v.inventory.clusters).toHaveLength(3);
      for (const c of v.inventory.clusters) expect(c.hosts).toHaveLength(4);
    }
    expect(vc.name).toBe('vc-01.sim.local');
    expect(vc.inventory.rootFolder).toBe('group-d1');
    expect(vc.inventory.datacenters[0]?.moId).toBe('datacenter-3');
    expect(vc.inventory.datacenters[0]?.hostFolder).toBe('group-h5');
    expect(vc.inventory.clusters[0]?.moId).toBe('domain-c8');
    expect(vc.inventory.hosts[0]?.name).toMatch(/^esx-01\.dc-[a-z]+\.sim\.local$/);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const strip = (seed: number) =>
      buildFleet({ seed, size: DEFAULT_FLEET_SIZE }).map((v) => ({
        uuid: v.instanceUuid,
        dcs: v.datacenters.map((d) => [d.moId, d.name]),
        clusters: v.clusters.map((c) => [c.moId, c.name, c.haEnabled, c.drsEnabled]),
        hosts: v.hosts.map((h) => [h.moId, h.name, h.image.release.build, h.connectionState]),
      }));
    expect(strip(1)).toEqual(strip(1));
    expect(strip(7)).toEqual(strip(7));
    expect(strip(1)).not.toEqual(strip(7));
    // MoIDs follow the counter, not the seed.
    expect(strip(7)[0]?.clusters.map((c) => c[0])).toEqual(strip(1)[0]?.clusters.map((c) => c[0]));
    // The running simulator was built from seed 1.
    expect(vc.inventory.hosts.map((h) => h.name)).toEqual(buildFleet({ seed: 1, size: DEFAULT_FLEET_SIZE })[0]?.hosts.map((h) => h.name));
  });

  it('has every special case in vCenter 1 without changing host counts', () => {
    const sc = vc.inventory.specialCases;
    expect(sc).toEqual({
      mixedImageCluster: 'domain-c8',
      failedExtractCluster: 'domain-c14',
      disconnectedHost: 'host-19',
      maintenanceModeHost: 'host-16',
      notImageManagedCluster: 'domain-c20',
      orphanedVibHost: 'host-22',
    });
    expect(vc.inventory.hostById.get('host-19')?.connectionState).toBe('disconnected');
    expect(vc.inventory.hostById.get('host-16')?.inMaintenanceMode).toBe(true);
    expect(vc.inventory.hostById.get('host-22')?.orphanedVibs.length).toBeGreaterThan(0);
    // Larger fleets keep them and the requested host count.
    const big = buildFleet({ seed: 3, size: { vcenters: 1, datacentersPerVcenter: 2, clustersPerDatacenter: 4, hostsPerCluster: 6 } })[0];
    expect(Object.keys(big?.specialCases ?? {})).toHaveLength(6);
    for (const c of big?.clusters ?? []) expect(c.hosts).toHaveLength(6);
  });
});

describe('simulator: REST /api', () => {
  it('creates, reads and deletes sessions', async () => {
    const id = await client.restLogin(vc);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const info = await client.call(vc, 'GET', '/api/session', { session: id });
    expect(info.status).toBe(200);
    expect(info.json).toMatchObject({ user: 'VSPHERE.LOCAL\\Administrator' });
    expect(Object.keys(info.json as Json)).toEqual(['user', 'created_time', 'last_accessed_time']);
    expect((await client.call(vc, 'DELETE', '/api/session', { session: id })).status).toBe(204);
    const after = await client.call(vc, 'GET', '/api/vcenter/cluster', { session: id });
    expect(after.status).toBe(401);
    expect(after.json).toEqual(UNAUTHENTICATED);
  });

  it('answers 401 with the vAPI body for bad credentials and missing sessions', async () => {
    const bad = await client.call(vc, 'POST', '/api/session', { headers: { authorization: `Basic ${Buffer.from('administrator@vsphere.local:nope').toString('base64')}` } });
    expect(bad.status).toBe(401);
    expect(bad.text).toBe(JSON.stringify(UNAUTHENTICATED));
    expect(bad.headers['content-type']).toBe('application/json');
    const none = await client.call(vc, 'POST', '/api/session');
    expect(none.status).toBe(401);
    const noSession = await client.call(vc, 'GET', '/api/vcenter/host');
    expect(noSession.status).toBe(401);
    expect(noSession.json).toEqual(UNAUTHENTICATED);
    expect((await client.call(vc, 'GET', '/api/vcenter/host', { session: 'deadbeef' })).status).toBe(401);
  });

  it('lists clusters with filters', async () => {
    const s = await client.restLogin(vc);
    const all = await client.call(vc, 'GET', '/api/vcenter/cluster', { session: s });
    expect(all.status).toBe(200);
    const list = all.json as Json[];
    expect(list.map((c) => c.cluster)).toEqual(['domain-c8', 'domain-c14', 'domain-c20']);
    expect(Object.keys(list[0] as Json)).toEqual(['cluster', 'name', 'ha_enabled', 'drs_enabled']);
    expect(list[0]?.name).toMatch(/^Cluster-[A-Za-z]+-\d\d$/);

    const two = await client.call(vc, 'GET', '/api/vcenter/cluster?clusters=domain-c8&clusters=domain-c20', { session: s });
    expect((two.json as Json[]).map((c) => c.cluster)).toEqual(['domain-c8', 'domain-c20']);
    const byName = await client.call(vc, 'GET', `/api/vcenter/cluster?names=${encodeURIComponent(list[1]?.name)}`, { session: s });
    expect((byName.json as Json[]).map((c) => c.cluster)).toEqual(['domain-c14']);
    const byDc = await client.call(vc, 'GET', '/api/vcenter/cluster?datacenters=datacenter-3', { session: s });
    expect(byDc.json).toHaveLength(3);
    const byFolder = await client.call(vc, 'GET', '/api/vcenter/cluster?folders=group-h5', { session: s });
    expect(byFolder.json).toHaveLength(3);
    const none = await client.call(vc, 'GET', '/api/vcenter/cluster?datacenters=datacenter-999', { session: s });
    expect(none.json).toEqual([]);
    const one = await client.call(vc, 'GET', '/api/vcenter/cluster/domain-c8', { session: s });
    expect(one.json).toEqual({ name: list[0]?.name, resource_pool: 'resgroup-9' });
  });

  it('lists hosts with filters; a disconnected host has no power_state', async () => {
    const s = await client.restLogin(vc);
    const all = (await client.call(vc, 'GET', '/api/vcenter/host', { session: s })).json as Json[];
    expect(all).toHaveLength(12);
    const disconnected = all.find((h) => h.host === 'host-19');
    expect(disconnected).toEqual({ host: 'host-19', name: disconnected?.name, connection_state: 'DISCONNECTED' });
    expect(all.find((h) => h.host === 'host-10')).toMatchObject({ connection_state: 'CONNECTED', power_state: 'POWERED_ON' });

    const inCluster = (await client.call(vc, 'GET', '/api/vcenter/host?clusters=domain-c14', { session: s })).json as Json[];
    expect(inCluster.map((h) => h.host)).toEqual(['host-16', 'host-17', 'host-18', 'host-19']);
    const disc = (await client.call(vc, 'GET', '/api/vcenter/host?connection_states=DISCONNECTED&connection_states=NOT_RESPONDING', { session: s })).json;
    expect(disc).toEqual([disconnected]);
    const byIds = (await client.call(vc, 'GET', '/api/vcenter/host?hosts=host-10&hosts=host-25&hosts=host-999', { session: s })).json as Json[];
    expect(byIds.map((h) => h.host)).toEqual(['host-10', 'host-25']);
    expect((await client.call(vc, 'GET', '/api/vcenter/host?standalone=true', { session: s })).json).toEqual([]);
    expect((await client.call(vc, 'GET', '/api/vcenter/host?standalone=false', { session: s })).json).toHaveLength(12);
    const badState = await client.call(vc, 'GET', '/api/vcenter/host?connection_states=ONLINE', { session: s });
    expect(badState.status).toBe(400);
    expect((badState.json as Json).error_type).toBe('INVALID_ARGUMENT');
  });

  it('serves installed-images for every special cluster', async () => {
    const s = await client.restLogin(vc);
    const get = async (c: string) => (await client.call(vc, 'GET', `/api/esx/settings/clusters/${c}/installed-images`, { session: s })).json as Json;

    const mixed = await get('domain-c8');
    expect(mixed.status).toBe('SUCCESS');
    expect(mixed.uniform_image).toBe(false);
    const cat = mixed.image_categories;
    expect(cat.is_highest_and_widely_used_image_equal).toBe(false);
    expect(cat.most_widely_used_image.software_info.base_image.version).toBe('8.0.3-0.35.24280767');
    expect(cat.most_widely_used_image.host_list).toEqual(['host-10', 'host-11']);
    expect(cat.highest_versioned_image.software_info.base_image.version).toBe('8.0.3-0.55.24585383');
    expect(cat.highest_versioned_image.host_list).toEqual(['host-13']);
    expect(cat.host_image_list).toHaveLength(1);
    expect(cat.host_image_list[0].software_info.base_image.details.display_version).toBe('8.0 U2');
    expect(Object.keys(mixed.host_info)).toEqual(['host-10', 'host-11', 'host-12', 'host-13']);

    const failed = await get('domain-c14');
    expect(failed.status).toBe('EXTRACT_INSTALLED_IMAGE_FAILURE');
    expect(failed.failed_hosts).toEqual(['host-19']);
    expect(failed.successful_hosts).toEqual(['host-16', 'host-17', 'host-18']);
    expect(failed.notifications.EXTRACT_INSTALLED_IMAGE.errors[0].type).toBe('ERROR');
    expect(failed.host_notifications['host-19'].errors).toHaveLength(1);

    const unmanaged = await get('domain-c20');
    expect(unmanaged.status).toBe('SUCCESS');
    expect(unmanaged.uniform_image).toBe(true);
    expect(unmanaged.image_categories.is_highest_and_widely_used_image_equal).toBe(true);
    expect(Object.values(unmanaged.orphaned_vibs)).toEqual([['host-22'], ['host-22']]);
    expect(unmanaged.host_notifications['host-22'].warnings).toHaveLength(1);
  });

  it('serves software for image-managed clusters and 404 otherwise', async () => {
    const s = await client.restLogin(vc);
    const sw = await client.call(vc, 'GET', '/api/esx/settings/clusters/domain-c8/software', { session: s });
    expect(sw.status).toBe(200);
    expect(Object.keys(sw.json as Json)).toEqual(['base_image', 'add_on', 'components', 'solutions']);
    const unmanaged = await client.call(vc, 'GET', '/api/esx/settings/clusters/domain-c20/software', { session: s });
    expect(unmanaged.status).toBe(404);
    expect((unmanaged.json as Json).error_type).toBe('NOT_FOUND');
    for (const path of ['/api/esx/settings/clusters/domain-c999/software', '/api/esx/settings/clusters/domain-c999/installed-images', '/api/vcenter/cluster/domain-c999']) {
      const r = await client.call(vc, 'GET', path, { session: s });
      expect(r.status).toBe(404);
      expect((r.json as Json).messages[0].args).toEqual(['domain-c999']);
    }
    const unknown = await client.call(vc, 'GET', '/api/vcenter/nothing-here', { session: s });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error_type: 'NOT_FOUND', messages: [{ args: [], default_message: 'Not found.', id: 'com.vmware.vapi.rest.httpNotFound' }] });
  });

  it('enforces list limits with UNABLE_TO_ALLOCATE_RESOURCE', async () => {
    const small = await startSimulator({ tls: false, size: { vcenters: 1 }, restListLimits: { clusters: 2, hosts: 5 } });
    const c = new SimClient(small);
    try {
      const v = small.vcenters[0] as SimulatedVCenter;
      const s = await c.restLogin(v);
      const clusters = await c.call(v, 'GET', '/api/vcenter/cluster', { session: s });
      expect(clusters.status).toBe(500);
      expect((clusters.json as Json).error_type).toBe('UNABLE_TO_ALLOCATE_RESOURCE');
      const hosts = await c.call(v, 'GET', '/api/vcenter/host', { session: s });
      expect(hosts.status).toBe(500);
      expect((hosts.json as Json).error_type).toBe('UNABLE_TO_ALLOCATE_RESOURCE');
      // A filter that matches few enough succeeds.
      expect((await c.call(v, 'GET', '/api/vcenter/host?clusters=domain-c8', { session: s })).status).toBe(200);
      expect((await c.call(v, 'GET', '/api/vcenter/cluster?clusters=domain-c8', { session: s })).status).toBe(200);
    } finally {
      await c.close();
      await small.close();
    }
  });
});

describe('simulator: VI/JSON /sdk/vim25', () => {
  it('serves ServiceContent without a session, only for releases 8.0.1.0..8.0.3.0', async () => {
    const content = await client.call(vc, 'GET', `${VIM}/ServiceInstance/ServiceInstance/content`);
    expect(content.status).toBe(200);
    const sc = content.json as Json;
    expect(sc._typeName).toBe('ServiceContent');
    expect(sc.rootFolder).toEqual({ _typeName: 'ManagedObjectReference', value: 'group-d1', type: 'Folder' });
    expect(sc.propertyCollector.value).toBe('propertyCollector');
    expect(sc.sessionManager.value).toBe('SessionManager');
    expect(sc.about).toMatchObject({ _typeName: 'AboutInfo', apiType: 'VirtualCenter', apiVersion: '8.0.3.0', build: '24322831', fullName: 'VMware vCenter Server 8.0.3 build 24322831', instanceUuid: vc.inventory.instanceUuid });
    for (const release of ['8.0.1.0', '8.0.2.0']) {
      expect((await client.call(vc, 'GET', `/sdk/vim25/${release}/ServiceInstance/ServiceInstance/content`)).status).toBe(200);
    }
    for (const release of ['8.0.0.2', '7.0.3.0', '8.0.3.1', '9.0.0.0', 'latest']) {
      expect((await client.call(vc, 'GET', `/sdk/vim25/${release}/ServiceInstance/ServiceInstance/content`)).status).toBe(404);
    }
  });

  it('logs in (with or without _typeName), rejects bad passwords, logs out', async () => {
    const ok = await client.call(vc, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { userName: sim.username, password: sim.password } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ _typeName: 'UserSession', userName: 'VSPHERE.LOCAL\\Administrator', extensionSession: false });
    const id = ok.headers['vmware-api-session-id'] as string;
    expect(id).toMatch(/^[0-9a-f]{40}$/);
    expect(await client.vimLogin(vc)).toMatch(/^[0-9a-f]{40}$/);

    const bad = await client.call(vc, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { _typeName: 'Login', userName: sim.username, password: 'wrong' } });
    expect(bad.status).toBe(500);
    expect(bad.text).toBe('{"_typeName":"InvalidLogin","faultstring":"Cannot complete login due to an incorrect user name or password."}');

    const current = await client.call(vc, 'GET', `${VIM}/SessionManager/SessionManager/currentSession`, { session: id });
    expect(current.json).toMatchObject({ _typeName: 'UserSession', key: (ok.json as Json).key });
    expect((await client.call(vc, 'POST', `${VIM}/SessionManager/SessionManager/Logout`, { session: id })).status).toBe(204);
    const after = await client.call(vc, 'GET', `${VIM}/HostSystem/host-10/name`, { session: id });
    expect(after.status).toBe(500);
    expect((after.json as Json)._typeName).toBe('NotAuthenticated');
  });

  it('answers NotAuthenticated without a session', async () => {
    const r = await client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { body: { specSet: [inventoryTraversal(['name'])], options: {} } });
    expect(r.status).toBe(500);
    expect(r.json).toEqual({
      _typeName: 'NotAuthenticated',
      faultstring: 'The session is not authenticated.',
      object: { _typeName: 'ManagedObjectReference', value: 'propertyCollector', type: 'PropertyCollector' },
      privilegeId: 'System.View',
    });
    expect(r.headers['content-type']).toBe('application/json');
  });

  it('reads properties raw, with faults for unknown objects and properties', async () => {
    const s = await client.vimLogin(vc);
    const name = await client.call(vc, 'GET', `${VIM}/HostSystem/host-10/name`, { session: s });
    expect(name.text).toBe(JSON.stringify(vc.inventory.hostById.get('host-10')?.name));
    const hosts = await client.call(vc, 'GET', `${VIM}/ClusterComputeResource/domain-c8/host`, { session: s });
    expect(hosts.json).toEqual(['host-10', 'host-11', 'host-12', 'host-13'].map((value) => ({ _typeName: 'ManagedObjectReference', value, type: 'HostSystem' })));
    const cm = (await client.call(vc, 'GET', `${VIM}/HostSystem/host-10/configManager`, { session: s })).json as Json;
    expect(cm._typeName).toBe('HostConfigManager');
    expect(cm.patchManager).toEqual({ _typeName: 'ManagedObjectReference', value: 'patchManager-10', type: 'HostPatchManager' });
    const runtime = (await client.call(vc, 'GET', `${VIM}/HostSystem/host-19/runtime`, { session: s })).json as Json;
    expect(runtime).toMatchObject({ _typeName: 'HostRuntimeInfo', connectionState: 'disconnected', inMaintenanceMode: false });
    const mm = (await client.call(vc, 'GET', `${VIM}/HostSystem/host-16/runtime`, { session: s })).json as Json;
    expect(mm.inMaintenanceMode).toBe(true);
    expect((await client.call(vc, 'GET', `${VIM}/Datacenter/datacenter-3/hostFolder`, { session: s })).json).toEqual({ _typeName: 'ManagedObjectReference', value: 'group-h5', type: 'Folder' });
    expect(((await client.call(vc, 'GET', `${VIM}/Folder/group-d1/childEntity`, { session: s })).json as Json[])[0]?.value).toBe('datacenter-3');

    const missing = await client.call(vc, 'GET', `${VIM}/HostSystem/host-999/name`, { session: s });
    expect(missing.status).toBe(500);
    expect(missing.json).toMatchObject({ _typeName: 'ManagedObjectNotFound', obj: { _typeName: 'ManagedObjectReference', value: 'host-999', type: 'HostSystem' } });
    const badProp = await client.call(vc, 'GET', `${VIM}/HostSystem/host-10/nonsense`, { session: s });
    expect(badProp.status).toBe(500);
    expect(badProp.json).toMatchObject({ _typeName: 'InvalidProperty', name: 'nonsense' });
    expect((await client.call(vc, 'GET', `${VIM}/NoSuchType/x/name`, { session: s })).status).toBe(404);
  });

  it('RetrievePropertiesEx traverses the inventory and pages with tokens', async () => {
    const s = await client.vimLogin(vc);
    const pc = `${VIM}/PropertyCollector/propertyCollector`;
    const first = await client.call(vc, 'POST', `${pc}/RetrievePropertiesEx`, {
      session: s,
      body: { _typeName: 'RetrievePropertiesEx', specSet: [inventoryTraversal(['name', 'runtime.connectionState', 'config.product', 'configManager.patchManager'])], options: { _typeName: 'RetrieveOptions', maxObjects: 5 } },
    });
    expect(first.status).toBe(200);
    const page1 = first.json as Json;
    expect(page1._typeName).toBe('RetrieveResult');
    expect(page1.objects).toHaveLength(5);
    expect(typeof page1.token).toBe('string');
    const props = propMap(page1.objects[0]);
    expect(props['runtime.connectionState']).toEqual({ _typeName: 'HostSystemConnectionState', _value: 'connected' });
    expect(props.name).toEqual({ _typeName: 'string', _value: vc.inventory.hosts[0]?.name });
    expect(props['config.product']).toMatchObject({ _typeName: 'AboutInfo', build: '24280767', fullName: 'VMware ESXi 8.0.3 build-24280767' });
    expect(props['configManager.patchManager']).toEqual({ _typeName: 'ManagedObjectReference', value: 'patchManager-10', type: 'HostPatchManager' });
    expect(page1.objects[0].propSet.map((p: Json) => p._typeName)).toEqual(['DynamicProperty', 'DynamicProperty', 'DynamicProperty', 'DynamicProperty']);

    const seen = page1.objects.map((o: Json) => o.obj.value);
    let token: string | undefined = page1.token;
    while (token) {
      const next = await client.call(vc, 'POST', `${pc}/ContinueRetrievePropertiesEx`, { session: s, body: { token } });
      expect(next.status).toBe(200);
      const p = next.json as Json;
      seen.push(...p.objects.map((o: Json) => o.obj.value));
      // Tokens are single-use.
      const reuse = await client.call(vc, 'POST', `${pc}/ContinueRetrievePropertiesEx`, { session: s, body: { token } });
      expect(reuse.status).toBe(500);
      expect(reuse.json).toMatchObject({ _typeName: 'InvalidArgument', invalidProperty: 'token' });
      token = p.token;
    }
    expect(seen).toEqual(vc.inventory.hosts.map((h) => h.moId));
    expect(vc.stats().requests['POST /sdk/vim25/{release}/PropertyCollector/{moId}/ContinueRetrievePropertiesEx']).toBeGreaterThanOrEqual(2);
  });

  it('caps pages at the server policy size and supports CancelRetrievePropertiesEx', async () => {
    const paged = await startSimulator({ tls: false, size: { vcenters: 1 }, propertyCollectorPageSize: 4 });
    const c = new SimClient(paged);
    try {
      const v = paged.vcenters[0] as SimulatedVCenter;
      const s = await c.vimLogin(v);
      const pc = `${VIM}/PropertyCollector/propertyCollector`;
      const r = (await c.call(v, 'POST', `${pc}/RetrievePropertiesEx`, { session: s, body: { specSet: [inventoryTraversal(['name'])], options: {} } })).json as Json;
      expect(r.objects).toHaveLength(4);
      const smaller = (await c.call(v, 'POST', `${pc}/RetrievePropertiesEx`, { session: s, body: { specSet: [inventoryTraversal(['name'])], options: { maxObjects: 3 } } })).json as Json;
      expect(smaller.objects).toHaveLength(3);
      expect((await c.call(v, 'POST', `${pc}/CancelRetrievePropertiesEx`, { session: s, body: { token: r.token } })).status).toBe(204);
      expect((await c.call(v, 'POST', `${pc}/ContinueRetrievePropertiesEx`, { session: s, body: { token: r.token } })).status).toBe(500);
    } finally {
      await c.close();
      await paged.close();
    }
  });

  it('uses container views, omits unmatched types and handles missing objects', async () => {
    const s = await client.vimLogin(vc);
    const view = await client.call(vc, 'POST', `${VIM}/ViewManager/ViewManager/CreateContainerView`, {
      session: s,
      body: { _typeName: 'CreateContainerView', container: { _typeName: 'ManagedObjectReference', type: 'Folder', value: 'group-d1' }, type: ['HostSystem'], recursive: true },
    });
    expect(view.status).toBe(200);
    const ref = view.json as Json;
    expect(ref).toMatchObject({ _typeName: 'ManagedObjectReference', type: 'ContainerView' });
    expect(ref.value).toMatch(/^session\[[0-9a-f-]+\][0-9a-f-]+$/);

    const viewPath = `${VIM}/ContainerView/${encodeURIComponent(ref.value)}`;
    expect(((await client.call(vc, 'GET', `${viewPath}/view`, { session: s })).json as Json[]).length).toBe(12);
    const spec = {
      propSet: [{ type: 'HostSystem', pathSet: ['summary.config.product.build', 'runtime.inMaintenanceMode'] }],
      objectSet: [{ obj: ref, skip: true, selectSet: [{ _typeName: 'TraversalSpec', type: 'ContainerView', path: 'view', skip: false }] }],
    };
    const r = (await client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { session: s, body: { specSet: [spec], options: {} } })).json as Json;
    expect(r.token).toBeUndefined();
    expect(r.objects).toHaveLength(12);
    const mm = r.objects.find((o: Json) => o.obj.value === 'host-16');
    expect(propMap(mm)['runtime.inMaintenanceMode']).toEqual({ _typeName: 'boolean', _value: true });

    // Clusters in the view but no PropertySpec for them: skipped.
    const clusterView = (await client.call(vc, 'POST', `${VIM}/ViewManager/ViewManager/CreateContainerView`, {
      session: s,
      body: { container: { type: 'Folder', value: 'group-d1' }, type: ['ClusterComputeResource', 'HostSystem'], recursive: true },
    })).json as Json;
    const mixed = (await client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, {
      session: s,
      body: { specSet: [{ ...spec, objectSet: [{ obj: clusterView, skip: true, selectSet: [{ _typeName: 'TraversalSpec', type: 'ContainerView', path: 'view' }] }], propSet: [{ type: 'ClusterComputeResource', pathSet: ['name', 'host'] }] }], options: {} },
    })).json as Json;
    expect(mixed.objects.map((o: Json) => o.obj.type)).toEqual(['ClusterComputeResource', 'ClusterComputeResource', 'ClusterComputeResource']);
    expect(propMap(mixed.objects[0]).host).toMatchObject({ _typeName: 'ArrayOfManagedObjectReference' });

    // Missing objects: a fault unless reportMissingObjectsInResults.
    const missingSpec = { propSet: [{ type: 'HostSystem', pathSet: ['name'] }], objectSet: [{ obj: { type: 'HostSystem', value: 'host-10' } }, { obj: { type: 'HostSystem', value: 'host-999' } }] };
    const fault = await client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { session: s, body: { specSet: [missingSpec], options: {} } });
    expect(fault.status).toBe(500);
    expect(fault.json).toMatchObject({ _typeName: 'ManagedObjectNotFound', obj: { value: 'host-999' } });
    const reported = await client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { session: s, body: { specSet: [{ ...missingSpec, reportMissingObjectsInResults: true }], options: {} } });
    expect((reported.json as Json).objects.map((o: Json) => o.obj.value)).toEqual(['host-10']);

    expect((await client.call(vc, 'POST', `${viewPath}/DestroyView`, { session: s })).status).toBe(204);
    expect((await client.call(vc, 'GET', `${viewPath}/view`, { session: s })).json).toMatchObject({ _typeName: 'ManagedObjectNotFound' });
  });

  it('rejects invalid PropertyCollector requests with the spec faults', async () => {
    const s = await client.vimLogin(vc);
    const rpe = (body: unknown) => client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { session: s, body });
    // A body the spec's RetrievePropertiesExRequestType does not describe is refused before the collector sees it.
    expect((await rpe({ options: {} })).json).toMatchObject({ _typeName: 'InvalidRequest', faultstring: expect.stringContaining('specSet') });
    expect((await rpe({ specSet: [], options: {} })).json).toMatchObject({ _typeName: 'InvalidArgument', invalidProperty: 'specSet' });
    expect((await rpe({ specSet: [{ propSet: [{ type: 'HostSystem', pathSet: ['name'] }] }], options: {} })).json).toMatchObject({ _typeName: 'InvalidRequest', faultstring: expect.stringContaining('objectSet') });
    expect((await rpe({ specSet: [inventoryTraversal(['nme'])], options: {} })).json).toMatchObject({ _typeName: 'InvalidProperty', name: 'nme' });
    expect((await rpe({ specSet: [inventoryTraversal(['runtime.conectionState'])], options: {} })).json).toMatchObject({ _typeName: 'InvalidProperty' });
    expect((await rpe({ specSet: [inventoryTraversal(['name'], 'HostSistem')], options: {} })).json).toMatchObject({ _typeName: 'InvalidType', argument: 'HostSistem' });
    expect((await rpe({ specSet: [inventoryTraversal(['name'])], options: { maxObjects: 0 } })).json).toMatchObject({ _typeName: 'InvalidArgument' });
    // Unset properties are omitted; a valid spec matching nothing answers null.
    const none = await rpe({ specSet: [inventoryTraversal(['name'], 'VirtualMachine')], options: {} });
    expect(none.status).toBe(200);
    expect(none.json).toBeNull();
  });

  it('agrees with REST: each host build matches its installed image', async () => {
    for (const v of sim.vcenters) {
      const rest = await client.restLogin(v);
      const vim = await client.vimLogin(v);
      const r = (await client.call(v, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { session: vim, body: { specSet: [inventoryTraversal(['config.product', 'runtime.connectionState'])], options: {} } })).json as Json;
      const product = new Map<string, Json>(r.objects.map((o: Json) => [o.obj.value, propMap(o)['config.product'] as Json]));
      expect(product.size).toBe(v.inventory.hosts.length);
      let checked = 0;
      for (const c of v.inventory.clusters) {
        const info = (await client.call(v, 'GET', `/api/esx/settings/clusters/${c.moId}/installed-images`, { session: rest })).json as Json;
        const cat = info.image_categories;
        const images = [cat.most_widely_used_image, cat.highest_versioned_image, ...(cat.host_image_list ?? [])].filter(Boolean);
        for (const host of info.successful_hosts as string[]) {
          const image = images.find((i: Json) => i.host_list.includes(host));
          const about = product.get(host) as Json;
          const version: string = image.software_info.base_image.version; // e.g. 8.0.3-0.35.24280767
          expect(version.startsWith(`${about.version}-`)).toBe(true);
          expect(version.endsWith(`.${about.build}`)).toBe(true);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(0);
    }
  });

  it('answers 404 on every /sdk/vim25 path of a vCenter without VI/JSON', async () => {
    const old = await startSimulator({ tls: false, size: { vcenters: 2 }, perVcenter: [{ vimJson: false }] });
    const c = new SimClient(old);
    try {
      const [v1, v2] = old.vcenters as [SimulatedVCenter, SimulatedVCenter];
      expect((await c.call(v1, 'GET', `${VIM}/ServiceInstance/ServiceInstance/content`)).status).toBe(404);
      expect((await c.call(v1, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { userName: old.username, password: old.password } })).status).toBe(404);
      expect((await c.call(v2, 'GET', `${VIM}/ServiceInstance/ServiceInstance/content`)).status).toBe(200);
      // REST still works on the old one.
      expect(await c.restLogin(v1)).toMatch(/^[0-9a-f]{32}$/);
    } finally {
      await c.close();
      await old.close();
    }
  });
});

describe('simulator: /_sim/ observability', () => {
  it('counts route templates, logins and live sessions; /_sim/ is never counted', async () => {
    const v = sim.vcenters[1] as SimulatedVCenter;
    expect((await client.call(v, 'POST', '/_sim/reset')).status).toBe(204);
    await client.call(v, 'POST', '/_sim/expire-sessions');
    const rest = await client.restLogin(v);
    await client.call(v, 'POST', '/api/session', { headers: { authorization: 'Basic eDp5' } });
    const vim = await client.vimLogin(v);
    await client.call(v, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { userName: 'x', password: 'y' } });
    const clusterId = v.inventory.clusters[0]?.moId as string;
    await client.call(v, 'GET', `/api/esx/settings/clusters/${clusterId}/installed-images`, { session: rest });
    await client.call(v, 'GET', `/api/esx/settings/clusters/${clusterId}/installed-images`, { session: rest });
    await client.call(v, 'GET', '/api/vcenter/cluster', { session: rest });
    await client.call(v, 'GET', `${VIM}/HostSystem/${v.inventory.hosts[0]?.moId}/configManager`, { session: vim });
    await client.call(v, 'GET', `${VIM}/ServiceInstance/ServiceInstance/content`);
    await client.call(v, 'GET', '/api/definitely/not/a/route', { session: rest });

    const stats = (await client.call(v, 'GET', '/_sim/stats')).json as Json;
    expect(stats).toEqual(v.stats());
    expect(stats.requests).toEqual({
      'GET (unmatched)': 1,
      'GET /api/esx/settings/clusters/{cluster}/installed-images': 2,
      'GET /api/vcenter/cluster': 1,
      'GET /sdk/vim25/{release}/HostSystem/{moId}/configManager': 1,
      'GET /sdk/vim25/{release}/ServiceInstance/{moId}/content': 1,
      'POST /api/session': 2,
      'POST /sdk/vim25/{release}/SessionManager/{moId}/Login': 2,
    });
    expect(stats.totalRequests).toBe(10);
    expect(stats.logins).toEqual({ rest: 1, vim: 1 });
    expect(stats.failedLogins).toEqual({ rest: 1, vim: 1 });
    expect(stats.liveSessions).toEqual({ rest: 1, vim: 1 });

    v.resetStats();
    expect(v.stats().totalRequests).toBe(0);
    expect(v.stats().liveSessions).toEqual({ rest: 1, vim: 1 });
  });

  it('expires every session on demand', async () => {
    const v = sim.vcenters[1] as SimulatedVCenter;
    const rest = await client.restLogin(v);
    const vim = await client.vimLogin(v);
    expect((await client.call(v, 'POST', '/_sim/expire-sessions')).status).toBe(204);
    expect(v.stats().liveSessions).toEqual({ rest: 0, vim: 0 });
    expect((await client.call(v, 'GET', '/api/vcenter/cluster', { session: rest })).json).toEqual(UNAUTHENTICATED);
    expect((await client.call(v, 'GET', `${VIM}/Folder/group-d1/name`, { session: vim })).json).toMatchObject({ _typeName: 'NotAuthenticated' });
    // The programmatic form does the same.
    const again = await client.restLogin(v);
    v.expireSessions();
    expect((await client.call(v, 'GET', '/api/session', { session: again })).status).toBe(401);
  });

  it('injects latency on API routes but not on /_sim/', async () => {
    const v = sim.vcenters[1] as SimulatedVCenter;
    expect((await client.call(v, 'POST', '/_sim/latency', { body: { ms: 150 } })).status).toBe(204);
    try {
      const t = performance.now();
      await client.call(v, 'GET', `${VIM}/ServiceInstance/ServiceInstance/content`);
      expect(performance.now() - t).toBeGreaterThanOrEqual(140);
      // With a minute of latency, an answer within the 10 s abort can only mean "not delayed":
      // a margin no busy machine eats, unlike a bound just above the injected latency.
      expect((await client.call(v, 'POST', '/_sim/latency', { body: { ms: 60_000 } })).status).toBe(204);
      const stats = await client.call(v, 'GET', '/_sim/stats', { signal: AbortSignal.timeout(10_000) });
      expect(stats.status).toBe(200);
      expect((await client.call(v, 'POST', '/_sim/latency', { body: { ms: 'x' } })).status).toBe(400);
    } finally {
      v.setLatency(0);
    }
  });
});

describe('simulator: patch scans, tasks and WaitForUpdatesEx', () => {
  let scanSim: Simulator;
  let c: SimClient;
  let v: SimulatedVCenter;
  let s: string;
  const PC = `${VIM}/PropertyCollector/propertyCollector`;

  beforeAll(async () => {
    scanSim = await startSimulator({ tls: false, size: { vcenters: 1 }, patchScanDurationMs: 300 });
    c = new SimClient(scanSim);
    v = scanSim.vcenters[0] as SimulatedVCenter;
    s = await c.vimLogin(v);
  });

  afterAll(async () => {
    await c?.close();
    await scanSim?.close();
  });

  const info = async (task: string) => (await c.call(v, 'GET', `${VIM}/Task/${task}/info`, { session: s })).json as Json;
  const scan = (host: string, body: unknown = { _typeName: 'ScanHostPatchV2_Task', metaUrls: [DEPOT_URLS[0]] }) =>
    c.call(v, 'POST', `${VIM}/HostPatchManager/patchManager-${host.slice(5)}/ScanHostPatchV2_Task`, { session: s, body });

  it('runs a scan task to success with a HostPatchManagerResult', async () => {
    const started = await scan('host-10');
    expect(started.status).toBe(200);
    const task = started.json as Json;
    expect(task).toMatchObject({ _typeName: 'ManagedObjectReference', type: 'Task' });
    const first = await info(task.value);
    expect(first).toMatchObject({ _typeName: 'TaskInfo', key: task.value, name: 'ScanHostPatchV2_Task', entity: { value: 'host-10' }, cancelled: false, reason: { _typeName: 'TaskReasonUser', userName: 'VSPHERE.LOCAL\\Administrator' } });
    expect(['queued', 'running']).toContain(first.state);

    const busy = await scan('host-10');
    expect(busy.status).toBe(500);
    expect(busy.json).toMatchObject({ _typeName: 'TaskInProgress', task: { value: task.value } });

    await new Promise((r) => setTimeout(r, 400));
    const done = await info(task.value);
    expect(done).toMatchObject({ state: 'success', progress: 100, cancelable: false });
    expect(done.result._typeName).toBe('HostPatchManagerResult');
    const statuses = done.result.status as Json[];
    const build = v.inventory.hostById.get('host-10')?.image.release.build as string;
    expect(statuses.find((x) => x.id.endsWith(build))).toMatchObject({ installed: true, applicable: false });
    expect(statuses.some((x) => x.applicable)).toBe(true);

    // HostSystem.recentTask leads to the task (how the gateway lists recent scans).
    const recent = (await c.call(v, 'POST', `${PC}/RetrievePropertiesEx`, {
      session: s,
      body: { specSet: [{ propSet: [{ type: 'Task', pathSet: ['info'] }], objectSet: [{ obj: { type: 'HostSystem', value: 'host-10' }, skip: true, selectSet: [{ _typeName: 'TraversalSpec', type: 'HostSystem', path: 'recentTask', skip: false }] }] }], options: {} },
    })).json as Json;
    expect(recent.objects.map((o: Json) => o.obj.value)).toEqual([task.value]);
    expect(propMap(recent.objects[0]).info).toMatchObject({ _typeName: 'TaskInfo', state: 'success' });
  });

  it('cancels, fails on bad depots and refuses disconnected hosts', async () => {
    const task = ((await scan('host-11')).json as Json).value as string;
    expect((await c.call(v, 'POST', `${VIM}/Task/${task}/CancelTask`, { session: s })).status).toBe(204);
    expect(await info(task)).toMatchObject({ state: 'error', cancelled: true, error: { _typeName: 'RequestCanceled' } });
    const again = await c.call(v, 'POST', `${VIM}/Task/${task}/CancelTask`, { session: s });
    expect(again.json).toMatchObject({ _typeName: 'InvalidState' });

    const bad = ((await scan('host-12', { metaUrls: ['https://depot.invalid/metadata.zip'] })).json as Json).value as string;
    await new Promise((r) => setTimeout(r, 400));
    expect(await info(bad)).toMatchObject({ state: 'error', error: { _typeName: 'PlatformConfigFault' } });

    const down = await scan(v.inventory.specialCases.disconnectedHost as string);
    expect(down.status).toBe(500);
    expect((down.json as Json)._typeName).toBe('InvalidState');
    expect((await c.call(v, 'GET', `${VIM}/Task/task-9999/info`, { session: s })).json).toMatchObject({ _typeName: 'ManagedObjectNotFound' });
  });

  it('reports task changes through CreateFilter + WaitForUpdatesEx', async () => {
    const task = ((await scan('host-13')).json as Json).value as string;
    const filter = await c.call(v, 'POST', `${PC}/CreateFilter`, {
      session: s,
      body: { spec: { propSet: [{ type: 'Task', pathSet: ['info.state', 'info.progress'] }], objectSet: [{ obj: { type: 'Task', value: task } }] }, partialUpdates: false },
    });
    expect(filter.status).toBe(200);
    expect((filter.json as Json).type).toBe('PropertyFilter');

    const wait = (version: string, maxWaitSeconds: number) => c.call(v, 'POST', `${PC}/WaitForUpdatesEx`, { session: s, body: { version, options: { _typeName: 'WaitOptions', maxWaitSeconds } } });
    const initial = (await wait('', 5)).json as Json;
    expect(initial._typeName).toBe('UpdateSet');
    expect(initial.filterSet[0].objectSet[0]).toMatchObject({ kind: 'enter', obj: { value: task } });
    let version = initial.version as string;
    let state = '';
    for (let i = 0; i < 50 && state !== 'success'; i++) {
      const u = (await wait(version, 5)).json as Json;
      version = u.version;
      const change = (u.filterSet[0].objectSet[0].changeSet as Json[]).find((ch) => ch.name === 'info.state');
      if (change) state = change.val._value;
    }
    expect(state).toBe('success');
    // Nothing changes any more: the wait times out with null.
    const idle = await wait(version, 0);
    expect(idle.status).toBe(200);
    expect(idle.json).toBeNull();
    expect((await wait('42', 0)).json).toMatchObject({ _typeName: 'InvalidCollectorVersion' });

    // CancelWaitForUpdates ends a blocked wait with RequestCanceled.
    const pending = wait(version, 30);
    await new Promise((r) => setTimeout(r, 100));
    expect((await c.call(v, 'POST', `${PC}/CancelWaitForUpdates`, { session: s })).status).toBe(204);
    expect((await pending).json).toMatchObject({ _typeName: 'RequestCanceled' });

    expect((await c.call(v, 'POST', `${VIM}/PropertyFilter/${encodeURIComponent((filter.json as Json).value)}/DestroyPropertyFilter`, { session: s })).status).toBe(204);
  });
});
