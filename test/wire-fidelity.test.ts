/**
 * Wire fidelity (issue 11): the gateway speaks VI/JSON and REST as the official specs define
 * them (the simulator validates every request), and survives every spec-valid answer the
 * simulator's quirks produce: open enums, absent optional members, tasks vCenter drops,
 * endless paging, unlisted releases, InvalidState, and hosts gone since an extraction.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEPOT_URLS, FUTURE_ENUM_VALUES, startSimulator } from '../src/simulator/index.ts';
import type { SimulatedVCenter } from '../src/simulator/index.ts';
import { SimClient } from '../src/simulator/client.ts';
import { specsPresent } from '../src/simulator/spec-schemas.ts';
import { sseSubscribe } from './clients.ts';
import { eventually, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const DEPOT = DEPOT_URLS[0]!;
const SCAN_ROUTE = 'POST /sdk/vim25/{release}/HostPatchManager/{moId}/ScanHostPatchV2_Task';
const CONTINUE_ROUTE = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/ContinueRetrievePropertiesEx';
const CREATE_FILTER = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/CreateFilter';
const DESTROY_FILTER = 'POST /sdk/vim25/{release}/PropertyFilter/{moId}/DestroyPropertyFilter';
const SIZE = { vcenters: 1, datacentersPerVcenter: 1, clustersPerDatacenter: 2, hostsPerCluster: 4 };

const START_HOSTS = `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) {
  scans { id state stateRaw host { moId } } userErrors { message field code } } }`;
const START_CLUSTER = `mutation($input: ClusterPatchScanStartInput!) { clusterPatchScanStart(input: $input) {
  scans { id host { moId } } skippedHosts { host { moId } reason } userErrors { message field code } } }`;
const SCAN_FIELDS = `id state stateRaw progress startedAt completedAt host { moId }
  result { patches { id reasons reasonsRaw integrity integrityRaw installState installStateRaw prerequisitePatches { installState installStateRaw } } }`;
const SUBSCRIPTION = `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { ${SCAN_FIELDS} } }`;
const HOSTS = `{ hosts { nodes { id moId name connectionState connectionStateRaw powerState powerStateRaw product { build } cluster { moId } } } }`;
const IMAGES = `{ clusters { nodes { id moId installedImages {
  status statusRaw successfulHosts { moId name } hostInfo { host { moId } name isVsanWitness }
  imageCategories { mostWidelyUsedImage { hosts { moId } } highestVersionedImage { hosts { moId } } hostImageList { hosts { moId } } }
  hostNotifications { host { moId } notifications { errors { type typeRaw resolution { id } originator retriable } } }
  notifications { operation operationRaw notifications { info { type typeRaw } warnings { type typeRaw } errors { type typeRaw resolution { id } originator retriable } } }
} } } }`;

function vc(h: Harness): SimulatedVCenter {
  return h.sim.vcenters[0]!;
}

async function connectedHosts(h: Harness): Promise<{ id: string; moId: string; name: string; cluster: { moId: string } }[]> {
  const res = await h.gql(HOSTS);
  expect(res.errors).toBeUndefined();
  return res.data.hosts.nodes.filter((x: any) => x.connectionState === 'CONNECTED');
}

describe.skipIf(!specsPresent())('requests as the spec defines them', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: SIZE, patchScanDurationMs: 300 }, undefined, { taskWatcher: { maxWaitSeconds: 5 } });
  });
  afterAll(() => h?.close());

  it('sends ScanHostPatchV2_Task with the request type ScanHostPatchV2RequestType, which the simulator validates', async () => {
    const [host] = await connectedHosts(h);
    vc(h).resetStats();
    const res = await h.gql(START_HOSTS, { input: { hostIds: [host!.id], metaUrls: [DEPOT] } });
    expect(res.errors).toBeUndefined();
    expect(res.data.hostPatchScanStart.userErrors).toEqual([]);
    expect(res.data.hostPatchScanStart.scans).toHaveLength(1);
    const stats = vc(h).stats();
    expect(stats.validatedRequests[SCAN_ROUTE]).toBe(1);
    expect(stats.invalidRequests).toEqual({});
    await sseSubscribe(h.url, SUBSCRIPTION, { ids: [res.data.hostPatchScanStart.scans[0].id] });
  });

  it('refuses a request the spec calls invalid: VI/JSON InvalidRequest, REST 400 INVALID_ARGUMENT', async () => {
    const client = new SimClient(h.sim);
    try {
      const v = vc(h);
      v.resetStats();
      const session = await client.vimLogin(v);
      const scan = (body: unknown) =>
        client.call(v, 'POST', '/sdk/vim25/8.0.3.0/HostPatchManager/patchManager-10/ScanHostPatchV2_Task', { session, body });
      const wrongType = await scan({ _typeName: 'ScanHostPatchV2_TaskRequestType', metaUrls: [DEPOT] });
      expect(wrongType.status).toBe(500);
      expect(wrongType.json).toMatchObject({ _typeName: 'InvalidRequest', faultstring: expect.stringContaining('ScanHostPatchV2RequestType') });
      const misspelled = await scan({ metaUrl: [DEPOT] });
      expect(misspelled.json).toMatchObject({ _typeName: 'InvalidRequest', faultstring: expect.stringContaining('metaUrl') });
      const rest = await client.restLogin(v);
      const badParam = await client.call(v, 'GET', '/api/vcenter/host?connection_states=CONNECTED&clusterz=domain-c8', { session: rest });
      expect(badParam.status).toBe(400);
      expect(badParam.json).toMatchObject({ error_type: 'INVALID_ARGUMENT', messages: [{ default_message: expect.stringContaining('clusterz') }] });
      const stats = v.stats();
      expect(stats.invalidRequests).toEqual({ [SCAN_ROUTE]: 2, 'GET /api/vcenter/host': 1 });
      // The login and the refused requests were all checked; nothing was started.
      expect(stats.validatedRequests).toMatchObject({ [SCAN_ROUTE]: 2, 'GET /api/vcenter/host': 1, 'POST /sdk/vim25/{release}/SessionManager/{moId}/Login': 1 });
      expect(stats.runningTasks).toBe(0);
    } finally {
      await client.close();
    }
  });
});

describe('simulator without the spec subsets', () => {
  it('starts and serves unvalidated where ../shared is absent (a deployed container), and says so once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    process.env['VSPHERE_API_SPEC_DIR'] = '/nonexistent/vsphere-api/openapi';
    try {
      const sims = [await startSimulator({ size: SIZE, tls: false }), await startSimulator({ size: SIZE, tls: false })];
      const client = new SimClient(sims[0]!);
      try {
        const v = sims[0]!.vcenters[0]!;
        expect((await client.call(v, 'GET', '/api/vcenter/host?clusterz=x', { session: await client.restLogin(v) })).status).toBe(200);
        expect(v.stats().validatedRequests).toEqual({});
      } finally {
        await client.close();
        await Promise.all(sims.map((s) => s.close()));
      }
      const notes = warn.mock.calls.filter((c) => String(c[0]).includes('not validated'));
      expect(notes).toHaveLength(1);
      expect(String(notes[0]![0])).toContain('/nonexistent/vsphere-api/openapi');
    } finally {
      delete process.env['VSPHERE_API_SPEC_DIR'];
      warn.mockRestore();
    }
  });
});

describe('answers a later vSphere release or a sparse vCenter may give', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: SIZE, patchScanDurationMs: 400 }, undefined, { taskWatcher: { maxWaitSeconds: 5 } });
  });
  afterAll(() => h?.close());
  afterEach(() => {
    vc(h).setQuirks({});
    vc(h).clearFaults();
  });

  it('shows enum values added by a later release as UNKNOWN with the raw value', async () => {
    vc(h).setQuirks({ unknownEnumValues: ['HostSystemConnectionState', 'HostSystemPowerState', 'InstalledImageStatus', 'NotificationType', 'InstalledImageOperation'] });
    const hosts = await h.gql(HOSTS);
    expect(hosts.errors).toBeUndefined();
    for (const host of hosts.data.hosts.nodes) {
      expect(host).toMatchObject({
        connectionState: 'UNKNOWN',
        connectionStateRaw: FUTURE_ENUM_VALUES.HostSystemConnectionState,
        powerState: 'UNKNOWN',
        powerStateRaw: FUTURE_ENUM_VALUES.HostSystemPowerState,
      });
    }
    const images = await h.gql(IMAGES);
    expect(images.errors).toBeUndefined();
    const infos = images.data.clusters.nodes.map((c: any) => c.installedImages);
    for (const info of infos) expect(info).toMatchObject({ status: 'UNKNOWN', statusRaw: FUTURE_ENUM_VALUES.InstalledImageStatus });
    const operations = infos.flatMap((i: any) => i.notifications);
    expect(operations.length).toBeGreaterThan(0);
    for (const op of operations) expect(op).toMatchObject({ operation: 'UNKNOWN', operationRaw: FUTURE_ENUM_VALUES.InstalledImageOperation });
    const typed = operations.flatMap((op: any) => [...op.notifications.info, ...op.notifications.warnings, ...op.notifications.errors]).filter((n: any) => n.typeRaw !== null);
    expect(typed.length).toBeGreaterThan(0);
    for (const n of typed) expect(n).toEqual(expect.objectContaining({ type: 'UNKNOWN', typeRaw: FUTURE_ENUM_VALUES.NotificationType }));
  });

  it('shows task states and patch results of a later release as UNKNOWN with the raw value', async () => {
    const [host] = await connectedHosts(h);
    vc(h).setQuirks({ unknownEnumValues: ['TaskInfoState', 'PatchReason', 'PatchIntegrity', 'PatchInstallState'] });
    const started = await h.gql(START_HOSTS, { input: { hostIds: [host!.id], metaUrls: DEPOT_URLS } });
    expect(started.data.hostPatchScanStart.userErrors).toEqual([]);
    const id = started.data.hostPatchScanStart.scans[0].id;
    const stream = await sseSubscribe(h.url, SUBSCRIPTION, { ids: [id] });
    expect(stream.completed).toBe(true);
    for (const event of stream.events) expect(event.errors).toBeUndefined();
    const states = stream.events.map((e) => [e.data.patchScanUpdated.state, e.data.patchScanUpdated.stateRaw]);
    // Running is the later release's 'paused': shown, not terminal, and the scan still ends in SUCCESS.
    expect(states).toContainEqual(['UNKNOWN', FUTURE_ENUM_VALUES.TaskInfoState]);
    expect(states.at(-1)).toEqual(['SUCCESS', 'success']);
    const patches = stream.events.at(-1)!.data.patchScanUpdated.result.patches;
    expect(patches.length).toBeGreaterThan(0);
    for (const p of patches) {
      expect(p.integrity).toBe('UNKNOWN');
      expect(p.integrityRaw).toBe(FUTURE_ENUM_VALUES.PatchIntegrity);
      expect(p.reasons.every((r: string) => r === 'UNKNOWN')).toBe(true);
      expect(p.reasonsRaw.every((r: string) => r === FUTURE_ENUM_VALUES.PatchReason)).toBe(true);
      expect(p.installState.every((r: string) => r === 'UNKNOWN')).toBe(true);
    }
    expect(patches.some((p: any) => p.reasonsRaw.length > 0)).toBe(true);
    expect(patches.some((p: any) => p.installStateRaw.includes(FUTURE_ENUM_VALUES.PatchInstallState))).toBe(true);
  });

  it('refuses a host without configManager.patchManager with a typed userError; the cluster scan skips it and says why', async () => {
    const hosts = await connectedHosts(h);
    const [a, b] = hosts.filter((x) => x.cluster.moId === hosts[0]!.cluster.moId);
    vc(h).resetStats();
    vc(h).setQuirks({ omit: ['HostSystem.configManager.patchManager'] });
    const res = await h.gql(START_HOSTS, { input: { hostIds: [a!.id, b!.id], metaUrls: [DEPOT] } });
    expect(res.errors).toBeUndefined();
    expect(res.data.hostPatchScanStart.scans).toEqual([]);
    expect(res.data.hostPatchScanStart.userErrors).toEqual([
      { message: expect.stringMatching(/no patch manager/), field: ['hostIds', '0'], code: 'NOT_SUPPORTED' },
      { message: expect.stringMatching(/no patch manager/), field: ['hostIds', '1'], code: 'NOT_SUPPORTED' },
    ]);
    const clusters = await h.gql(`{ clusters { nodes { id moId } } }`);
    const cluster = clusters.data.clusters.nodes.find((c: any) => c.moId === a!.cluster.moId);
    const cl = await h.gql(START_CLUSTER, { input: { clusterId: cluster.id, metaUrls: [DEPOT] } });
    expect(cl.errors).toBeUndefined();
    const payload = cl.data.clusterPatchScanStart;
    expect(payload.scans).toEqual([]);
    const connected = hosts.filter((x) => x.cluster.moId === cluster.moId).map((x) => x.moId);
    const skippedForManager = payload.skippedHosts.filter((s: any) => /no patch manager/.test(s.reason)).map((s: any) => s.host.moId);
    expect(skippedForManager.sort()).toEqual(connected.sort());
    expect(payload.userErrors.every((e: any) => e.code === 'NOT_SUPPORTED')).toBe(true);
    expect(vc(h).stats().requests[SCAN_ROUTE] ?? 0).toBe(0);
  });

  it('returns the scans it started although TaskInfo has no entity, and follows them with their host', async () => {
    const hosts = await connectedHosts(h);
    const picked = hosts.slice(0, 2);
    vc(h).setQuirks({ omit: ['TaskInfo.entity'] });
    const res = await h.gql(START_HOSTS, { input: { hostIds: picked.map((x) => x.id), metaUrls: [DEPOT] } });
    expect(res.errors).toBeUndefined();
    expect(res.data.hostPatchScanStart.userErrors).toEqual([]);
    const scans = res.data.hostPatchScanStart.scans;
    expect(scans.map((s: any) => s.host.moId).sort()).toEqual(picked.map((x) => x.moId).sort());
    const stream = await sseSubscribe(h.url, SUBSCRIPTION, { ids: scans.map((s: any) => s.id) });
    expect(stream.completed).toBe(true);
    expect(stream.events.length).toBeGreaterThanOrEqual(2);
    for (const event of stream.events) {
      expect(event.errors).toBeUndefined();
      const scan = scans.find((s: any) => s.id === event.data.patchScanUpdated.id);
      expect(event.data.patchScanUpdated.host.moId).toBe(scan.host.moId);
    }
  });

  // One optional member left out at a time: the gateway answers null (or an empty list),
  // never INTERNAL_SERVER_ERROR. `check` gets the GraphQL data and asserts the absence shows.
  const cases: { omit: string; query: string; check: (data: any) => void }[] = [
    { omit: 'HostSystem.parent', query: HOSTS, check: (d) => expect(d.hosts.nodes.every((x: any) => x.cluster === null)).toBe(true) },
    { omit: 'HostSystem.config', query: HOSTS, check: (d) => expect(d.hosts.nodes.every((x: any) => x.product === null)).toBe(true) },
    { omit: 'HostSystem.config.product', query: HOSTS, check: (d) => expect(d.hosts.nodes.every((x: any) => x.product === null)).toBe(true) },
    {
      omit: 'InstalledImageInfo.image_categories.most_widely_used_image',
      query: IMAGES,
      check: (d) => expect(d.clusters.nodes.every((c: any) => c.installedImages.imageCategories.mostWidelyUsedImage === null)).toBe(true),
    },
    {
      omit: 'InstalledImageInfo.image_categories.highest_versioned_image',
      query: IMAGES,
      check: (d) => expect(d.clusters.nodes.every((c: any) => c.installedImages.imageCategories.highestVersionedImage === null)).toBe(true),
    },
    {
      omit: 'InstalledImageInfo.image_categories.host_image_list',
      query: IMAGES,
      check: (d) => expect(d.clusters.nodes.every((c: any) => c.installedImages.imageCategories.hostImageList === null)).toBe(true),
    },
    {
      omit: 'InstalledImageInfo.host_info.*.is_vsan_witness',
      query: IMAGES,
      check: (d) => expect(d.clusters.nodes.flatMap((c: any) => c.installedImages.hostInfo).every((i: any) => i.isVsanWitness === null)).toBe(true),
    },
    ...['type', 'resolution', 'originator', 'retriable'].map((field) => ({
      omit: `Notification.${field}`,
      query: IMAGES,
      check: (d: any) => {
        const all = d.clusters.nodes.flatMap((c: any) => c.installedImages.notifications.flatMap((o: any) => [...o.notifications.info, ...o.notifications.warnings, ...o.notifications.errors]));
        expect(all.length).toBeGreaterThan(0);
        const graphqlField = field === 'type' ? 'typeRaw' : field;
        expect(all.every((n: any) => n[graphqlField] === undefined || n[graphqlField] === null)).toBe(true);
      },
    })),
  ];
  it.each(cases)('answers without $omit (an optional member)', async ({ omit, query, check }) => {
    vc(h).setQuirks({ omit: [omit] });
    const res = await h.gql(query);
    expect(res.errors).toBeUndefined();
    check(res.data);
  });

  it.each(['TaskInfo.progress', 'TaskInfo.startTime', 'TaskInfo.completeTime', 'TaskInfo.name', 'TaskInfo.entityName', 'HostPatchManagerStatus.integrity', 'HostPatchManagerStatus.reason', 'HostPatchManagerStatus.installState', 'HostPatchManagerStatus.prerequisitePatch'])(
    'follows a scan to its end without %s (an optional member)',
    async (omit) => {
      const hosts = await connectedHosts(h);
      vc(h).setQuirks({ omit: [omit] });
      const res = await h.gql(START_HOSTS, { input: { hostIds: [hosts[hosts.length - 1]!.id], metaUrls: [DEPOT] } });
      expect(res.data.hostPatchScanStart.userErrors).toEqual([]);
      const stream = await sseSubscribe(h.url, SUBSCRIPTION, { ids: [res.data.hostPatchScanStart.scans[0].id] });
      expect(stream.completed).toBe(true);
      for (const event of stream.events) expect(event.errors).toBeUndefined();
      const last = stream.events.at(-1)!.data.patchScanUpdated;
      expect(last.state).toBe('SUCCESS');
      if (omit === 'TaskInfo.progress') expect(stream.events.slice(0, -1).every((e) => e.data.patchScanUpdated.progress === null)).toBe(true);
      if (omit === 'TaskInfo.startTime') expect(last.startedAt).toBeNull();
      if (omit === 'TaskInfo.completeTime') expect(last.completedAt).toBeNull();
      if (omit === 'HostPatchManagerStatus.integrity') expect(last.result.patches.every((p: any) => p.integrity === null)).toBe(true);
      if (omit === 'HostPatchManagerStatus.reason') expect(last.result.patches.every((p: any) => p.reasons.length === 0)).toBe(true);
    },
  );

  it('maps InvalidState on a scan start to NOT_SUPPORTED, as the spec describes it', async () => {
    const [host] = await connectedHosts(h);
    vc(h).setFaults([{ route: SCAN_ROUTE, errorRate: 1, error: 'InvalidState' }]);
    const res = await h.gql(START_HOSTS, { input: { hostIds: [host!.id], metaUrls: [DEPOT] } });
    expect(res.data.hostPatchScanStart.scans).toEqual([]);
    expect(res.data.hostPatchScanStart.userErrors).toEqual([{ message: expect.stringContaining('InvalidState'), field: ['hostIds', '0'], code: 'NOT_SUPPORTED' }]);
  });

  it('leaves out an installed-images host vCenter no longer has, instead of nulling the whole answer', async () => {
    vc(h).setQuirks({ installedImagesExtraHost: 'host-999999' });
    const res = await h.gql(IMAGES);
    expect(res.errors).toBeUndefined();
    for (const c of res.data.clusters.nodes) {
      expect(c.installedImages).not.toBeNull();
      const named = JSON.stringify(c.installedImages);
      expect(named).not.toContain('host-999999');
    }
    expect(res.data.clusters.nodes.some((c: any) => c.installedImages.successfulHosts.length > 0)).toBe(true);
    expect(h.logs.some((l) => l.includes('host-999999'))).toBe(true);
  });

  it('stops an endless RetrievePropertiesEx paging after objects ÷ page size + 3 pages with a typed error', async () => {
    const [host] = await connectedHosts(h);
    vc(h).resetStats();
    vc(h).setQuirks({ endlessPaging: true });
    const res = await h.gql(START_HOSTS, { input: { hostIds: [host!.id], metaUrls: [DEPOT] } });
    expect(res.errors).toBeUndefined();
    expect(res.data.hostPatchScanStart.userErrors).toEqual([
      { message: expect.stringMatching(/still paging after 4 continuation pages/), field: ['hostIds', '0'], code: 'UPSTREAM_ERROR' },
    ]);
    // One host read at 100 objects per page: ceil(1 / 100) + 3 = 4 continuations, then the retrieval is cancelled.
    expect(vc(h).stats().requests[CONTINUE_ROUTE]).toBe(4);
    await eventually(() => vc(h).stats().requests['POST /sdk/vim25/{release}/PropertyCollector/{moId}/CancelRetrievePropertiesEx'] === 1);
    expect(vc(h).stats().requests[SCAN_ROUTE] ?? 0).toBe(0);
  });
});

describe('paged reads end with their operation', () => {
  let h: Harness;
  beforeAll(async () => {
    // Each page takes 40 ms; the operation's deadline passes long before the page cap (23 pages).
    h = await startHarness({ size: SIZE, latencyMs: 40, quirks: { endlessPaging: true } }, undefined, { limits: { deadlineMs: 400 } });
  });
  afterAll(() => h?.close());

  it('stops following continuation tokens once the operation has passed its deadline', async () => {
    const res = await h.gql(`{ hosts { totalCount } }`);
    expect(res.errors?.map((e) => e.extensions?.['code'])).toEqual(['UPSTREAM_TIMEOUT']);
    // The read notices the deadline at its next page, cancels the retrieval upstream and stops.
    await eventually(() => vc(h).stats().requests['POST /sdk/vim25/{release}/PropertyCollector/{moId}/CancelRetrievePropertiesEx'] === 1);
    const pages = vc(h).stats().requests[CONTINUE_ROUTE] ?? 0;
    expect(pages).toBeGreaterThan(0);
    expect(pages).toBeLessThan(23);
  });
});

describe('tasks vCenter drops, and filters', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: SIZE, patchScanDurationMs: 600 }, undefined, { taskWatcher: { maxWaitSeconds: 5, retryDelayMs: 20 } });
  });
  afterAll(() => h?.close());
  afterEach(() => {
    vc(h).setQuirks({});
    vc(h).clearFaults();
  });

  it('ends a scan whose task vCenter dropped as EXPIRED, finishes the others, and destroys every filter', async () => {
    const hosts = await connectedHosts(h);
    const [gone, kept] = hosts;
    vc(h).resetStats();
    vc(h).setQuirks({ dropTasksOf: [gone!.moId] });
    const res = await h.gql(START_HOSTS, { input: { hostIds: [gone!.id, kept!.id], metaUrls: [DEPOT] } });
    const scans = res.data.hostPatchScanStart.scans;
    expect(scans).toHaveLength(2);
    const stream = await sseSubscribe(h.url, SUBSCRIPTION, { ids: scans.map((s: any) => s.id) });
    expect(stream.completed).toBe(true);
    for (const event of stream.events) expect(event.errors).toBeUndefined();
    const last = new Map(stream.events.map((e) => [e.data.patchScanUpdated.host.moId, e.data.patchScanUpdated]));
    expect(last.get(gone!.moId)).toMatchObject({ state: 'EXPIRED', stateRaw: null });
    expect(last.get(kept!.moId)).toMatchObject({ state: 'SUCCESS' });
    const stats = await eventually(() => vc(h).stats(), (s) => s.liveFilters === 0);
    expect(stats.requests[CREATE_FILTER]).toBeGreaterThanOrEqual(2);
    expect(stats.requests[DESTROY_FILTER]).toBe(stats.requests[CREATE_FILTER]);
  });

  it('destroys the filters of the live session after InvalidCollectorVersion before recreating them', async () => {
    const hosts = await connectedHosts(h);
    const picked = hosts.slice(2, 5);
    vc(h).resetStats();
    const res = await h.gql(START_HOSTS, { input: { hostIds: picked.map((x) => x.id), metaUrls: [DEPOT] } });
    const ids = res.data.hostPatchScanStart.scans.map((s: any) => s.id);
    expect(ids).toHaveLength(3);
    // The first two waits fail with InvalidCollectorVersion, then the fault is lifted.
    vc(h).setFaults([{ route: 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/WaitForUpdatesEx', errorRate: 1, error: 'InvalidCollectorVersion' }]);
    const streaming = sseSubscribe(h.url, SUBSCRIPTION, { ids });
    await eventually(() => vc(h).stats().faultsInjected['fault:InvalidCollectorVersion'] ?? 0, (n) => n >= 2);
    vc(h).clearFaults();
    const stream = await streaming;
    expect(stream.completed).toBe(true);
    const finals = stream.events.filter((e) => e.data.patchScanUpdated.state === 'SUCCESS');
    expect(finals).toHaveLength(3);
    const stats = await eventually(() => vc(h).stats(), (s) => s.liveFilters === 0);
    expect(stats.requests[CREATE_FILTER]).toBeGreaterThan(3); // recreated after each fault
    expect(stats.requests[DESTROY_FILTER]).toBe(stats.requests[CREATE_FILTER]);
  });
});

describe('release negotiation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ size: SIZE, perVcenter: [{ apiVersion: '8.0.3.2' }] });
  });
  afterAll(() => h?.close());

  it('speaks the highest listed release not above an unlisted about.apiVersion (8.0.3.2 → 8.0.3.1)', async () => {
    const res = await h.gql(HOSTS);
    expect(res.errors).toBeUndefined();
    expect(res.data.hosts.nodes.length).toBe(8);
    const releases = vc(h).stats().vimReleases;
    expect(Object.keys(releases).sort()).toEqual(['8.0.1.0', '8.0.3.1']);
    expect(releases['8.0.1.0']).toBe(1); // the bootstrap ServiceContent read only
  });
});
