import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  UpstreamError,
  box,
  decodeVim,
  encodeFilterSpec,
  encodeVim,
  isMoRef,
  moRef,
  propsOf,
  type ObjectContent,
  type RetrieveResult,
} from '../src/vsphere/index.ts';
import { faultMessage, faultToCode, parseRetryAfter, parseVapiError, scrub } from '../src/vsphere/errors.ts';
import { buildQuery } from '../src/vsphere/rest-client.ts';
import { Semaphore } from '../src/vsphere/http.ts';
import { SessionSlot, credentialKey, withSession } from '../src/vsphere/sessions.ts';

const CAPTURES = resolve(process.cwd(), '../shared/vsphere-api/captures');
const FOLDER = resolve(CAPTURES, 'vi-json-RetrievePropertiesEx-Folder.json');
const VMCONFIG = resolve(CAPTURES, 'vi-json-VirtualMachine-config.json');
const haveCaptures = existsSync(FOLDER) && existsSync(VMCONFIG);
// The captures are the only real-vCenter bodies we have: their absence is a failure, never a skip.
it('finds the bodies captured from a real vCenter', () => {
  expect(haveCaptures, `${CAPTURES} not found: check out ../shared/vsphere-api next to this repository`).toBe(true);
});

describe('decodeVim on real VI/JSON captures (../shared/vsphere-api/captures)', () => {
  it('decodes a RetrievePropertiesEx result for the root Folder', () => {
    const raw = JSON.parse(readFileSync(FOLDER, 'utf8'));
    const result = decodeVim(raw) as RetrieveResult;
    expect(result._typeName).toBe('RetrieveResult');
    expect(result.objects).toHaveLength(1);
    const obj = result.objects[0] as ObjectContent;
    expect(obj.obj).toEqual({ _typeName: 'ManagedObjectReference', type: 'Folder', value: 'group-d1' });
    expect(isMoRef(obj.obj)).toBe(true);

    // Decoded in place: the parsed body is the result, and decoding it again changes nothing.
    expect(result).toBe(raw);
    expect(decodeVim(structuredClone(result))).toEqual(result);

    const props = propsOf(obj);
    // boxed primitives
    expect(props.alarmActionsEnabled).toBe(true);
    expect(props.name).toBe('Datacenters');
    // boxed enum
    expect(props.overallStatus).toBe('gray');
    expect(props.configStatus).toBe('gray');
    // boxed arrays
    expect(props.childType).toEqual(['Folder', 'Datacenter']);
    expect(props.childEntity).toEqual([]);
    expect(props.effectiveRole).toEqual([-1]);
    expect(props.recentTask).toEqual([
      moRef('Task', 'task-186'),
      moRef('Task', 'task-187'),
      moRef('Task', 'task-188'),
    ]);
    // arrays of data objects keep _typeName, nested MoRefs, dates stay ISO strings
    const alarms = props.declaredAlarmState as Array<Record<string, unknown>>;
    expect(alarms.length).toBeGreaterThanOrEqual(3);
    expect(alarms[0]).toMatchObject({
      _typeName: 'AlarmState',
      key: 'alarm-328.group-d1',
      entity: { _typeName: 'ManagedObjectReference', type: 'Folder', value: 'group-d1' },
      alarm: { _typeName: 'ManagedObjectReference', type: 'Alarm', value: 'alarm-328' },
      overallStatus: 'gray',
      time: '2023-01-14T08:57:35.279575Z',
      acknowledged: false,
    });
    expect(alarms[1]!.eventKey).toBe(756);
    const perms = props.permission as Array<Record<string, unknown>>;
    expect(perms[2]).toMatchObject({ _typeName: 'Permission', roleId: -1, propagate: true, group: false });
  });

  it('decodes a VirtualMachineConfigInfo', () => {
    const raw = JSON.parse(readFileSync(VMCONFIG, 'utf8'));
    const cfg = decodeVim(raw) as Record<string, any>;
    expect(cfg._typeName).toBe('VirtualMachineConfigInfo');
    expect(cfg.name).toBe('test');
    expect(cfg.annotation).toBe('Hello, world.');
    expect(cfg.template).toBe(false);
    expect(cfg.npivTemporaryDisabled).toBe(true);
    expect(cfg.changeVersion).toBe('2022-12-12T11:48:35.473645Z');
    expect(cfg.createDate).toBe('2022-12-12T11:47:24.685785Z');
    expect(cfg.files).toMatchObject({ _typeName: 'VirtualMachineFileInfo', vmPathName: '[datastore1] test/test.vmx' });
    expect(cfg.hardware.numCPU).toBe(1);
    expect(cfg.hardware.memoryMB).toBe(2048);
    const devices = cfg.hardware.device as Array<Record<string, any>>;
    const ps2 = devices.find((d) => d._typeName === 'VirtualPS2Controller');
    expect(ps2?.device).toEqual([600, 700]);
    const disk = devices.find((d) => d._typeName === 'VirtualDisk');
    expect(disk?.backing.datastore).toEqual(moRef('Datastore', 'datastore-21'));
    expect(disk?.capacityInBytes).toBe(4294967296);
    expect(disk?.shares).toEqual({ _typeName: 'SharesInfo', shares: 1000, level: 'normal' });
    const nic = devices.find((d) => d._typeName === 'VirtualVmxnet3');
    expect(nic?.backing.network).toEqual(moRef('Network', 'network-27'));
    // KeyAnyValue-like OptionValue: the `any` value is unboxed
    const extra = cfg.extraConfig as Array<{ _typeName: string; key: string; value: unknown }>;
    expect(extra[0]).toEqual({ _typeName: 'OptionValue', key: 'nvram', value: 'test.nvram' });
    expect(extra.find((o) => o.key === 'svga.present')?.value).toBe('TRUE');
    expect(cfg.initialOverhead.initialSwapReservation).toBe(2541883392);
    expect(cfg.deviceSwap.lsiToPvscsi).toMatchObject({ enabled: true, applicable: false, status: 'none' });
    // no boxes remain anywhere
    expect(JSON.stringify(cfg)).not.toContain('"_value"');
  });
});

describe('vim codec (synthetic)', () => {
  it('unboxes nested boxes, keeps polymorphic _typeName and MoRefs', () => {
    const taskInfo = {
      _typeName: 'TaskInfo',
      key: 'task-1',
      task: { _typeName: 'ManagedObjectReference', type: 'Task', value: 'task-1' },
      state: 'error',
      reason: { _typeName: 'TaskReasonUser', userName: 'VSPHERE.LOCAL\\admin' },
      error: {
        _typeName: 'LocalizedMethodFault',
        fault: { _typeName: 'TaskInProgress', task: { _typeName: 'ManagedObjectReference', type: 'Task', value: 'task-0' } },
        localizedMessage: 'busy',
      },
      result: { _typeName: 'ArrayOfHostPatchManagerStatus', _value: [{ _typeName: 'HostPatchManagerStatus', id: 'p1', applicable: true }] },
      progressDetails: [{ _typeName: 'KeyAnyValue', key: 'k', value: { _typeName: 'int', _value: 42 } }],
      queueTime: '2024-05-01T10:00:00Z',
    };
    const d = decodeVim(taskInfo) as Record<string, any>;
    expect(d.reason._typeName).toBe('TaskReasonUser');
    expect(d.error.fault._typeName).toBe('TaskInProgress');
    expect(d.error.fault.task).toEqual(moRef('Task', 'task-0'));
    expect(d.result).toEqual([{ _typeName: 'HostPatchManagerStatus', id: 'p1', applicable: true }]);
    expect(d.progressDetails[0].value).toBe(42);
    expect(d.queueTime).toBe('2024-05-01T10:00:00Z');
    expect(decodeVim(null)).toBeNull();
    expect(decodeVim({ _typeName: 'boolean', _value: false })).toBe(false);
  });

  it('encodes: top-level _typeName, MoRefs, boxes, dates, no undefined', () => {
    const enc = encodeVim(
      { container: { type: 'Folder', value: 'group-d1' }, type: ['HostSystem'], recursive: true, skip: undefined, when: new Date(0), any: box('int', 5) },
      'CreateContainerViewRequestType',
    );
    expect(enc).toEqual({
      _typeName: 'CreateContainerViewRequestType',
      container: { _typeName: 'ManagedObjectReference', type: 'Folder', value: 'group-d1' },
      type: ['HostSystem'],
      recursive: true,
      when: '1970-01-01T00:00:00.000Z',
      any: { _typeName: 'int', _value: 5 },
    });
    expect(encodeVim({ _typeName: 'Explicit', a: 1 }, 'Other')).toEqual({ _typeName: 'Explicit', a: 1 });
  });

  it('encodes a PropertyFilterSpec with _typeName on every nested spec', () => {
    const enc = encodeFilterSpec({
      propSet: [{ type: 'HostSystem', pathSet: ['name'] }],
      objectSet: [
        {
          obj: { type: 'ClusterComputeResource', value: 'domain-c1' },
          skip: true,
          selectSet: [{ name: 't', type: 'ComputeResource', path: 'host', skip: false, selectSet: [{ name: 't' }] }],
        },
      ],
    }) as any;
    expect(enc._typeName).toBe('PropertyFilterSpec');
    expect(enc.propSet[0]._typeName).toBe('PropertySpec');
    expect(enc.objectSet[0]._typeName).toBe('ObjectSpec');
    expect(enc.objectSet[0].obj).toEqual(moRef('ClusterComputeResource', 'domain-c1'));
    expect(enc.objectSet[0].selectSet[0]._typeName).toBe('TraversalSpec');
    expect(enc.objectSet[0].selectSet[0].selectSet[0]).toEqual({ _typeName: 'SelectionSpec', name: 't' });
  });
});

describe('error helpers', () => {
  it('maps faults and vAPI errors', () => {
    expect(faultToCode('InvalidLogin')).toBe('UNAUTHENTICATED');
    expect(faultToCode('ManagedObjectNotFound')).toBe('NOT_FOUND');
    expect(faultToCode('InvalidProperty')).toBe('BAD_REQUEST');
    expect(faultToCode('NoPermission')).toBe('FORBIDDEN');
    expect(faultToCode('TaskInProgress')).toBe('UPSTREAM_ERROR');
    expect(faultMessage({ _typeName: 'X', faultstring: 'fs' })).toBe('fs');
    expect(faultMessage({ _typeName: 'X', faultMessage: [{ key: 'k', message: 'm' }] })).toBe('m');
    const v = parseVapiError({ error_type: 'NOT_FOUND', messages: [{ id: 'x', default_message: 'gone', args: [] }] });
    expect(v?.error_type).toBe('NOT_FOUND');
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(scrub('pw=hunter22 sid=abcd1234', ['hunter22', 'abcd1234'])).toBe('pw=[redacted] sid=[redacted]');
    const e = new UpstreamError({ code: 'NOT_FOUND', vcenter: 'vc', api: 'rest', message: 'm', status: 404 });
    expect(e).toBeInstanceOf(Error);
    expect(e.retryable).toBe(false);
  });

  it('builds repeated query params', () => {
    expect(buildQuery({ clusters: ['a', 'b'], names: undefined, standalone: false, connection_states: ['CONNECTED'] })).toBe(
      '?clusters=a&clusters=b&standalone=false&connection_states=CONNECTED',
    );
    expect(buildQuery({})).toBe('');
  });
});

describe('sessions and semaphore (unit)', () => {
  it('credential keys hash the password', () => {
    const k = credentialKey({ url: 'https://vc', username: 'u', password: 'secret-pw' });
    expect(k).not.toContain('secret-pw');
    expect(k).toBe(credentialKey({ url: 'https://vc', username: 'u', password: 'secret-pw' }));
    expect(k).not.toBe(credentialKey({ url: 'https://vc', username: 'u', password: 'other' }));
  });

  it('single-flight login and one shared renewal', async () => {
    let n = 0;
    const slot = new SessionSlot({ login: async () => { await new Promise((r) => setTimeout(r, 10)); return `s${++n}`; }, logout: async () => {} });
    const ids = await Promise.all(Array.from({ length: 10 }, () => slot.get()));
    expect(new Set(ids)).toEqual(new Set(['s1']));
    const expired = (e: unknown) => e === 'expired';
    const results = await Promise.all(
      Array.from({ length: 10 }, () => withSession(slot, async (sid) => { if (sid === 's1') throw 'expired'; return sid; }, expired)),
    );
    expect(new Set(results)).toEqual(new Set(['s2']));
    expect(n).toBe(2);
    // a second failure is returned, not looped
    await expect(withSession(slot, async () => { throw 'expired'; }, expired)).rejects.toBe('expired');
    expect(n).toBe(3);
  });

  it('semaphore caps concurrency', async () => {
    const sem = new Semaphore(3);
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        await sem.acquire();
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        sem.release();
      }),
    );
    expect(peak).toBe(3);
    expect(sem.peak).toBe(3);
    expect(sem.inFlight).toBe(0);
  });

  it('semaphore serves an urgent waiter (the task watch loop) before those queued earlier, within the cap', async () => {
    const sem = new Semaphore(1);
    await sem.acquire();
    const order: string[] = [];
    const queued = [1, 2].map((n) => sem.acquire().then(() => order.push(`normal-${n}`)));
    const urgent = sem.acquire(true).then(() => order.push('urgent'));
    expect(sem.waiting).toBe(3);
    for (let i = 0; i < 3; i++) {
      sem.release();
      await new Promise((r) => setImmediate(r));
      expect(sem.inFlight).toBe(1);
    }
    await Promise.all([...queued, urgent]);
    expect(order).toEqual(['urgent', 'normal-1', 'normal-2']);
    sem.release();
    expect(sem.inFlight).toBe(0);
  });
});
