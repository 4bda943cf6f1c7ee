import DataLoader from 'dataloader';
import type {
  AboutInfo,
  InstalledImageInfo,
  ManagedObjectReference,
  ObjectContent,
  PropertyFilterSpec,
  SoftwareInfo,
  VCenterClient,
} from '../vsphere/index.ts';
import { propsOf } from '../vsphere/index.ts';
import type { ClusterReport, ClusterReportCache, ClusterReports } from '../mirror/index.ts';
import type { ReportFreshness } from './generated/resolvers-types.ts';
import type { ScanService } from '../scans/service.ts';
import { scanKey } from '../scans/service.ts';
import type { TaskInfo } from '../vsphere/index.ts';
import type { Upstreams } from './context.ts';
import type { InventoryReader } from './live-inventory.ts';
import type { ClusterModel } from './models.ts';

/** A cluster report as an operation sees it: the report and how old it is. */
export interface Reported<T> {
  value: T;
  freshness: ReportFreshness;
}

function withFreshness<T>(report: ClusterReport<T>, now: number, cached: boolean): Reported<T> {
  return {
    value: report.value,
    freshness: { fetchedAt: new Date(report.fetchedAt).toISOString(), ageSeconds: Math.max(0, Math.floor((now - report.fetchedAt) / 1000)), cached },
  };
}

/** What the gateway reads of every host, in one PropertyCollector round trip for many hosts. */
export const HOST_PROPERTIES = [
  'name',
  'parent',
  'runtime.connectionState',
  'runtime.powerState',
  'runtime.inMaintenanceMode',
  'config.product',
] as const;

export interface HostRecord {
  vcenter: string;
  moId: string;
  name: string;
  /** ClusterComputeResource for clustered hosts, ComputeResource for standalone ones. */
  parent?: ManagedObjectReference;
  /** HostSystemConnectionState: connected, disconnected, notResponding, or a later release's value. */
  connectionState: string;
  /** HostSystemPowerState: poweredOn, poweredOff, standBy, unknown, or a later release's value. */
  powerState?: string;
  inMaintenanceMode: boolean;
  product?: AboutInfo;
}

/**
 * Objects per PropertyCollector page. Unset, vCenter pages at 100 objects, and each further
 * page is one more dependent round trip; 2,500 (the vSphere 8 maximum of hosts per vCenter)
 * reads any vCenter's hosts in one.
 */
export const PROPERTY_PAGE_SIZE = 2500;

/** Loader keys for per-vCenter objects: "vcenter\u0000moId" (NUL cannot occur in either part). */
export function objectKey(vcenter: string, moId: string): string {
  return `${vcenter}\u0000${moId}`;
}

function splitKey(key: string): [vcenter: string, moId: string] {
  const i = key.indexOf('\u0000');
  return [key.slice(0, i), key.slice(i + 1)];
}

/** Groups loader keys by vCenter, keeping each key's position so results line up again. */
function groupByVCenter(keys: readonly string[]): Map<string, { moIds: string[]; positions: number[] }> {
  const groups = new Map<string, { moIds: string[]; positions: number[] }>();
  keys.forEach((key, position) => {
    const [vcenter, moId] = splitKey(key);
    let group = groups.get(vcenter);
    if (!group) groups.set(vcenter, (group = { moIds: [], positions: [] }));
    group.moIds.push(moId);
    group.positions.push(position);
  });
  return groups;
}

function moRef(type: string, value: string): ManagedObjectReference {
  return { _typeName: 'ManagedObjectReference', type, value };
}

export function hostRecord(vcenter: string, object: ObjectContent): HostRecord {
  const p = propsOf(object);
  return {
    vcenter,
    moId: object.obj.value,
    name: (p['name'] as string | undefined) ?? object.obj.value,
    parent: p['parent'] as ManagedObjectReference | undefined,
    connectionState: (p['runtime.connectionState'] as HostRecord['connectionState'] | undefined) ?? 'notResponding',
    powerState: p['runtime.powerState'] as HostRecord['powerState'],
    inMaintenanceMode: (p['runtime.inMaintenanceMode'] as boolean | undefined) ?? false,
    product: p['config.product'] as AboutInfo | undefined,
  };
}

/**
 * A missing object (reportMissingObjectsInResults) comes back without properties; a
 * property that could not be read lands in missingSet but the object is still there.
 */
function hasProperties(object: ObjectContent): boolean {
  return (object.propSet?.length ?? 0) > 0;
}

/** Runs one async call per key, in parallel, turning each failure into that key's error. */
async function perKey<K, V>(keys: readonly K[], fetch: (key: K) => Promise<V>): Promise<(V | Error)[]> {
  const settled = await Promise.allSettled(keys.map(fetch));
  return settled.map((s) => (s.status === 'fulfilled' ? s.value : toError(s.reason)));
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

/**
 * Builds each property on first use. Every operation (and every subscription event) gets
 * its own loaders, and most use two or three of them.
 */
function lazily<T extends Record<string, unknown>>(factories: { [K in keyof T]: () => T[K] }): T {
  const out = {} as T;
  for (const key of Object.keys(factories) as (keyof T & string)[]) {
    Object.defineProperty(out, key, {
      configurable: true,
      enumerable: true,
      get() {
        const value = factories[key]();
        Object.defineProperty(out, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return out;
}

export function createLoaders(upstreams: Upstreams, scans: ScanService, inventory?: InventoryReader) {
  /** The mirror snapshot of a vCenter when this operation reads the mirror and it is usable; else undefined (read live). */
  const mirrored = (vcenter: string) => inventory?.snapshot(vcenter);

  const pageOptions = { maxObjects: PROPERTY_PAGE_SIZE };
  /** Every host record this request has read, whichever query path read it. */
  const knownHosts = new Map<string, HostRecord>();
  /** Host reads in flight per vCenter: a host lookup waits for them before asking vCenter again. */
  const pendingHostReads = new Map<string, Promise<unknown>[]>();

  const remember = (records: HostRecord[]) => {
    for (const r of records) knownHosts.set(objectKey(r.vcenter, r.moId), r);
    return records;
  };
  const track = <T>(vcenter: string, read: Promise<T>): Promise<T> => {
    const list = pendingHostReads.get(vcenter) ?? [];
    list.push(read.catch(() => undefined));
    pendingHostReads.set(vcenter, list);
    return read;
  };

  const hostSpec = (objectSet: PropertyFilterSpec['objectSet']): PropertyFilterSpec => ({
    _typeName: 'PropertyFilterSpec',
    propSet: [{ _typeName: 'PropertySpec', type: 'HostSystem', pathSet: [...HOST_PROPERTIES] }],
    objectSet,
    reportMissingObjectsInResults: true,
  });

  /** One REST cluster list per vCenter. Key: vCenter name. */
  const clustersOfVCenter = () =>
    new DataLoader<string, ClusterModel[]>((names) =>
      perKey(names, async (vcenter) => {
        const snapshot = mirrored(vcenter);
        if (snapshot) return snapshot.clusters().map((c): ClusterModel => ({ __typename: 'Cluster', ...c }));
        const summaries = await upstreams.get(vcenter).listClusters();
        return summaries.map((s): ClusterModel => ({
          __typename: 'Cluster',
          vcenter,
          moId: s.cluster,
          name: s.name,
          haEnabled: s.ha_enabled,
          drsEnabled: s.drs_enabled,
        }));
      }),
    );

  /**
   * Hosts of many clusters: one RetrievePropertiesEx per vCenter, starting at the clusters
   * and following ClusterComputeResource.host, so the cost is independent of host count.
   */
  const hostsOfCluster = () =>
    new DataLoader<string, readonly HostRecord[]>(async (keys) => {
      const results: (readonly HostRecord[] | Error)[] = new Array(keys.length);
      await Promise.all(
        [...groupByVCenter(keys)].map(async ([vcenter, { moIds, positions }]) => {
          const snapshot = mirrored(vcenter);
          if (snapshot) {
            // The mirror's own (immutable) list: no copy, and its identity keys the sorted-list cache.
            positions.forEach((pos, i) => (results[pos] = snapshot.hostsOfCluster(moIds[i]!)));
            return;
          }
          const read = track(
            vcenter,
            upstreams.get(vcenter).retrieveProperties([
              hostSpec(
                moIds.map((moId) => ({
                  _typeName: 'ObjectSpec',
                  obj: moRef('ClusterComputeResource', moId),
                  skip: true,
                  selectSet: [
                    { _typeName: 'TraversalSpec', name: 'clusterHosts', type: 'ClusterComputeResource', path: 'host', skip: false },
                  ],
                })),
              ),
            ], pageOptions),
          );
          try {
            const objects = await read;
            const byCluster = new Map<string, HostRecord[]>(moIds.map((id) => [id, []]));
            for (const record of remember(objects.filter(hasProperties).map((o) => hostRecord(vcenter, o)))) {
              if (record.parent) byCluster.get(record.parent.value)?.push(record);
            }
            positions.forEach((pos, i) => (results[pos] = byCluster.get(moIds[i]!) ?? []));
          } catch (error) {
            for (const pos of positions) results[pos] = toError(error);
          }
        }),
      );
      return results;
    });

  /** Every host of a vCenter, through its HostSystem container view. Key: vCenter name. */
  const hostsOfVCenter = () =>
    new DataLoader<string, readonly HostRecord[]>((names) =>
      perKey(names, (vcenter): Promise<readonly HostRecord[]> => {
        const snapshot = mirrored(vcenter);
        if (snapshot) return Promise.resolve(snapshot.hosts());
        return track(
          vcenter,
          upstreams
            .get(vcenter)
            .retrieveAll('HostSystem', [...HOST_PROPERTIES], pageOptions)
            .then((objects) => remember(objects.map((o) => hostRecord(vcenter, o)))),
        );
      }),
    );

  /** Single hosts by MoID: whatever other reads of this request did not already bring, in one call per vCenter. */
  const host = () =>
    new DataLoader<string, HostRecord | null>(async (keys) => {
      const results: (HostRecord | null | Error)[] = new Array(keys.length);
      await Promise.all(
        [...groupByVCenter(keys)].map(async ([vcenter, { moIds, positions }]) => {
          const snapshot = mirrored(vcenter);
          if (snapshot) {
            positions.forEach((pos, i) => (results[pos] = snapshot.host(moIds[i]!) ?? null));
            return;
          }
          await Promise.all(pendingHostReads.get(vcenter) ?? []);
          const missing = moIds.filter((moId) => !knownHosts.has(objectKey(vcenter, moId)));
          try {
            if (missing.length > 0) {
              const objects = await upstreams.get(vcenter).retrieveProperties([
                hostSpec(missing.map((moId) => ({ _typeName: 'ObjectSpec', obj: moRef('HostSystem', moId) }))),
              ], pageOptions);
              remember(objects.filter(hasProperties).map((o) => hostRecord(vcenter, o)));
            }
            positions.forEach((pos, i) => (results[pos] = knownHosts.get(objectKey(vcenter, moIds[i]!)) ?? null));
          } catch (error) {
            for (const pos of positions) results[pos] = toError(error);
          }
        }),
      );
      return results;
    });

  /**
   * A cluster's vLCM report: from the vCenter's per-cluster cache when this operation reads the
   * mirror, else live through the caller's session (passthrough: vCenter's permissions apply).
   */
  const clusterReport = <T>(key: string, cached: (reports: ClusterReports) => ClusterReportCache<T>, live: (client: VCenterClient, moId: string) => Promise<T>) => {
    const [vcenter, moId] = splitKey(key);
    const reports = inventory?.reports(vcenter);
    if (reports) return cached(reports).get(moId).then((report) => withFreshness(report, reports.now(), true));
    const fetchedAt = Date.now();
    return live(upstreams.get(vcenter), moId).then((value) => withFreshness({ value, fetchedAt }, fetchedAt, false));
  };

  /** No batch endpoint exists: one call per cluster, de-duplicated, in parallel under the client's cap. */
  const installedImages = () =>
    new DataLoader<string, Reported<InstalledImageInfo>>((keys) =>
      perKey(keys, (key) => clusterReport(key, (r) => r.installedImages, (client, moId) => client.getInstalledImages(moId))),
    );

  const desiredSoftware = () =>
    new DataLoader<string, Reported<SoftwareInfo>>((keys) =>
      perKey(keys, (key) => clusterReport(key, (r) => r.desiredSoftware, (client, moId) => client.getDesiredSoftware(moId))),
    );

  /** Task.info of patch scans: one PropertyCollector call per vCenter for all of them. */
  const scanInfo = () =>
    new DataLoader<string, TaskInfo | null>(async (keys) => {
      const refs = keys.map((key) => {
        const [vcenter, taskMoId] = splitKey(key);
        return { vcenter, taskMoId };
      });
      const infos = await scans.taskInfos(refs);
      return refs.map((ref) => infos.get(scanKey(ref)) ?? null);
    });

  /** Recent patch scans of hosts: one call per vCenter following HostSystem.recentTask. */
  const recentScansOfHost = () =>
    new DataLoader<string, TaskInfo[]>(async (keys) => {
      const results: (TaskInfo[] | Error)[] = new Array(keys.length);
      await Promise.all(
        [...groupByVCenter(keys)].map(async ([vcenter, { moIds, positions }]) => {
          try {
            const byHost = await scans.recentScans(vcenter, moIds);
            positions.forEach((pos, i) => (results[pos] = byHost.get(moIds[i]!) ?? []));
          } catch (error) {
            for (const pos of positions) results[pos] = toError(error);
          }
        }),
      );
      return results;
    });

  return lazily({ clustersOfVCenter, hostsOfCluster, hostsOfVCenter, host, installedImages, desiredSoftware, scanInfo, recentScansOfHost });
}

export type Loaders = ReturnType<typeof createLoaders>;
