// Quirks: answers a real vCenter may give that the default simulator does
// not, so that tests can show the gateway survives every spec-valid answer.
// Each switch is read where the answer is made (the VI/JSON object model,
// the installed-images handler, the PropertyCollector pager, the task store).

import type { ManagedObject } from './vim-model.ts';
import type { VimValue } from './vim-values.ts';

export interface SimQuirks {
  /**
   * Answer enum values that a later vSphere release may add (FUTURE_ENUM_VALUES): host
   * connection and power state, running task state, patch reasons, integrity and install
   * state (VI/JSON); installed-images status, notification type and operation (REST).
   */
  unknownEnumValues?: boolean | Array<keyof typeof FUTURE_ENUM_VALUES>;
  /**
   * Optional members left out of every answer, one dotted path each, starting with the
   * type that declares them: a managed object type and property path
   * ('HostSystem.configManager.patchManager'), a VI/JSON data type and field path
   * ('TaskInfo.entity', 'HostPatchManagerStatus.integrity'), or a REST schema's short name
   * and path, '*' for every map entry or list item
   * ('InstalledImageInfo.image_categories.most_widely_used_image', 'Notification.resolution').
   */
  omit?: string[];
  /** Every RetrievePropertiesEx result carries a token, and every continuation another: paging never ends. */
  endlessPaging?: boolean;
  /** Tasks on these entities (MoIDs, '*' for all) vanish halfway through running, as if vCenter had dropped them. */
  dropTasksOf?: string[];
  /**
   * Every installed-images answer also names this host MoID (extracted, most widely used
   * image, host_info), as when a host was removed from the inventory after the extraction.
   */
  installedImagesExtraHost?: string;
}

/** What a later release might add, per enum (the values are invented, the shapes are not). */
export const FUTURE_ENUM_VALUES = {
  HostSystemConnectionState: 'quarantined',
  HostSystemPowerState: 'hibernating',
  /** Only for tasks not yet finished: a scan still ends in success or error. */
  TaskInfoState: 'paused',
  PatchReason: 'missingFirmware',
  PatchIntegrity: 'keyUntrusted',
  PatchInstallState: 'vmsEvacuated',
  InstalledImageStatus: 'PARTIALLY_EXTRACTED',
  NotificationType: 'CRITICAL',
  InstalledImageOperation: 'COMPLIANCE_CHECK',
} as const;

/** One omit rule split into its type and the path below it. */
function omissions(quirks: SimQuirks, type: string): string[][] {
  return (quirks.omit ?? []).filter((r) => r.startsWith(`${type}.`)).map((r) => r.slice(type.length + 1).split('.'));
}

/** Does the quirk answer a future value of this enum (true: of every enum)? */
function future(quirks: SimQuirks, name: keyof typeof FUTURE_ENUM_VALUES): string | undefined {
  const on = quirks.unknownEnumValues;
  return on === true || (Array.isArray(on) && on.includes(name)) ? FUTURE_ENUM_VALUES[name] : undefined;
}

function active(quirks: SimQuirks | undefined): quirks is SimQuirks {
  return !!quirks && (!!quirks.unknownEnumValues || (quirks.omit?.length ?? 0) > 0 || quirks.installedImagesExtraHost !== undefined);
}

/** A managed object whose property values go through the quirks; unchanged without any. */
export function withQuirks(obj: ManagedObject | undefined, quirks: SimQuirks | undefined): ManagedObject | undefined {
  if (!obj || !active(quirks)) return obj;
  const own = omissions(quirks, obj.ref.type);
  return {
    ref: obj.ref,
    get(name) {
      if (own.some((p) => p.length === 1 && p[0] === name)) return undefined;
      let value = obj.get(name);
      for (const p of own) if (p[0] === name && value) value = withoutPath(value, p.slice(1));
      return value && quirkValue(value, quirks);
    },
  };
}

function withoutPath(v: VimValue, path: string[]): VimValue {
  if (v.kind !== 'data' || path.length === 0) return v;
  const [head = '', ...rest] = path;
  const fields = new Map(v.fields);
  const child = fields.get(head);
  if (rest.length === 0) fields.delete(head);
  else if (child) fields.set(head, withoutPath(child, rest));
  return { ...v, fields };
}

const PATCH_STATUS_ENUMS: Record<string, keyof typeof FUTURE_ENUM_VALUES> = {
  reason: 'PatchReason',
  integrity: 'PatchIntegrity',
  installState: 'PatchInstallState',
};

/** Data-type omissions and future enum values, through the whole value. */
function quirkValue(v: VimValue, quirks: SimQuirks): VimValue {
  switch (v.kind) {
    case 'primitive':
    case 'moref':
      return v;
    case 'enum': {
      if (!(v.type in FUTURE_ENUM_VALUES)) return v;
      const value = future(quirks, v.type as keyof typeof FUTURE_ENUM_VALUES);
      if (value === undefined) return v;
      if (v.type === 'TaskInfoState' && v.value !== 'queued' && v.value !== 'running') return v;
      return { ...v, value };
    }
    case 'array':
      return { ...v, items: v.items.map((i) => quirkValue(i, quirks)) };
    case 'data': {
      let out: VimValue = v;
      for (const p of omissions(quirks, v.type)) out = withoutPath(out, p);
      if (out.kind !== 'data') return out;
      const fields = new Map<string, VimValue>();
      for (const [k, f] of out.fields) {
        const enumName = v.type === 'HostPatchManagerStatus' || v.type === 'HostPatchManagerStatusPrerequisitePatch' ? PATCH_STATUS_ENUMS[k] : undefined;
        const value = enumName && future(quirks, enumName);
        fields.set(k, value ? futureStrings(f, value) : quirkValue(f, quirks));
      }
      return { ...out, fields };
    }
  }
}

/** A string (or each string of a string array) replaced by a future enum value. */
function futureStrings(v: VimValue, future: string): VimValue {
  if (v.kind === 'primitive' && v.type === 'string') return { ...v, value: future };
  if (v.kind === 'array') return { ...v, items: v.items.map((i) => futureStrings(i, future)) };
  return v;
}

type Json = Record<string, any>;

/** The installed-images answer (Esx.Settings.Clusters.InstalledImages.InstalledImageInfo) through the quirks. */
export function installedImagesWithQuirks(info: Json, quirks: SimQuirks | undefined): Json {
  if (!active(quirks)) return info;
  const out = structuredClone(info);
  const notificationLists = (o: Json): Json[][] =>
    Object.values(o).flatMap((n) => ['info', 'warnings', 'errors'].map((k) => (n as Json)?.[k]).filter(Array.isArray));
  const everyNotification = (): Json[] => [...notificationLists(out.notifications ?? {}), ...notificationLists(out.host_notifications ?? {})].flat();
  const status = future(quirks, 'InstalledImageStatus');
  if (status) out.status = status;
  const type = future(quirks, 'NotificationType');
  if (type) for (const n of everyNotification()) if (n.type !== undefined) n.type = type;
  const operation = future(quirks, 'InstalledImageOperation');
  const first = Object.keys(out.notifications ?? {})[0];
  if (operation && first !== undefined) {
    out.notifications[operation] = out.notifications[first];
    delete out.notifications[first];
  }
  const extra = quirks.installedImagesExtraHost;
  if (extra !== undefined) {
    out.successful_hosts = [...(out.successful_hosts ?? []), extra];
    out.host_info = { ...out.host_info, [extra]: { name: `${extra}.removed.sim.local` } };
    out.image_categories?.most_widely_used_image?.host_list?.push(extra);
  }
  for (const path of omissions(quirks, 'InstalledImageInfo')) deleteJsonPath(out, path);
  for (const path of omissions(quirks, 'Notification')) for (const n of everyNotification()) deleteJsonPath(n, path);
  return out;
}

/** Deletes `path` from a JSON value; '*' walks every map entry or list item. */
function deleteJsonPath(value: unknown, path: string[]): void {
  if (!value || typeof value !== 'object' || path.length === 0) return;
  const [head = '', ...rest] = path;
  const children = head === '*' ? Object.keys(value as Json) : [head];
  for (const key of children) {
    if (rest.length === 0) delete (value as Json)[key];
    else deleteJsonPath((value as Json)[key], rest);
  }
}
