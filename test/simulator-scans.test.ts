// Patch scans against the simulated depots, Task lifecycle, TaskManager,
// and the change feed (maxObjectUpdates, partialUpdates, leave, NotSupported),
// over plain HTTP on loopback.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './harness.ts';
import { SimClient } from '../src/simulator/client.ts';
import { judgeBulletins, DEPOT_CATALOGS } from '../src/simulator/depot.ts';
import { DEPOT_URLS, startSimulator } from '../src/simulator/index.ts';
import type { Simulator, SimulatedVCenter } from '../src/simulator/index.ts';
import { buildFleet, DEFAULT_FLEET_SIZE } from '../src/simulator/inventory.ts';
import { nextChangeAt, taskState } from '../src/simulator/tasks.ts';
import type { SimTask } from '../src/simulator/tasks.ts';

const VIM = '/sdk/vim25/8.0.3.0';
const PC = `${VIM}/PropertyCollector/propertyCollector`;
const [U3_DEPOT, U2_DEPOT, OEM_DEPOT] = DEPOT_URLS as [string, string, string];
type Json = Record<string, any>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sim: Simulator;
let c: SimClient;
let v: SimulatedVCenter;
let s: string;

beforeAll(async () => {
  // Scans run 1.5 s (a failed one 0.5 s): long enough to be seen queued or running on a busy machine.
  sim = await startSimulator({ tls: false, size: { vcenters: 1 }, patchScanDurationMs: 1_500 });
  c = new SimClient(sim);
  v = sim.vcenters[0] as SimulatedVCenter;
  s = await c.vimLogin(v);
});

afterAll(async () => {
  await c?.close();
  await sim?.close();
});

const info = async (task: string, session = s) => (await c.call(v, 'GET', `${VIM}/Task/${task}/info`, { session })).json as Json;
const scan = (host: string, body: unknown, session = s) =>
  c.call(v, 'POST', `${VIM}/HostPatchManager/patchManager-${host.slice(5)}/ScanHostPatchV2_Task`, { session, body });
async function finished(task: string, session = s): Promise<Json> {
  for (let i = 0; i < 500; i++) {
    const ti = await info(task, session);
    if (ti.state === 'success' || ti.state === 'error') return ti;
    await sleep(20);
  }
  throw new Error(`task ${task} did not finish`);
}
const byId = (result: Json): Map<string, Json> => new Map((result.status as Json[]).map((x) => [x.id, x]));

describe('simulator: patch depots', () => {
  it('exports the depot URLs', () => {
    expect(DEPOT_URLS).toEqual([
      'https://depot.example/esxi-8.0u3/metadata.zip',
      'https://depot.example/esxi-8.0u2/metadata.zip',
      'https://depot.example/vendor-oem/metadata.zip',
    ]);
  });

  it('judges every bulletin against the host: installed, applicable, obsoleted, missingPatch, conflictPatch, digestMismatch', async () => {
    // host-10 of vc-01 (seed 1): HPE, ESXi 8.0 U3b.
    const task = ((await scan('host-10', { metaUrls: [U3_DEPOT, U2_DEPOT, OEM_DEPOT] })).json as Json).value as string;
    const done = await finished(task);
    expect(done.state).toBe('success');
    const result = done.result as Json;
    expect(result).toMatchObject({ _typeName: 'HostPatchManagerResult', version: '1.0' });
    const st = byId(result);
    expect(st.get('ESXi80U3b-24280767')).toEqual({
      _typeName: 'HostPatchManagerStatus',
      id: 'ESXi80U3b-24280767',
      applicable: false,
      integrity: 'validated',
      installed: true,
      installState: ['hostRestarted', 'imageActive'],
      restartRequired: true,
      reconnectRequired: false,
      vmOffRequired: true,
      supersededPatchIds: ['ESXi80U2-22380479', 'ESXi80U2b-23305546', 'ESXi80U2c-23825572', 'ESXi80U3-24022510'],
    });
    expect(st.get('ESXi80U3-24022510')).toMatchObject({ applicable: false, installed: false, reason: ['obsoleted'] });
    expect(st.get('ESXi80U3-24022510')?.installState).toBeUndefined();
    expect(st.get('ESXi80U3d-24585383')).toMatchObject({ applicable: true, installed: false });
    expect(st.get('ESXi80U3d-24585383')?.reason).toBeUndefined();
    // Prerequisite U3c is not installed but is in the same scan.
    expect(st.get('ESXi80U3sc-24414600')).toMatchObject({ applicable: true, prerequisitePatch: [{ _typeName: 'HostPatchManagerStatusPrerequisitePatch', id: 'ESXi80U3c-24414501', installState: ['hostRestarted'] }] });
    expect(st.get('VMware-NVMe-PCIe_1.2.4.12-1vmw.802.0.0.23825572')).toMatchObject({ applicable: false, reason: ['missingPatch'] });
    expect(st.get('DEL-ESXi_803.24585383-A04')).toMatchObject({ applicable: false, reason: ['conflictPatch'] });
    expect(st.get('Intel-i40en_2.7.1.0-1OEM.800.1.0.20143090')).toMatchObject({ integrity: 'digestMismatch' });
    expect(st.get('VMW-esx-8.0.3-vmware-cim-providers_2.0.1-1vmw.803.0.0.24022510')).toMatchObject({ applicable: true, restartRequired: false, reconnectRequired: true, vmOffRequired: false });
    expect(result.xmlResult).toContain('<id>ESXi80U3b-24280767</id><applicable>false</applicable><integrity>validated</integrity><installed>true</installed>');
    expect((result.xmlResult as string).match(/<bulletin>/g)?.length).toBe(result.status.length);
  });

  it('needs a prerequisite installed or in the scan; a vendor add-on fits its own vendor', () => {
    const inv = buildFleet({ seed: 1, size: DEFAULT_FLEET_SIZE })[0];
    const dell = inv?.hosts.find((h) => h.image.addOn?.name === 'DEL-ESXi' && h.connectionState === 'connected');
    if (!dell) throw new Error('seed 1 has a Dell host in vc-01');
    const oem = DEPOT_CATALOGS.filter((d) => d.url === OEM_DEPOT);
    const alone = new Map(judgeBulletins(dell, oem).map((x) => [x.id, x]));
    expect(alone.get('DEL-ESXi_803.24585383-A04')).toMatchObject({ applicable: false, reason: ['missingPatch'] });
    expect(alone.get('Broadcom-bnxtnet_228.0.110.0-1OEM.800.1.0.20613240')).toMatchObject({ installed: true, installState: ['hostRestarted', 'imageActive'] });
    expect(alone.get('Broadcom-bnxtnet_230.0.127.0-1OEM.800.1.0.20613240')).toMatchObject({ applicable: true, supersededPatchIds: ['Broadcom-bnxtnet_228.0.110.0-1OEM.800.1.0.20613240'] });
    const withU3 = new Map(judgeBulletins(dell, DEPOT_CATALOGS.filter((d) => d.url === OEM_DEPOT || d.url === U3_DEPOT)).map((x) => [x.id, x]));
    expect(withU3.get('DEL-ESXi_803.24585383-A04')).toMatchObject({ applicable: true });
    // Same inputs, same answer.
    expect(judgeBulletins(dell, DEPOT_CATALOGS)).toEqual(judgeBulletins(dell, DEPOT_CATALOGS));
  });

  it('ends the task in PlatformConfigFault for unreadable depots, after it was queued', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ metaUrls: ['https://depot.nowhere.invalid/metadata.zip'] }, /Name or service not known/],
      [{ metaUrls: ['https://depot.example/missing/metadata.zip'] }, /HTTP Error 404/],
      [{ metaUrls: [U3_DEPOT, 'ftp://depot.example/esxi-8.0u3/metadata.zip'] }, /unknown url type: ftp/],
      [{ metaUrls: ['gopher://depot.example/metadata.zip'] }, /unknown url type: gopher/],
      [{ bundleUrls: ['https://depot.example/offline-bundle.zip'] }, /not supported since ESXi 5\.0/],
      [{}, /No metadata URL/],
    ];
    const hosts = ['host-11', 'host-13', 'host-16', 'host-17', 'host-18', 'host-22'];
    const tasks: string[] = [];
    for (const [i, [body]] of cases.entries()) {
      const started = await scan(hosts[i] as string, body);
      expect(started.status).toBe(200);
      tasks.push((started.json as Json).value);
    }
    expect(['queued', 'running']).toContain((await info(tasks[0] as string)).state);
    for (const [i, [, text]] of cases.entries()) {
      const done = await finished(tasks[i] as string);
      expect(done).toMatchObject({ state: 'error', cancelled: false, error: { _typeName: 'PlatformConfigFault' } });
      expect(done.startTime).toBeDefined();
      expect(done.error.text).toMatch(text);
      expect(done.error.faultstring).toBe(`An error occurred during host configuration: ${done.error.text}`);
      expect(done.result).toBeUndefined();
    }
  });

  it('faults at once: InvalidState for unreachable hosts, TaskInProgress, ManagedObjectNotFound, InvalidArgument', async () => {
    const down = await scan(v.inventory.specialCases.disconnectedHost as string, { metaUrls: [U3_DEPOT] });
    expect(down.status).toBe(500);
    expect(down.json).toEqual({ _typeName: 'InvalidState', faultstring: 'The operation is not allowed in the current state.' });
    const host = v.inventory.hostById.get('host-25');
    if (!host) throw new Error('host-25');
    host.connectionState = 'notResponding';
    try {
      expect(((await scan('host-25', { metaUrls: [U3_DEPOT] })).json as Json)._typeName).toBe('InvalidState');
    } finally {
      host.connectionState = 'connected';
    }
    const first = ((await scan('host-24', { metaUrls: [U3_DEPOT] })).json as Json).value as string;
    const busy = await scan('host-24', { metaUrls: [U3_DEPOT] });
    expect(busy.status).toBe(500);
    expect(busy.json).toEqual({ _typeName: 'TaskInProgress', faultstring: 'Another task is already in progress.', task: { _typeName: 'ManagedObjectReference', value: first, type: 'Task' } });
    const missing = await c.call(v, 'POST', `${VIM}/HostPatchManager/patchManager-9999/ScanHostPatchV2_Task`, { session: s, body: { metaUrls: [U3_DEPOT] } });
    expect(missing.json).toMatchObject({ _typeName: 'ManagedObjectNotFound', obj: { type: 'HostPatchManager', value: 'patchManager-9999' } });
    // metaUrls must be a string array (ScanHostPatchV2RequestType): refused before the handler runs.
    expect(((await scan('host-23', { metaUrls: 'x' })).json as Json)._typeName).toBe('InvalidRequest');
    await finished(first);
  });
});

describe('simulator: tasks', () => {
  it('knows when a task next changes, so a waiting WaitForUpdatesEx can answer at that instant', () => {
    const task = { moId: 'task-1', queueTime: 1_000, durationMs: 1_000, result: () => undefined } as unknown as SimTask;
    const key = (now: number) => JSON.stringify(taskState(task, now));
    const instants: number[] = [];
    for (let now = 1_000; now < 2_100; ) {
      const at = nextChangeAt(task, now);
      if (at === undefined) break;
      expect(at).toBeGreaterThan(now);
      // Nothing changes before that instant, and something does at it.
      expect(key(at - 0.5)).toBe(key(now));
      expect(key(at)).not.toBe(key(now));
      instants.push(at);
      now = at;
    }
    // queued → running at 0 % → 10 % … 90 % → success: 11 changes, the last at the end.
    expect(instants).toHaveLength(11);
    expect(instants.at(-1)).toBe(task.queueTime + 20 + task.durationMs);
    expect(nextChangeAt(task, 2_020)).toBeUndefined();
    expect(nextChangeAt({ ...task, cancelledAt: 1_500 }, 1_600)).toBeUndefined();
  });

  it('has every required TaskInfo field in every state; cancels queued/running tasks; InvalidState once finished', async () => {
    const task = ((await scan('host-10', { metaUrls: [U3_DEPOT] })).json as Json).value as string;
    const first = await info(task);
    for (const f of ['key', 'task', 'descriptionId', 'state', 'cancelled', 'cancelable', 'reason', 'queueTime', 'eventChainId']) expect(first).toHaveProperty(f);
    expect(first).toMatchObject({ descriptionId: 'host.PatchManager.scanV2', entityName: v.inventory.hostById.get('host-10')?.name, cancelable: true });
    expect((await c.call(v, 'POST', `${VIM}/Task/${task}/CancelTask`, { session: s })).status).toBe(204);
    const cancelled = await info(task);
    expect(cancelled).toMatchObject({ state: 'error', cancelled: true, cancelable: false, error: { _typeName: 'RequestCanceled', faultstring: 'The task was canceled by a user.' } });
    expect(cancelled.completeTime).toBeDefined();
    expect((await c.call(v, 'POST', `${VIM}/Task/${task}/CancelTask`, { session: s })).json).toMatchObject({ _typeName: 'InvalidState' });

    // Progress rises in steps of 10 and ends at 100.
    const t2 = ((await scan('host-10', { metaUrls: [U3_DEPOT] })).json as Json).value as string;
    const seen: number[] = [];
    let ti = await info(t2);
    while (ti.state !== 'success') {
      if (ti.progress !== undefined) seen.push(ti.progress);
      await sleep(15);
      ti = await info(t2);
    }
    expect(ti.progress).toBe(100);
    expect(seen.every((p) => p % 10 === 0)).toBe(true);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect((await c.call(v, 'POST', `${VIM}/Task/${t2}/CancelTask`, { session: s })).json).toMatchObject({ _typeName: 'InvalidState' });
  });

  it('lists recent tasks on TaskManager and per host; forgets finished ones after the retention time', async () => {
    // Tasks run 2 s: still running when counted right after the start, however busy the machine.
    const short = await startSimulator({ tls: false, size: { vcenters: 1 }, patchScanDurationMs: 2_000, taskRetentionMs: 800 });
    const c2 = new SimClient(short);
    try {
      const vc = short.vcenters[0] as SimulatedVCenter;
      const s2 = await c2.vimLogin(vc);
      const t1 = ((await c2.call(vc, 'POST', `${VIM}/HostPatchManager/patchManager-10/ScanHostPatchV2_Task`, { session: s2, body: { metaUrls: [U3_DEPOT] } })).json as Json).value;
      const t2 = ((await c2.call(vc, 'POST', `${VIM}/HostPatchManager/patchManager-11/ScanHostPatchV2_Task`, { session: s2, body: { metaUrls: [U3_DEPOT] } })).json as Json).value;
      const recent = (await c2.call(vc, 'GET', `${VIM}/TaskManager/TaskManager/recentTask`, { session: s2 })).json as Json[];
      expect(recent.map((r) => r.value)).toEqual([t1, t2]);
      expect(vc.stats()).toMatchObject({ liveTasks: 2, runningTasks: 2 });
      const viaPc = (await c2.call(vc, 'POST', `${PC}/RetrievePropertiesEx`, {
        session: s2,
        body: { specSet: [{ propSet: [{ type: 'TaskManager', pathSet: ['recentTask'] }], objectSet: [{ obj: { type: 'TaskManager', value: 'TaskManager' } }] }], options: {} },
      })).json as Json;
      expect(viaPc.objects[0].propSet[0]).toMatchObject({ name: 'recentTask', val: { _typeName: 'ArrayOfManagedObjectReference', _value: [{ value: t1 }, { value: t2 }] } });
      expect(((await c2.call(vc, 'GET', `${VIM}/HostSystem/host-11/recentTask`, { session: s2 })).json as Json[]).map((r) => r.value)).toEqual([t2]);
      await eventually(() => vc.stats().runningTasks === 0);
      expect(vc.stats()).toMatchObject({ liveTasks: 2, runningTasks: 0 });
      expect((await c2.call(vc, 'GET', `${VIM}/Task/${t1}/info`, { session: s2 })).json).toMatchObject({ state: 'success' });
      await eventually(async () => (await c2.call(vc, 'GET', `${VIM}/TaskManager/TaskManager/recentTask`, { session: s2 })).json as Json[], (r) => r.length === 0);
      expect((await c2.call(vc, 'GET', `${VIM}/Task/${t1}/info`, { session: s2 })).json).toMatchObject({ _typeName: 'ManagedObjectNotFound' });
      expect(vc.stats()).toMatchObject({ liveTasks: 0, runningTasks: 0 });
    } finally {
      await c2.close();
      await short.close();
    }
  });
});

describe('simulator: change feed', () => {
  const createFilter = (session: string, spec: unknown, partialUpdates = false) =>
    c.call(v, 'POST', `${PC}/CreateFilter`, { session, body: { spec, partialUpdates } });
  const wait = (session: string, version: string, options: Json) =>
    c.call(v, 'POST', `${PC}/WaitForUpdatesEx`, { session, body: { version, options: { _typeName: 'WaitOptions', ...options } } });
  const hostsSpec = (ids: string[]) => ({ propSet: [{ type: 'HostSystem', pathSet: ['name'] }], objectSet: ids.map((value) => ({ obj: { type: 'HostSystem', value } })) });

  it('honours maxObjectUpdates with truncated sets and continues with the next version', async () => {
    const s2 = await c.vimLogin(v);
    await createFilter(s2, hostsSpec(['host-10', 'host-11', 'host-12']));
    await createFilter(s2, hostsSpec(['host-13', 'host-16']));
    const seen: string[] = [];
    let version = '';
    const truncations: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      const u = (await wait(s2, version, { maxWaitSeconds: 0, maxObjectUpdates: 2 })).json as Json;
      const updates = (u.filterSet as Json[]).flatMap((f) => f.objectSet as Json[]);
      expect(updates.length).toBeLessThanOrEqual(2);
      expect(updates.every((x) => x.kind === 'enter')).toBe(true);
      seen.push(...updates.map((x) => x.obj.value));
      truncations.push(u.truncated === true);
      version = u.version;
    }
    expect(seen).toEqual(['host-10', 'host-11', 'host-12', 'host-13', 'host-16']);
    expect(truncations).toEqual([true, true, false]);
    expect(((await wait(s2, version, { maxWaitSeconds: 0 })).json)).toBeNull();
    expect(((await wait(s2, version, { maxObjectUpdates: 0 })).json as Json)._typeName).toBe('InvalidArgument');
    await c.call(v, 'POST', `${VIM}/SessionManager/SessionManager/Logout`, { session: s2 });
  });

  it('reports nested changes with partialUpdates and leave when a task is forgotten', async () => {
    const short = await startSimulator({ tls: false, size: { vcenters: 1 }, patchScanDurationMs: 100, taskRetentionMs: 100 });
    const c2 = new SimClient(short);
    try {
      const vc = short.vcenters[0] as SimulatedVCenter;
      const s2 = await c2.vimLogin(vc);
      const task = ((await c2.call(vc, 'POST', `${VIM}/HostPatchManager/patchManager-10/ScanHostPatchV2_Task`, { session: s2, body: { metaUrls: [U3_DEPOT] } })).json as Json).value;
      await c2.call(vc, 'POST', `${PC}/CreateFilter`, {
        session: s2,
        body: { spec: { propSet: [{ type: 'Task', pathSet: ['info'] }], objectSet: [{ obj: { type: 'Task', value: task } }] }, partialUpdates: true },
      });
      const w = async (version: string) => (await c2.call(vc, 'POST', `${PC}/WaitForUpdatesEx`, { session: s2, body: { version, options: { maxWaitSeconds: 5 } } })).json as Json;
      const first = await w('');
      expect(first.filterSet[0].objectSet[0]).toMatchObject({ kind: 'enter', changeSet: [{ name: 'info', op: 'assign', val: { _typeName: 'TaskInfo' } }] });
      let version = first.version as string;
      const kinds: string[] = [];
      const names = new Set<string>();
      for (let i = 0; i < 40 && !kinds.includes('leave'); i++) {
        const u = await w(version);
        version = u.version;
        for (const o of u.filterSet[0].objectSet as Json[]) {
          kinds.push(o.kind);
          for (const ch of o.changeSet ?? []) names.add(ch.name);
        }
      }
      expect(kinds.at(-1)).toBe('leave');
      expect(kinds.slice(0, -1).every((k) => k === 'modify')).toBe(true);
      expect(names.has('info.state')).toBe(true);
      expect(names.has('info')).toBe(false);
    } finally {
      await c2.close();
      await short.close();
    }
  });

  it('answers NotSupported for CreateFilter and WaitForUpdatesEx when the change feed is off', async () => {
    const off = await startSimulator({ tls: false, size: { vcenters: 2, clustersPerDatacenter: 1, hostsPerCluster: 1 }, perVcenter: [{ changeFeed: false }] });
    const c2 = new SimClient(off);
    try {
      const [a, b] = off.vcenters as [SimulatedVCenter, SimulatedVCenter];
      const sa = await c2.vimLogin(a);
      const spec = { propSet: [{ type: 'Folder', pathSet: ['name'] }], objectSet: [{ obj: { type: 'Folder', value: 'group-d1' } }] };
      const notSupported = { _typeName: 'NotSupported', faultstring: 'The operation is not supported on the object.' };
      const created = await c2.call(a, 'POST', `${PC}/CreateFilter`, { session: sa, body: { spec, partialUpdates: false } });
      expect(created.status).toBe(500);
      expect(created.json).toEqual(notSupported);
      expect((await c2.call(a, 'POST', `${PC}/WaitForUpdatesEx`, { session: sa, body: { version: '' } })).json).toEqual(notSupported);
      // RetrievePropertiesEx (the polling fallback) still works, and the other vCenter has the feed.
      expect((await c2.call(a, 'POST', `${PC}/RetrievePropertiesEx`, { session: sa, body: { specSet: [spec], options: {} } })).status).toBe(200);
      const sb = await c2.vimLogin(b);
      expect((await c2.call(b, 'POST', `${PC}/CreateFilter`, { session: sb, body: { spec, partialUpdates: false } })).status).toBe(200);
    } finally {
      await c2.close();
      await off.close();
    }
  });

  it('counts live filters and waiting calls; filters die with logout and session expiry', async () => {
    v.resetStats();
    const base = v.stats().liveFilters;
    const s1 = await c.vimLogin(v);
    const s2 = await c.vimLogin(v);
    await createFilter(s1, hostsSpec(['host-10']));
    await createFilter(s1, hostsSpec(['host-11']));
    const f3 = (await createFilter(s2, hostsSpec(['host-12']))).json as Json;
    expect(v.stats().liveFilters).toBe(base + 3);
    const pc = (await c.call(v, 'GET', `${PC}/filter`, { session: s2 })).json as Json[];
    expect(pc.map((f) => f.value)).toEqual([f3.value]);

    const v1 = ((await wait(s1, '', { maxWaitSeconds: 0 })).json as Json).version as string;
    const v2 = ((await wait(s2, '', { maxWaitSeconds: 0 })).json as Json).version as string;
    const pending = [wait(s1, v1, { maxWaitSeconds: 10 }), wait(s2, v2, { maxWaitSeconds: 10 })];
    for (let i = 0; i < 50 && v.stats().waitingCalls < 2; i++) await sleep(10);
    expect(v.stats()).toMatchObject({ waitingCalls: 2, peakWaitingCalls: 2 });

    // Logout ends s1's wait and its filters.
    await c.call(v, 'POST', `${VIM}/SessionManager/SessionManager/Logout`, { session: s1 });
    expect(((await pending[0])?.json as Json)._typeName).toBe('RequestCanceled');
    expect(v.stats()).toMatchObject({ liveFilters: base + 1, waitingCalls: 1, peakWaitingCalls: 2 });
    v.resetStats();
    expect(v.stats().peakWaitingCalls).toBe(1);
    // Expiry ends the rest (including this suite's own session: log in again).
    v.expireSessions();
    expect(((await pending[1])?.json as Json)._typeName).toBe('RequestCanceled');
    expect(v.stats()).toMatchObject({ liveFilters: 0, waitingCalls: 0, peakWaitingCalls: 1 });
    s = await c.vimLogin(v);
  });
});
