// Deterministic vCenter inventory: the same seed and size always give the
// same objects, MoIDs, names, builds and special cases. Both APIs (REST and
// VI/JSON) render from this one model so they can never disagree.

import {
  CLUSTER_ROLES,
  DATACENTER_NAMES,
  ESXI_RELEASES,
  HA_SOLUTION,
  ORPHANED_VIBS,
  SERVER_VENDORS,
  VCENTER_ABOUT,
  addOnVersion,
  releaseByBuild,
  releaseRank,
  vmkusbComponent,
} from './catalog.ts';
import type { ComponentTemplate, EsxiRelease, ServerVendor } from './catalog.ts';

export interface FleetSize {
  vcenters: number;
  datacentersPerVcenter: number;
  clustersPerDatacenter: number;
  hostsPerCluster: number;
}

export const DEFAULT_FLEET_SIZE: FleetSize = {
  vcenters: 2,
  datacentersPerVcenter: 1,
  clustersPerDatacenter: 3,
  hostsPerCluster: 4,
};

export interface MoRef {
  type: string;
  value: string;
}

/** The software a host runs, as vLCM describes it. */
export interface HostImage {
  release: EsxiRelease;
  addOn?: { name: string; version: string; displayName: string; vendor: string; displayVersion: string };
  components: ComponentTemplate[];
  /** Solution components, e.g. vSphere HA's 'vsphere-fdm'. */
  solutions: Array<{ name: string; version: string; displayName: string; components: Array<{ component: string; displayName: string }> }>;
}

export type HostConnectionState = 'connected' | 'disconnected' | 'notResponding';
export type HostPowerState = 'poweredOn' | 'poweredOff' | 'standBy' | 'unknown';

export interface SimHost {
  moId: string;
  name: string;
  cluster: string;
  datacenter: string;
  connectionState: HostConnectionState;
  powerState: HostPowerState;
  inMaintenanceMode: boolean;
  image: HostImage;
  /** Entries "name(version)" */
  orphanedVibs: string[];
  hardware: {
    vendor: string;
    model: string;
    uuid: string;
    cpuModel: string;
    cpuMhz: number;
    numCpuPkgs: number;
    numCpuCores: number;
    numCpuThreads: number;
    memorySize: number;
    numNics: number;
    numHBAs: number;
  };
  bootTime: string;
}

export type InstalledImageStatus = 'UNAVAILABLE' | 'ELIGIBILITY_CHECK_FAILURE' | 'EXTRACT_INSTALLED_IMAGE_FAILURE' | 'SUCCESS';

export interface SimCluster {
  moId: string;
  name: string;
  datacenter: string;
  /** The datacenter's host folder */
  parentFolder: string;
  resourcePool: string;
  hosts: string[];
  haEnabled: boolean;
  drsEnabled: boolean;
  /** Managed with a single vLCM image: GET .../software answers; else 404. */
  managedBySingleImage: boolean;
  /** The desired image (GET .../software); undefined when not image-managed. */
  desiredImage?: HostImage;
  installedImages: {
    completionTime: string;
    status: InstalledImageStatus;
    /** Hosts the last extraction could not read (they appear in failed_hosts). */
    failedHosts: string[];
  };
}

export interface SimDatacenter {
  moId: string;
  name: string;
  parentFolder: string;
  hostFolder: string;
  vmFolder: string;
  datastoreFolder: string;
  networkFolder: string;
  clusters: string[];
}

export interface SimFolder {
  moId: string;
  name: string;
  /** Parent MoRef; the root folder has none. */
  parent?: MoRef;
  childType: string[];
  children: MoRef[];
}

export interface SimResourcePool {
  moId: string;
  name: string;
  owner: string;
}

export interface SpecialCases {
  /** Hosts run different images: uniform_image false, most widely used != highest versioned, host_image_list set. */
  mixedImageCluster?: string;
  /** installed-images status EXTRACT_INSTALLED_IMAGE_FAILURE (contains the disconnected host). */
  failedExtractCluster?: string;
  /** Not managed by a single image: GET .../software → 404. */
  notImageManagedCluster?: string;
  disconnectedHost?: string;
  maintenanceModeHost?: string;
  orphanedVibHost?: string;
}

export interface VCenterInventory {
  /** 0-based position in the fleet */
  index: number;
  /** Display name, e.g. 'vc-01.sim.local' */
  name: string;
  instanceUuid: string;
  about: Omit<typeof VCENTER_ABOUT, 'apiVersion'> & { apiVersion: string; instanceUuid: string };
  /** Highest VI/JSON release this vCenter serves. */
  apiVersion: string;
  /** False simulates a vCenter older than 8.0 U1: no VI/JSON API at all (/sdk/vim25 → 404). */
  vimJson: boolean;
  rootFolder: string;
  folders: SimFolder[];
  datacenters: SimDatacenter[];
  clusters: SimCluster[];
  hosts: SimHost[];
  resourcePools: SimResourcePool[];
  specialCases: SpecialCases;
  /** Lookup by MoID */
  folderById: Map<string, SimFolder>;
  datacenterById: Map<string, SimDatacenter>;
  clusterById: Map<string, SimCluster>;
  hostById: Map<string, SimHost>;
  resourcePoolById: Map<string, SimResourcePool>;
}

export interface InventoryOptions {
  seed: number;
  size: FleetSize;
  /** Per-vCenter overrides by index. */
  perVcenter?: Array<{ vimJson?: boolean } | undefined>;
}

/** mulberry32: tiny, fast, good enough for reproducible test data. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from empty list');
  return item;
}

function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function uuid(rng: Rng): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rng() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Fixed epoch for generated timestamps so output never depends on the wall clock. */
const EPOCH = Date.parse('2025-06-02T06:00:00.000Z');

function timestamp(rng: Rng, maxMinutes: number): string {
  return new Date(EPOCH + Math.floor(rng() * maxMinutes) * 60_000 + Math.floor(rng() * 60_000)).toISOString();
}

export function buildImage(release: EsxiRelease, vendor: ServerVendor, haEnabled: boolean): HostImage {
  const version = addOnVersion(vendor, release);
  return {
    release,
    addOn: {
      name: vendor.addOnName,
      version,
      displayName: vendor.addOnDisplayName,
      vendor: vendor.addOnVendor,
      displayVersion: version,
    },
    components: [...vendor.components, vmkusbComponent(release)],
    solutions: haEnabled
      ? [{
          name: HA_SOLUTION.name,
          version: HA_SOLUTION.version,
          displayName: HA_SOLUTION.displayName,
          components: [{ component: HA_SOLUTION.component, displayName: HA_SOLUTION.componentDisplayName }],
        }]
      : [],
  };
}

/** A stable key: hosts with equal keys run the same image. */
export function imageKey(image: HostImage): string {
  return JSON.stringify([
    image.release.baseImageVersion,
    image.addOn?.name,
    image.addOn?.version,
    image.components.map((c) => [c.name, c.version]),
    image.solutions.map((s) => [s.name, s.version]),
  ]);
}

export function compareImages(a: HostImage, b: HostImage): number {
  return releaseRank(a.release) - releaseRank(b.release);
}

const U2 = releaseByBuild('22380479');
const U3B = releaseByBuild('24280767');
const U3D = releaseByBuild('24585383');
/** Releases a healthy cluster is commonly found on. */
const BASELINE_RELEASES = ESXI_RELEASES.filter((r) => r.version === '8.0.3');

export function buildFleet(options: InventoryOptions): VCenterInventory[] {
  const rng = createRng(options.seed);
  // Datacenter names are unique across the fleet, so host FQDNs are too.
  const dcNames = shuffled(rng, DATACENTER_NAMES);
  const fleet: VCenterInventory[] = [];
  let dcCounter = 0;
  for (let i = 0; i < options.size.vcenters; i++) {
    // Each vCenter gets its own stream derived from the seed, so adding a
    // vCenter to the fleet does not change the ones before it.
    const vcRng = createRng((options.seed * 7919 + i * 104729 + 1) >>> 0);
    const names = Array.from({ length: options.size.datacentersPerVcenter }, () => {
      const n = dcCounter++;
      return dcNames[n] ?? `DC-${String(n + 1).padStart(2, '0')}`;
    });
    fleet.push(buildVCenter(i, vcRng, options, names));
  }
  return fleet;
}

function buildVCenter(index: number, rng: Rng, options: InventoryOptions, dcNames: string[]): VCenterInventory {
  const { size } = options;
  // Real vCenter allocates MoIDs from one increasing counter per server.
  let counter = 2;
  // prefix includes any separator: 'host-' → 'host-12', 'domain-c' → 'domain-c8'
  const next = (prefix: string): string => `${prefix}${++counter}`;

  const instanceUuid = uuid(rng);
  const inv: VCenterInventory = {
    index,
    name: `vc-${String(index + 1).padStart(2, '0')}.sim.local`,
    instanceUuid,
    about: { ...VCENTER_ABOUT, instanceUuid },
    apiVersion: VCENTER_ABOUT.apiVersion,
    vimJson: options.perVcenter?.[index]?.vimJson ?? true,
    rootFolder: 'group-d1',
    folders: [],
    datacenters: [],
    clusters: [],
    hosts: [],
    resourcePools: [],
    specialCases: {},
    folderById: new Map(),
    datacenterById: new Map(),
    clusterById: new Map(),
    hostById: new Map(),
    resourcePoolById: new Map(),
  };
  const root: SimFolder = { moId: 'group-d1', name: 'Datacenters', childType: ['Folder', 'Datacenter'], children: [] };
  inv.folders.push(root);

  const addFolder = (prefix: string, name: string, parent: MoRef, childType: string[]): SimFolder => {
    const f: SimFolder = { moId: next(prefix), name, parent, childType, children: [] };
    inv.folders.push(f);
    return f;
  };

  let clusterOrdinal = 0; // position of a cluster within this vCenter: special cases key off it
  for (const dcName of dcNames) {
    const dcMoId = next('datacenter-');
    const dcRef = { type: 'Datacenter', value: dcMoId };
    const vmFolder = addFolder('group-v', 'vm', dcRef, ['Folder', 'VirtualMachine', 'VirtualApp']);
    const hostFolder = addFolder('group-h', 'host', dcRef, ['Folder', 'ComputeResource']);
    const dsFolder = addFolder('group-s', 'datastore', dcRef, ['Folder', 'Datastore', 'StoragePod']);
    const netFolder = addFolder('group-n', 'network', dcRef, ['Folder', 'Network', 'DistributedVirtualSwitch']);
    const dc: SimDatacenter = {
      moId: dcMoId,
      name: dcName,
      parentFolder: root.moId,
      hostFolder: hostFolder.moId,
      vmFolder: vmFolder.moId,
      datastoreFolder: dsFolder.moId,
      networkFolder: netFolder.moId,
      clusters: [],
    };
    inv.datacenters.push(dc);
    root.children.push(dcRef);

    const roleCount = new Map<string, number>();
    let hostNumber = 0;
    const domain = `${dcName.toLowerCase()}.sim.local`;
    for (let c = 0; c < size.clustersPerDatacenter; c++) {
      const role = pick(rng, CLUSTER_ROLES);
      const n = (roleCount.get(role) ?? 0) + 1;
      roleCount.set(role, n);
      const vendor = pick(rng, SERVER_VENDORS);
      const model = pick(rng, vendor.models);
      const haEnabled = rng() < 0.85;
      const drsEnabled = rng() < 0.8;
      const baseline = pick(rng, BASELINE_RELEASES);
      const clusterMoId = next('domain-c');
      const rp: SimResourcePool = { moId: next('resgroup-'), name: 'Resources', owner: clusterMoId };
      inv.resourcePools.push(rp);
      const cluster: SimCluster = {
        moId: clusterMoId,
        name: `Cluster-${role}-${String(n).padStart(2, '0')}`,
        datacenter: dcMoId,
        parentFolder: hostFolder.moId,
        resourcePool: rp.moId,
        hosts: [],
        haEnabled,
        drsEnabled,
        managedBySingleImage: true,
        installedImages: { completionTime: timestamp(rng, 7 * 24 * 60), status: 'SUCCESS', failedHosts: [] },
      };
      const special = index === 0 ? (['mixed', 'failed', 'notManaged'] as const)[clusterOrdinal] : undefined;
      clusterOrdinal++;
      const baseImage = buildImage(special === 'mixed' ? U3B : baseline, vendor, haEnabled);
      cluster.desiredImage = baseImage;

      for (let h = 0; h < size.hostsPerCluster; h++) {
        hostNumber++;
        const cores = pick(rng, [16, 24, 28, 32]);
        const host: SimHost = {
          moId: next('host-'),
          name: `esx-${String(hostNumber).padStart(2, '0')}.${domain}`,
          cluster: clusterMoId,
          datacenter: dcMoId,
          connectionState: 'connected',
          powerState: 'poweredOn',
          inMaintenanceMode: false,
          image: baseImage,
          orphanedVibs: [],
          hardware: {
            vendor: vendor.hardwareVendor,
            model,
            uuid: uuid(rng),
            cpuModel: pick(rng, ['Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz', 'Intel(R) Xeon(R) Gold 6430 CPU @ 2.10GHz', 'AMD EPYC 7543 32-Core Processor']),
            cpuMhz: pick(rng, [2000, 2100, 2800]),
            numCpuPkgs: 2,
            numCpuCores: cores * 2,
            numCpuThreads: cores * 4,
            memorySize: pick(rng, [512, 768, 1024]) * 1024 * 1024 * 1024,
            numNics: 4,
            numHBAs: 2,
          },
          bootTime: new Date(EPOCH - Math.floor(rng() * 90 * 24 * 60) * 60_000).toISOString(),
        };
        cluster.hosts.push(host.moId);
        inv.hosts.push(host);
      }
      applySpecialCase(inv, cluster, special, vendor, haEnabled);
      inv.clusters.push(cluster);
      dc.clusters.push(clusterMoId);
      hostFolder.children.push({ type: 'ClusterComputeResource', value: clusterMoId });
    }
  }

  for (const f of inv.folders) inv.folderById.set(f.moId, f);
  for (const d of inv.datacenters) inv.datacenterById.set(d.moId, d);
  for (const c of inv.clusters) inv.clusterById.set(c.moId, c);
  for (const h of inv.hosts) inv.hostById.set(h.moId, h);
  for (const r of inv.resourcePools) inv.resourcePoolById.set(r.moId, r);
  return inv;
}

/**
 * The special cases live in the first clusters of vCenter 1 (index 0), so a
 * default fleet always has them; they never change a cluster's host count.
 */
function applySpecialCase(
  inv: VCenterInventory,
  cluster: SimCluster,
  special: 'mixed' | 'failed' | 'notManaged' | undefined,
  vendor: ServerVendor,
  haEnabled: boolean,
): void {
  const hosts = cluster.hosts.map((id) => inv.hosts.find((h) => h.moId === id) as SimHost);
  const last = hosts[hosts.length - 1];
  switch (special) {
    case 'mixed': {
      // Most hosts on U3b, the last one already on U3d (highest), and with 4+
      // hosts one straggler on U2 (lands in host_image_list).
      if (hosts.length < 2 || !last) return;
      last.image = buildImage(U3D, vendor, haEnabled);
      const straggler = hosts[hosts.length - 2];
      if (hosts.length >= 4 && straggler) straggler.image = buildImage(U2, vendor, haEnabled);
      inv.specialCases.mixedImageCluster = cluster.moId;
      return;
    }
    case 'failed': {
      if (!last) return;
      last.connectionState = 'disconnected';
      last.powerState = 'unknown';
      cluster.installedImages.status = 'EXTRACT_INSTALLED_IMAGE_FAILURE';
      cluster.installedImages.failedHosts = [last.moId];
      inv.specialCases.failedExtractCluster = cluster.moId;
      inv.specialCases.disconnectedHost = last.moId;
      const first = hosts[0];
      if (hosts.length >= 2 && first) {
        first.inMaintenanceMode = true;
        inv.specialCases.maintenanceModeHost = first.moId;
      }
      return;
    }
    case 'notManaged': {
      cluster.managedBySingleImage = false;
      delete cluster.desiredImage;
      inv.specialCases.notImageManagedCluster = cluster.moId;
      const first = hosts[0];
      if (first) {
        first.orphanedVibs = [...ORPHANED_VIBS];
        inv.specialCases.orphanedVibHost = first.moId;
      }
      return;
    }
    case undefined:
      return;
  }
}
