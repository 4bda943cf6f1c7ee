// Contract tests: real simulator responses validated against the official
// vSphere OpenAPI specifications (the verbatim subsets in
// ../shared/vsphere-api/openapi/), checked by ./spec-validator.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimClient } from '../src/simulator/client.ts';
import { DEPOT_URLS, startSimulator } from '../src/simulator/index.ts';
import type { Simulator, SimulatedVCenter } from '../src/simulator/index.ts';
import { SPEC_DIR, restValidator, specsPresent, viJsonValidator } from './spec-validator.ts';
import type { SpecValidator } from './spec-validator.ts';

type Json = Record<string, any>;

// Without the specs there is no contract to check: that is a failure, never a skip.
it('finds the official OpenAPI subsets the contract is checked against', () => {
  expect(specsPresent, `official OpenAPI subsets not found in ${SPEC_DIR}: check out ../shared/vsphere-api/ next to this repository`).toBe(true);
});

describe('simulator contract: responses match the official OpenAPI schemas', () => {
  let sim: Simulator;
  let client: SimClient;
  let vc: SimulatedVCenter;
  let rest: SpecValidator;
  let vim: SpecValidator;
  const VIM = '/sdk/vim25/8.0.3.0';

  beforeAll(async () => {
    rest = restValidator();
    vim = viJsonValidator();
    sim = await startSimulator();
    client = new SimClient(sim);
    vc = sim.vcenters[0] as SimulatedVCenter;
  });

  afterAll(async () => {
    await client?.close();
    await sim?.close();
  });

  const expectValid = (validator: SpecValidator, name: string, value: unknown): void => {
    expect(validator.errors(name, value), `${name}: ${JSON.stringify(value).slice(0, 300)}`).toEqual([]);
  };

  it('the validators reject broken bodies', () => {
    const good = { cluster: 'domain-c8', name: 'C', ha_enabled: true, drs_enabled: false };
    expect(rest.errors('Vcenter.Cluster.Summary', good)).toEqual([]);
    // misspelled required field
    expect(rest.errors('Vcenter.Cluster.Summary', { cluster: 'domain-c8', name: 'C', ha_enabled: true, drs_enabeld: false }).length).toBeGreaterThan(0);
    // wrong enum value
    expect(rest.errors('Esx.Settings.Clusters.InstalledImages.InstalledImageInfo.Status', 'DONE').length).toBeGreaterThan(0);
    // misspelled optional field, nested
    expect(rest.errors('Esx.Settings.BaseImageInfo', { version: '8.0.3', details: { display_name: 'ESXi', display_version: '8.0 U3', release_date: '2024-06-25T00:00:00Z', releaseDate: 'x' } }).length).toBeGreaterThan(0);
    // bad date-time
    expect(rest.errors('Cis.Session.Info', { user: 'u', created_time: 'yesterday', last_accessed_time: '2024-06-25T00:00:00Z' }).length).toBeGreaterThan(0);
    // VI/JSON: missing required, misspelled MoRef field, undeclared fault field
    expect(vim.errors('ManagedObjectNotFound', { _typeName: 'ManagedObjectNotFound', faultstring: 'x' }).length).toBeGreaterThan(0);
    expect(vim.errors('ManagedObjectReference', { _typeName: 'ManagedObjectReference', type: 'HostSystem', valeu: 'host-1' }).length).toBeGreaterThan(0);
    expect(vim.errors('ManagedObjectReference', { _typeName: 'ManagedObjectReference', type: 'NoSuchType', value: 'x' }).length).toBeGreaterThan(0);
    expect(vim.errors('InvalidLogin', { _typeName: 'InvalidLogin', faultstring: 'x', faultMesage: [] }).length).toBeGreaterThan(0);
    const moref = { _typeName: 'ManagedObjectReference', value: 'host-1', type: 'HostSystem' };
    const okResult = { _typeName: 'RetrieveResult', objects: [{ _typeName: 'ObjectContent', obj: moref, propSet: [{ _typeName: 'DynamicProperty', name: 'name', val: { _typeName: 'string', _value: 'esx' } }] }] };
    expect(vim.errors('RetrieveResult', okResult)).toEqual([]);
    expect(vim.errors('RetrieveResult', { _typeName: 'RetrieveResult', objects: [{ _typeName: 'ObjectContent', propSet: [] }] }).length).toBeGreaterThan(0);
    expect(vim.errors('RetrieveResult', { _typeName: 'RetrieveResult', objects: [{ _typeName: 'ObjectContent', obj: moref, propSet: [{ _typeName: 'DynamicProperty', name: 'name', val: { _typeName: 'string', value: 'esx' } }] }] }).length).toBeGreaterThan(0);
    expect(vim.errors('RetrieveResult', { _typeName: 'RetrieveResult', objects: [{ _typeName: 'ObjectContent', obj: moref, propSet: [{ _typeName: 'DynamicProperty', name: 'name', val: 'esx' }] }] }).length).toBeGreaterThan(0);
  });

  it('REST session create, session info, 401 and 404 bodies', async () => {
    const created = await client.call(vc, 'POST', '/api/session', { headers: { authorization: `Basic ${Buffer.from(`${sim.username}:${sim.password}`).toString('base64')}` } });
    expect(created.status).toBe(201);
    expect(typeof created.json).toBe('string');
    const s = created.json as string;
    expectValid(rest, 'Cis.Session.Info', (await client.call(vc, 'GET', '/api/session', { session: s })).json);

    const unauth = await client.call(vc, 'GET', '/api/vcenter/cluster');
    expect(unauth.status).toBe(401);
    expectValid(rest, 'Vapi.Std.Errors.Unauthenticated', unauth.json);
    const notFound = await client.call(vc, 'GET', '/api/esx/settings/clusters/domain-c999/installed-images', { session: s });
    expect(notFound.status).toBe(404);
    expectValid(rest, 'Vapi.Std.Errors.NotFound', notFound.json);
    const noImage = await client.call(vc, 'GET', `/api/esx/settings/clusters/${vc.inventory.specialCases.notImageManagedCluster}/software`, { session: s });
    expect(noImage.status).toBe(404);
    expectValid(rest, 'Vapi.Std.Errors.NotFound', noImage.json);
    const badArg = await client.call(vc, 'GET', '/api/vcenter/host?connection_states=BOGUS', { session: s });
    expect(badArg.status).toBe(400);
    expectValid(rest, 'Vapi.Std.Errors.InvalidArgument', badArg.json);
  });

  it('REST cluster list, cluster info, host list, limits', async () => {
    const s = await client.restLogin(vc);
    const clusters = (await client.call(vc, 'GET', '/api/vcenter/cluster', { session: s })).json as Json[];
    expect(clusters.length).toBeGreaterThan(0);
    for (const c of clusters) expectValid(rest, 'Vcenter.Cluster.Summary', c);
    expectValid(rest, 'Vcenter.Cluster.Info', (await client.call(vc, 'GET', `/api/vcenter/cluster/${clusters[0]?.cluster}`, { session: s })).json);
    const hosts = (await client.call(vc, 'GET', '/api/vcenter/host', { session: s })).json as Json[];
    for (const h of hosts) {
      expectValid(rest, 'Vcenter.Host.Summary', h);
      expectValid(rest, 'Vcenter.Host.ConnectionState', h.connection_state);
      if (h.power_state !== undefined) expectValid(rest, 'Vcenter.Host.PowerState', h.power_state);
    }

    const small = await startSimulator({ tls: false, size: { vcenters: 1 }, restListLimits: { clusters: 1, hosts: 1 } });
    const c = new SimClient(small);
    try {
      const v = small.vcenters[0] as SimulatedVCenter;
      const ss = await c.restLogin(v);
      for (const path of ['/api/vcenter/cluster', '/api/vcenter/host']) {
        const r = await c.call(v, 'GET', path, { session: ss });
        expect(r.status).toBe(500);
        expectValid(rest, 'Vapi.Std.Errors.UnableToAllocateResource', r.json);
      }
    } finally {
      await c.close();
      await small.close();
    }
  });

  it('REST installed-images for every cluster (all special cases) and software', async () => {
    for (const v of sim.vcenters) {
      const s = await client.restLogin(v);
      for (const cluster of v.inventory.clusters) {
        const info = await client.call(v, 'GET', `/api/esx/settings/clusters/${cluster.moId}/installed-images`, { session: s });
        expect(info.status).toBe(200);
        expectValid(rest, 'Esx.Settings.Clusters.InstalledImages.InstalledImageInfo', info.json);
        expectValid(rest, 'Esx.Settings.Clusters.InstalledImages.InstalledImageInfo.Status', (info.json as Json).status);
        for (const [op, n] of Object.entries((info.json as Json).notifications)) {
          expectValid(rest, 'Esx.Settings.Clusters.InstalledImages.InstalledImageInfo.OperationType', op);
          for (const list of Object.values(n as Json)) for (const item of list as Json[]) expectValid(rest, 'Esx.Settings.Notification.Type', item.type);
        }
        const sw = await client.call(v, 'GET', `/api/esx/settings/clusters/${cluster.moId}/software`, { session: s });
        if (cluster.managedBySingleImage) {
          expect(sw.status).toBe(200);
          expectValid(rest, 'Esx.Settings.SoftwareInfo', sw.json);
        } else {
          expect(sw.status).toBe(404);
        }
      }
    }
  });

  it('VI/JSON ServiceContent, UserSession, property values and faults', async () => {
    const content = await client.call(vc, 'GET', `${VIM}/ServiceInstance/ServiceInstance/content`);
    expectValid(vim, 'ServiceContent', content.json);

    const login = await client.call(vc, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { _typeName: 'Login', userName: sim.username, password: sim.password } });
    expectValid(vim, 'LoginRequestType', { userName: sim.username, password: sim.password });
    expectValid(vim, 'UserSession', login.json);
    const s = login.headers['vmware-api-session-id'] as string;

    const badLogin = await client.call(vc, 'POST', `${VIM}/SessionManager/SessionManager/Login`, { body: { userName: sim.username, password: 'x' } });
    expect(badLogin.status).toBe(500);
    expectValid(vim, 'InvalidLogin', badLogin.json);
    const notAuth = await client.call(vc, 'GET', `${VIM}/HostSystem/host-10/configManager`);
    expect(notAuth.status).toBe(500);
    expectValid(vim, 'NotAuthenticated', notAuth.json);
    const missing = await client.call(vc, 'GET', `${VIM}/HostSystem/host-999/configManager`, { session: s });
    expectValid(vim, 'ManagedObjectNotFound', missing.json);
    const badProp = await client.call(vc, 'GET', `${VIM}/HostSystem/host-10/nope`, { session: s });
    expectValid(vim, 'InvalidProperty', badProp.json);

    expectValid(vim, 'HostConfigManager', (await client.call(vc, 'GET', `${VIM}/HostSystem/host-10/configManager`, { session: s })).json);
    const hostRefs = (await client.call(vc, 'GET', `${VIM}/ClusterComputeResource/domain-c8/host`, { session: s })).json as Json[];
    for (const r of hostRefs) expectValid(vim, 'ManagedObjectReference', r);
    const about = ((await client.call(vc, 'GET', `${VIM}/HostSystem/host-10/config`, { session: s })).json as Json).product;
    expectValid(vim, 'AboutInfo', about);
  });

  it('VI/JSON RetrieveResult (paged, all properties), container views and PC faults', async () => {
    const s = await client.vimLogin(vc);
    const view = (await client.call(vc, 'POST', `${VIM}/ViewManager/ViewManager/CreateContainerView`, {
      session: s,
      body: { container: { _typeName: 'ManagedObjectReference', type: 'Folder', value: 'group-d1' }, type: [], recursive: true },
    })).json as Json;
    expectValid(vim, 'ManagedObjectReference', view);
    const request = {
      specSet: [{
        _typeName: 'PropertyFilterSpec',
        propSet: [
          { _typeName: 'PropertySpec', type: 'HostSystem', pathSet: ['name', 'parent', 'runtime', 'config.product', 'configManager.patchManager', 'summary'] },
          { _typeName: 'PropertySpec', type: 'ManagedEntity', all: true },
        ],
        objectSet: [{ _typeName: 'ObjectSpec', obj: view, skip: true, selectSet: [{ _typeName: 'TraversalSpec', type: 'ContainerView', path: 'view', skip: false }] }],
      }],
      options: { _typeName: 'RetrieveOptions', maxObjects: 7 },
    };
    expectValid(vim, 'RetrievePropertiesExRequestType', request);
    const first = await client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { session: s, body: request });
    expect(first.status).toBe(200);
    expectValid(vim, 'RetrieveResult', first.json);
    let token = (first.json as Json).token as string | undefined;
    expect(token).toBeDefined();
    while (token) {
      expectValid(vim, 'ContinueRetrievePropertiesExRequestType', { token });
      const next = await client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/ContinueRetrievePropertiesEx`, { session: s, body: { token } });
      expectValid(vim, 'RetrieveResult', next.json);
      token = (next.json as Json).token;
    }

    const rpe = (body: unknown) => client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { session: s, body });
    expectValid(vim, 'InvalidArgument', (await rpe({ specSet: [], options: {} })).json);
    expectValid(vim, 'InvalidRequest', (await rpe({ options: {} })).json);
    expectValid(vim, 'InvalidProperty', (await rpe({ specSet: [{ ...request.specSet[0], propSet: [{ type: 'HostSystem', pathSet: ['bogus'] }] }], options: {} })).json);
    expectValid(vim, 'InvalidType', (await rpe({ specSet: [{ ...request.specSet[0], propSet: [{ type: 'Bogus' }] }], options: {} })).json);
    expectValid(vim, 'ManagedObjectNotFound', (await rpe({ specSet: [{ propSet: [{ type: 'HostSystem', pathSet: ['name'] }], objectSet: [{ obj: { type: 'HostSystem', value: 'host-999' } }] }], options: {} })).json);
    const notAuth = await client.call(vc, 'POST', `${VIM}/PropertyCollector/propertyCollector/RetrievePropertiesEx`, { body: request });
    expectValid(vim, 'NotAuthenticated', notAuth.json);
  });

  it('VI/JSON patch scan Task, TaskInfo, UpdateSet and scan faults', async () => {
    const fast = await startSimulator({ tls: false, size: { vcenters: 1 }, patchScanDurationMs: 100 });
    const c = new SimClient(fast);
    try {
      const v = fast.vcenters[0] as SimulatedVCenter;
      const s = await c.vimLogin(v);
      const body = { metaUrls: [...DEPOT_URLS] };
      expectValid(vim, 'ScanHostPatchV2RequestType', body);
      const task = (await c.call(v, 'POST', `${VIM}/HostPatchManager/patchManager-10/ScanHostPatchV2_Task`, { session: s, body })).json as Json;
      expectValid(vim, 'ManagedObjectReference', task);
      const busy = await c.call(v, 'POST', `${VIM}/HostPatchManager/patchManager-10/ScanHostPatchV2_Task`, { session: s, body });
      expectValid(vim, 'TaskInProgress', busy.json);

      const filterReq = { spec: { _typeName: 'PropertyFilterSpec', propSet: [{ _typeName: 'PropertySpec', type: 'Task', pathSet: ['info'] }], objectSet: [{ _typeName: 'ObjectSpec', obj: task }] }, partialUpdates: false };
      expectValid(vim, 'CreateFilterRequestType', filterReq);
      const filter = (await c.call(v, 'POST', `${VIM}/PropertyCollector/propertyCollector/CreateFilter`, { session: s, body: filterReq })).json as Json;
      expectValid(vim, 'ManagedObjectReference', filter);
      const waitReq = { version: '', options: { _typeName: 'WaitOptions', maxWaitSeconds: 5 } };
      expectValid(vim, 'WaitForUpdatesExRequestType', waitReq);
      const updates = (await c.call(v, 'POST', `${VIM}/PropertyCollector/propertyCollector/WaitForUpdatesEx`, { session: s, body: waitReq })).json;
      expectValid(vim, 'UpdateSet', updates);

      await new Promise((r) => setTimeout(r, 200));
      const info = (await c.call(v, 'GET', `${VIM}/Task/${task.value}/info`, { session: s })).json as Json;
      expect(info.state).toBe('success');
      expectValid(vim, 'TaskInfo', info);
      expectValid(vim, 'HostPatchManagerResult', info.result);
      expectValid(vim, 'TaskInfoState_enum', info.state);

      const cancelled = (await c.call(v, 'POST', `${VIM}/HostPatchManager/patchManager-11/ScanHostPatchV2_Task`, { session: s, body })).json as Json;
      await c.call(v, 'POST', `${VIM}/Task/${cancelled.value}/CancelTask`, { session: s });
      expectValid(vim, 'TaskInfo', (await c.call(v, 'GET', `${VIM}/Task/${cancelled.value}/info`, { session: s })).json);
      const again = await c.call(v, 'POST', `${VIM}/Task/${cancelled.value}/CancelTask`, { session: s });
      expectValid(vim, 'InvalidState', again.json);

      // A depot that cannot be read fails the task with PlatformConfigFault; an unreachable host is InvalidState at once.
      const failing = (await c.call(v, 'POST', `${VIM}/HostPatchManager/patchManager-12/ScanHostPatchV2_Task`, { session: s, body: { metaUrls: ['gopher://depot.example/metadata.zip'] } })).json as Json;
      await new Promise((r) => setTimeout(r, 150));
      const failed = (await c.call(v, 'GET', `${VIM}/Task/${failing.value}/info`, { session: s })).json as Json;
      expect(failed.state).toBe('error');
      expectValid(vim, 'TaskInfo', failed);
      expectValid(vim, 'PlatformConfigFault', failed.error);
      expectValid(vim, 'RequestCanceled', ((await c.call(v, 'GET', `${VIM}/Task/${cancelled.value}/info`, { session: s })).json as Json).error);
      const down = await c.call(v, 'POST', `${VIM}/HostPatchManager/patchManager-${(v.inventory.specialCases.disconnectedHost as string).slice(5)}/ScanHostPatchV2_Task`, { session: s, body });
      expectValid(vim, 'InvalidState', down.json);
      expectValid(vim, 'ManagedObjectReference', ((await c.call(v, 'GET', `${VIM}/TaskManager/TaskManager/recentTask`, { session: s })).json as Json[])[0]);
    } finally {
      await c.close();
      await fast.close();
    }
  });
});
