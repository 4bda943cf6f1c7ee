// PropertyCollector.RetrievePropertiesEx semantics: walk ObjectSpecs and
// (possibly recursive, named) TraversalSpecs to a set of objects, then read
// the PropertySpec paths of each, boxing every value for DynamicProperty.val.

import { fault } from './faults.ts';
import type { MoRef } from './inventory.ts';
import { KNOWN_TYPES, isA, propertiesOf, resolve } from './vim-model.ts';
import type { ManagedObject, VimContext } from './vim-model.ts';
import { lookupPath, morefJson, toBoxed } from './vim-values.ts';
import type { VimValue } from './vim-values.ts';

export type ObjectContentJson = Record<string, unknown>;

interface PropertySpec {
  type: string;
  all: boolean;
  pathSet: string[];
}

interface TraversalSpec {
  name?: string;
  type: string;
  path: string;
  skip: boolean;
  selectSet: Selection[];
}

/** Either an inline TraversalSpec or a reference by name to one. */
type Selection = TraversalSpec | { ref: string };

/**
 * Fields of the data objects the simulator emits, as the vim25 API declares
 * them, so a misspelled nested path ("runtime.conectionState") is an
 * InvalidProperty like on vCenter, while a real but unset field is omitted.
 */
const DATA_FIELDS: Record<string, readonly string[]> = {
  HostRuntimeInfo: ['connectionState', 'powerState', 'standbyMode', 'inMaintenanceMode', 'inQuarantineMode', 'bootTime', 'healthSystemRuntime', 'dasHostState', 'tpmPcrValues', 'vsanRuntimeInfo', 'networkRuntimeInfo', 'vFlashResourceRuntimeInfo', 'hostMaxVirtualDiskCapacity', 'cryptoState', 'cryptoKeyId', 'statelessNvdsMigrationReady', 'stateEncryption', 'partialMaintenanceMode'],
  AboutInfo: ['name', 'fullName', 'vendor', 'version', 'patchLevel', 'build', 'localeVersion', 'localeBuild', 'osType', 'productLineId', 'apiType', 'apiVersion', 'instanceUuid', 'licenseProductName', 'licenseProductVersion'],
  HostListSummary: ['host', 'hardware', 'runtime', 'config', 'quickStats', 'overallStatus', 'rebootRequired', 'customValue', 'managementServerIp', 'maxEVCModeKey', 'currentEVCModeKey', 'currentEVCGraphicsModeKey', 'gateway', 'tpmAttestation', 'trustAuthorityAttestationInfos'],
  HostConfigSummary: ['name', 'port', 'sslThumbprint', 'product', 'vmotionEnabled', 'faultToleranceEnabled', 'featureVersion', 'agentVmDatastore', 'agentVmNetwork'],
  HostHardwareSummary: ['vendor', 'model', 'uuid', 'otherIdentifyingInfo', 'memorySize', 'cpuModel', 'cpuMhz', 'numCpuPkgs', 'numCpuCores', 'numCpuThreads', 'numNics', 'numHBAs'],
};
const knownFields = (type: string): readonly string[] | undefined => DATA_FIELDS[type];

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export function parseMoRef(x: unknown, what: string): MoRef {
  if (!isObject(x) || typeof x.type !== 'string' || typeof x.value !== 'string') throw fault.invalidArgument(what);
  return { type: x.type, value: x.value };
}

function parseSelection(x: unknown, named: Map<string, TraversalSpec>): Selection {
  if (!isObject(x)) throw fault.invalidArgument('selectSet');
  // A TraversalSpec has type+path; a bare SelectionSpec only names one.
  if (typeof x.type === 'string' && typeof x.path === 'string') {
    const ts: TraversalSpec = {
      type: x.type,
      path: x.path,
      skip: x.skip === true,
      selectSet: [],
    };
    if (typeof x.name === 'string') {
      ts.name = x.name;
      named.set(x.name, ts);
    }
    if (!KNOWN_TYPES.has(ts.type)) throw fault.invalidType(ts.type);
    const known = propertiesOf(ts.type);
    if (known && !known.includes(ts.path)) throw fault.invalidProperty(ts.path);
    ts.selectSet = parseSelections(x.selectSet, named);
    return ts;
  }
  if (typeof x.name === 'string') return { ref: x.name };
  throw fault.invalidArgument('selectSet');
}

function parseSelections(x: unknown, named: Map<string, TraversalSpec>): Selection[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x)) throw fault.invalidArgument('selectSet');
  return x.map((s) => parseSelection(s, named));
}

function parsePropertySpec(x: unknown): PropertySpec {
  if (!isObject(x) || typeof x.type !== 'string') throw fault.invalidArgument('propSet');
  if (!KNOWN_TYPES.has(x.type)) throw fault.invalidType(x.type);
  const pathSet = x.pathSet ?? [];
  if (!Array.isArray(pathSet) || !pathSet.every((p) => typeof p === 'string')) throw fault.invalidArgument('pathSet');
  const known = propertiesOf(x.type);
  for (const p of pathSet as string[]) {
    if (known && !known.includes(p.split('.')[0] ?? '')) throw fault.invalidProperty(p);
  }
  return { type: x.type, all: x.all === true, pathSet: pathSet as string[] };
}

interface Collected {
  obj: ManagedObject;
  all: boolean;
  paths: Set<string>;
  /** False until some PropertySpec matches the object's type. */
  matched: boolean;
  /** Set when the user may not read the object: the entity lacking System.Read. */
  denied?: MoRef;
}

/**
 * Runs every PropertyFilterSpec of specSet and returns the ObjectContents,
 * each object at most once (in first-seen order). Throws VimFault.
 */
export function retrieveContents(ctx: VimContext, specSet: unknown): ObjectContentJson[] {
  if (!Array.isArray(specSet) || specSet.length === 0) throw fault.invalidArgument('specSet');
  const collected = new Map<string, Collected>();
  const keyOf = (r: MoRef): string => `${r.type}:${r.value}`;

  for (const rawSpec of specSet) {
    if (!isObject(rawSpec)) throw fault.invalidArgument('specSet');
    if (!Array.isArray(rawSpec.propSet)) throw fault.invalidArgument('propSet');
    if (!Array.isArray(rawSpec.objectSet) || rawSpec.objectSet.length === 0) throw fault.invalidArgument('objectSet');
    const propSpecs = rawSpec.propSet.map(parsePropertySpec);
    const reportMissing = rawSpec.reportMissingObjectsInResults === true;
    const named = new Map<string, TraversalSpec>();
    const objectSpecs = rawSpec.objectSet.map((os) => {
      if (!isObject(os)) throw fault.invalidArgument('objectSet');
      return { obj: parseMoRef(os.obj, 'obj'), skip: os.skip === true, selectSet: parseSelections(os.selectSet, named) };
    });

    // Objects found by this spec; a traversal step is taken once per object.
    const found: ManagedObject[] = [];
    const foundKeys = new Set<string>();
    /** Objects the spec names itself (not skipped), as opposed to reached by traversal. */
    const namedObjects = new Set<string>();
    const walked = new Map<string, Set<TraversalSpec>>();
    const add = (o: ManagedObject): void => {
      const k = keyOf(o.ref);
      if (!foundKeys.has(k)) {
        foundKeys.add(k);
        found.push(o);
      }
    };
    const traverse = (from: ManagedObject, selections: Selection[]): void => {
      for (const sel of selections) {
        const ts = 'ref' in sel ? named.get(sel.ref) : sel;
        if (!ts) throw fault.invalidArgument('selectSet');
        if (!isA(from.ref.type, ts.type)) continue;
        const k = keyOf(from.ref);
        const seen = walked.get(k) ?? new Set<TraversalSpec>();
        if (seen.has(ts)) continue;
        seen.add(ts);
        walked.set(k, seen);
        for (const target of referencedObjects(ctx, from.get(ts.path))) {
          if (!ts.skip) add(target);
          traverse(target, ts.selectSet);
        }
      }
    };

    for (const os of objectSpecs) {
      const obj = resolve(ctx, os.obj);
      if (!obj) {
        // Per PropertyFilterSpec.reportMissingObjectsInResults: omitted from a RetrieveResult.
        if (reportMissing) continue;
        throw fault.managedObjectNotFound(os.obj);
      }
      if (!os.skip) {
        add(obj);
        namedObjects.add(keyOf(obj.ref));
      }
      traverse(obj, os.selectSet);
    }

    for (const obj of found) {
      const k = keyOf(obj.ref);
      // vCenter silently leaves out what the user may not read, unless the spec names it:
      // then its ObjectContent reports every requested property as missing with NoPermission.
      const denied = ctx.access.denied(obj.ref);
      if (denied && !namedObjects.has(k)) continue;
      const entry: Collected = collected.get(k) ?? { obj, all: false, paths: new Set<string>(), matched: false, ...(denied ? { denied } : {}) };
      for (const ps of propSpecs) {
        if (!isA(obj.ref.type, ps.type)) continue;
        entry.matched = true;
        if (ps.all) entry.all = true;
        for (const p of ps.pathSet) entry.paths.add(p);
      }
      collected.set(k, entry);
    }
  }

  const out: ObjectContentJson[] = [];
  for (const entry of collected.values()) {
    if (!entry.matched) continue; // no PropertySpec for this type: not reported
    out.push(objectContent(entry));
  }
  return out;
}

function referencedObjects(ctx: VimContext, v: VimValue | undefined): ManagedObject[] {
  if (!v) return [];
  const refs = v.kind === 'moref' ? [v.ref] : v.kind === 'array' ? v.items.flatMap((i) => (i.kind === 'moref' ? [i.ref] : [])) : [];
  return refs.map((r) => resolve(ctx, r)).filter((o): o is ManagedObject => o !== undefined);
}

function objectContent(entry: Collected): ObjectContentJson {
  const names = new Set(entry.paths);
  if (entry.all) for (const p of propertiesOf(entry.obj.ref.type) ?? []) names.add(p);
  const content: ObjectContentJson = { _typeName: 'ObjectContent', obj: morefJson(entry.obj.ref) };
  // vCenter lists properties sorted by name (see captures/).
  if (entry.denied) {
    if (names.size > 0) {
      const { body } = fault.noPermission(entry.denied, 'System.Read');
      content.missingSet = [...names].sort().map((path) => ({ _typeName: 'MissingProperty', path, fault: body }));
    }
    return content;
  }
  const propSet: unknown[] = [];
  // Each top-level property is built once per object, however many of its paths are asked
  // ("runtime.connectionState", "runtime.powerState", ...).
  const tops = new Map<string, VimValue | undefined>();
  for (const name of [...names].sort()) {
    const [top = '', ...rest] = name.split('.');
    let root: VimValue | undefined;
    if (tops.has(top)) root = tops.get(top);
    else tops.set(top, (root = entry.obj.get(top)));
    const lookup = lookupPath(root, rest, knownFields);
    if (!lookup.found) throw fault.invalidProperty(name);
    if (lookup.value === undefined) continue; // unset optional property: omitted
    propSet.push({ _typeName: 'DynamicProperty', name, val: toBoxed(lookup.value) });
  }
  if (propSet.length > 0) content.propSet = propSet;
  return content;
}
