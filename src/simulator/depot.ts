// Simulated patch depots for HostPatchManager.ScanHostPatchV2_Task: a few
// catalogs (metadata.zip URLs), each a list of bulletins, and the judgement
// of every bulletin against a host's installed image. Pure functions of the
// host and the URLs: the same inputs always give the same result.

import { ESXI_RELEASES, SERVER_VENDORS } from './catalog.ts';
import type { EsxiRelease, ServerVendor } from './catalog.ts';
import type { SimHost } from './inventory.ts';
import { bool, data, str, strings } from './vim-values.ts';
import type { VimValue } from './vim-values.ts';

export type InstallState = 'hostRestarted' | 'imageActive';
export type PatchReason = 'obsoleted' | 'missingPatch' | 'missingLib' | 'hasDependentPatch' | 'conflictPatch' | 'conflictLib';
export type IntegrityStatus = 'validated' | 'keyNotFound' | 'keyRevoked' | 'keyExpired' | 'digestMismatch' | 'notEnoughSignatures' | 'validationError';

export interface Bulletin {
  /** e.g. 'ESXi80U3b-24280767', 'Broadcom-bnxtnet_230.0.127.0-1OEM.800.1.0.20613240' */
  id: string;
  /** What installing it brings: an ESXi build, a driver component version, or an OEM add-on version. */
  brings:
    | { kind: 'rollup'; build: string }
    | { kind: 'component'; name: string; version: string }
    | { kind: 'addOn'; vendor: ServerVendor['key']; version: string };
  /** Bulletins this one replaces (HostPatchManagerStatus.supersededPatchIds). */
  supersedes: string[];
  prerequisites: Array<{ id: string; installState?: InstallState[] }>;
  restartRequired: boolean;
  vmOffRequired: boolean;
  reconnectRequired: boolean;
  /** Metadata integrity as the depot reports it; default 'validated'. */
  integrity?: IntegrityStatus;
}

export interface DepotCatalog {
  url: string;
  bulletins: Bulletin[];
}

/** Bulletin id of an ESXi rollup, e.g. 'ESXi80U3b-24280767'. */
export function rollupId(displayVersion: string, build: string): string {
  return `ESXi${displayVersion.replace(/[ .]/g, '')}-${build}`;
}

function rollup(r: Pick<EsxiRelease, 'displayVersion' | 'build'>, older: ReadonlyArray<Pick<EsxiRelease, 'displayVersion' | 'build'>>, extra: Partial<Bulletin> = {}): Bulletin {
  return {
    id: rollupId(r.displayVersion, r.build),
    brings: { kind: 'rollup', build: r.build },
    // An ESXi rollup replaces every earlier 8.0 rollup.
    supersedes: older.filter((o) => Number(o.build) < Number(r.build)).map((o) => rollupId(o.displayVersion, o.build)),
    prerequisites: [],
    restartRequired: true,
    vmOffRequired: true,
    reconnectRequired: false,
    ...extra,
  };
}

/** 8.0 U2 patch releases that no simulated host runs (depot-only). */
const U2_PATCHES = [
  { displayVersion: '8.0 U2b', build: '23305546' },
  { displayVersion: '8.0 U2c', build: '23825572' },
] as const;
const ALL_ROLLUPS = [...ESXI_RELEASES, ...U2_PATCHES].sort((a, b) => Number(a.build) - Number(b.build));
const byBuild = (build: string): EsxiRelease => ESXI_RELEASES.find((r) => r.build === build) as EsxiRelease;
const U2 = byBuild('22380479');
const U3C = byBuild('24414501');
const U3D = byBuild('24585383');

const BNXTNET_OLD = 'Broadcom-bnxtnet_228.0.110.0-1OEM.800.1.0.20613240';
const U3_SECURITY = 'ESXi80U3sc-24414600';
const DELL_ADDON_U3D = 'DEL-ESXi_803.24585383-A04';

export const DEPOT_CATALOGS: readonly DepotCatalog[] = [
  {
    url: 'https://depot.example/esxi-8.0u3/metadata.zip',
    bulletins: [
      ...ESXI_RELEASES.filter((r) => r.version === '8.0.3').map((r) => {
        const b = rollup(r, ALL_ROLLUPS);
        if (r === U3D) b.supersedes.push(U3_SECURITY);
        return b;
      }),
      // Security-only patch on top of U3c: needs U3c installed and the host rebooted; U3d contains it.
      {
        id: U3_SECURITY,
        brings: { kind: 'component', name: 'esx-update-sc', version: '8.0.3-0.51.24414600' },
        supersedes: [],
        prerequisites: [{ id: rollupId(U3C.displayVersion, U3C.build), installState: ['hostRestarted'] }],
        restartRequired: true,
        vmOffRequired: true,
        reconnectRequired: false,
      },
    ],
  },
  {
    url: 'https://depot.example/esxi-8.0u2/metadata.zip',
    bulletins: [
      rollup(U2, ALL_ROLLUPS),
      ...U2_PATCHES.map((p) => rollup(p, ALL_ROLLUPS)),
      // A VMware async driver that needs a bulletin this depot does not carry.
      {
        id: 'VMware-NVMe-PCIe_1.2.4.12-1vmw.802.0.0.23825572',
        brings: { kind: 'component', name: 'VMware-NVMe-PCIe', version: '1.2.4.12-1vmw.802.0.0.23825572' },
        supersedes: [],
        prerequisites: [{ id: 'VMware-vmkapi-common_8.0.2-0.40.23825572' }],
        restartRequired: true,
        vmOffRequired: true,
        reconnectRequired: false,
      },
    ],
  },
  {
    url: 'https://depot.example/vendor-oem/metadata.zip',
    bulletins: [
      {
        id: BNXTNET_OLD,
        brings: { kind: 'component', name: 'bnxtnet', version: '228.0.110.0-1OEM.800.1.0.20613240' },
        supersedes: [],
        prerequisites: [],
        restartRequired: true,
        vmOffRequired: true,
        reconnectRequired: false,
      },
      {
        id: 'Broadcom-bnxtnet_230.0.127.0-1OEM.800.1.0.20613240',
        brings: { kind: 'component', name: 'bnxtnet', version: '230.0.127.0-1OEM.800.1.0.20613240' },
        supersedes: [BNXTNET_OLD],
        prerequisites: [],
        restartRequired: true,
        vmOffRequired: true,
        reconnectRequired: false,
      },
      {
        // The depot's signature over this one does not match its payload.
        id: 'Intel-i40en_2.7.1.0-1OEM.800.1.0.20143090',
        brings: { kind: 'component', name: 'Intel-i40en', version: '2.7.1.0-1OEM.800.1.0.20143090' },
        supersedes: [],
        prerequisites: [],
        restartRequired: true,
        vmOffRequired: true,
        reconnectRequired: false,
        integrity: 'digestMismatch',
      },
      {
        // Dell's add-on for 8.0 U3d: conflicts on other vendors' hosts, needs U3d.
        id: DELL_ADDON_U3D,
        brings: { kind: 'addOn', vendor: 'DEL', version: '803.24585383-A04' },
        supersedes: [],
        prerequisites: [{ id: rollupId(U3D.displayVersion, U3D.build) }],
        restartRequired: true,
        vmOffRequired: true,
        reconnectRequired: false,
      },
      {
        // Host agent plug-in: no reboot, but hostd restarts (callers reconnect).
        id: 'VMW-esx-8.0.3-vmware-cim-providers_2.0.1-1vmw.803.0.0.24022510',
        brings: { kind: 'component', name: 'vmware-cim-providers', version: '2.0.1-1vmw.803.0.0.24022510' },
        supersedes: [],
        prerequisites: [],
        restartRequired: false,
        vmOffRequired: false,
        reconnectRequired: true,
      },
    ],
  },
];

export const DEPOT_URLS: readonly string[] = DEPOT_CATALOGS.map((c) => c.url);

/** Every bulletin any depot knows, by id: what the host's own image database knows about what it runs. */
const REGISTRY = new Map<string, Bulletin>(DEPOT_CATALOGS.flatMap((c) => c.bulletins.map((b) => [b.id, b] as const)));

/** Why a scan cannot run: becomes the PlatformConfigFault.text of the failed task. */
export type DepotProblem = { text: string };

/**
 * Resolves a scan's URLs to catalogs, or the problem hostd would report.
 * Only metaUrls are used since ESXi 5.0; bundleUrls alone are refused.
 */
export function resolveDepots(metaUrls: readonly string[], bundleUrls: readonly string[]): DepotCatalog[] | DepotProblem {
  if (metaUrls.length === 0) {
    return bundleUrls.length > 0
      ? { text: `Offline bundles are not supported since ESXi 5.0: cannot scan ${bundleUrls[0]}; specify the depot's metadata.zip in metaUrls.` }
      : { text: 'No metadata URL was specified: at least one depot metadata.zip URL is needed for a scan.' };
  }
  const out: DepotCatalog[] = [];
  for (const url of metaUrls) {
    const parsed = URL.canParse(url) ? new URL(url) : undefined;
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      const scheme = parsed ? parsed.protocol.replace(/:$/, '') : url;
      return { text: metadataDownloadError(url, `<urlopen error unknown url type: ${scheme}>`) };
    }
    const catalog = DEPOT_CATALOGS.find((c) => c.url === url);
    if (!catalog) {
      const hostKnown = DEPOT_CATALOGS.some((c) => new URL(c.url).host === parsed.host);
      return { text: metadataDownloadError(url, hostKnown ? 'HTTP Error 404: Not Found' : '<urlopen error [Errno -2] Name or service not known>') };
    }
    if (!out.includes(catalog)) out.push(catalog);
  }
  return out;
}

/** esxupdate's MetadataDownloadError text. */
function metadataDownloadError(url: string, cause: string): string {
  return `Could not download from depot at ${url}, skipping (('${url}', '', '${cause}'))\n        url = ${url}\nPlease refer to the log file for more details.`;
}

function vendorOf(host: SimHost): ServerVendor | undefined {
  return SERVER_VENDORS.find((v) => v.addOnName === host.image.addOn?.name);
}

/** Whether the host runs exactly what the bulletin brings. */
function runs(host: SimHost, b: Bulletin): boolean {
  const w = b.brings;
  switch (w.kind) {
    case 'rollup':
      return host.image.release.build === w.build;
    case 'component':
      return host.image.components.some((c) => c.name === w.name && c.version === w.version);
    case 'addOn':
      return vendorOf(host)?.key === w.vendor && host.image.addOn?.version === w.version;
  }
}

/** Ids of the bulletins the host runs and, transitively, everything they supersede. */
function installedAndSuperseded(host: SimHost): { installed: Set<string>; superseded: Set<string> } {
  const installed = new Set([...REGISTRY.values()].filter((b) => runs(host, b)).map((b) => b.id));
  // The host's own rollup is known to it even when no depot carries it.
  installed.add(rollupId(host.image.release.displayVersion, host.image.release.build));
  const superseded = new Set<string>();
  const queue = [...installed];
  for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
    for (const s of REGISTRY.get(id)?.supersedes ?? []) {
      if (!superseded.has(s)) {
        superseded.add(s);
        queue.push(s);
      }
    }
  }
  // A rollup older than the running build is replaced by it even when no chain names it.
  for (const r of ALL_ROLLUPS) if (Number(r.build) < Number(host.image.release.build)) superseded.add(rollupId(r.displayVersion, r.build));
  return { installed, superseded };
}

export interface PatchStatus {
  id: string;
  applicable: boolean;
  reason?: PatchReason[];
  integrity: IntegrityStatus;
  installed: boolean;
  installState?: InstallState[];
  prerequisitePatch?: Array<{ id: string; installState?: InstallState[] }>;
  restartRequired: boolean;
  reconnectRequired: boolean;
  vmOffRequired: boolean;
  supersededPatchIds?: string[];
}

/** Judges every bulletin of the catalogs (union, first occurrence wins) against the host. */
export function judgeBulletins(host: SimHost, catalogs: readonly DepotCatalog[]): PatchStatus[] {
  const bulletins: Bulletin[] = [];
  for (const c of catalogs) for (const b of c.bulletins) if (!bulletins.some((x) => x.id === b.id)) bulletins.push(b);
  const inScan = new Set(bulletins.map((b) => b.id));
  const { installed, superseded } = installedAndSuperseded(host);
  const vendor = vendorOf(host);
  return bulletins.map((b) => {
    const status: PatchStatus = {
      id: b.id,
      applicable: false,
      integrity: b.integrity ?? 'validated',
      installed: false,
      restartRequired: b.restartRequired,
      reconnectRequired: b.reconnectRequired,
      vmOffRequired: b.vmOffRequired,
    };
    if (b.prerequisites.length > 0) status.prerequisitePatch = b.prerequisites.map((p) => ({ ...p }));
    if (b.supersedes.length > 0) status.supersededPatchIds = [...b.supersedes];
    if (b.brings.kind === 'addOn' && vendor?.key !== b.brings.vendor) {
      status.reason = ['conflictPatch'];
    } else if (installed.has(b.id)) {
      status.installed = true;
      status.installState = b.restartRequired ? ['hostRestarted', 'imageActive'] : ['imageActive'];
    } else if (superseded.has(b.id)) {
      status.reason = ['obsoleted'];
    } else if (b.prerequisites.every((p) => installed.has(p.id) || superseded.has(p.id) || inScan.has(p.id))) {
      status.applicable = true;
    } else {
      status.reason = ['missingPatch'];
    }
    return status;
  });
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The same statuses as esxupdate's scan XML. */
export function scanXml(statuses: readonly PatchStatus[]): string {
  const list = (tag: string, items: readonly string[] | undefined): string => (items ?? []).map((i) => `<${tag}>${xmlEscape(i)}</${tag}>`).join('');
  const body = statuses
    .map(
      (s) =>
        `<bulletin><id>${xmlEscape(s.id)}</id><applicable>${s.applicable}</applicable>${list('reason', s.reason)}` +
        `<integrity>${s.integrity}</integrity><installed>${s.installed}</installed>${list('installState', s.installState)}` +
        (s.prerequisitePatch ?? []).map((p) => `<prerequisite><id>${xmlEscape(p.id)}</id>${list('installState', p.installState)}</prerequisite>`).join('') +
        `<restartRequired>${s.restartRequired}</restartRequired><reconnectRequired>${s.reconnectRequired}</reconnectRequired>` +
        `<vmOffRequired>${s.vmOffRequired}</vmOffRequired>${list('supersedes', s.supersededPatchIds)}</bulletin>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="utf-8"?><esxupdate-response><version>1.0</version><scan-results>${body}</scan-results></esxupdate-response>`;
}

const stringArray = (items: readonly string[] | undefined): VimValue | undefined => (items ? strings([...items]) : undefined);

/** HostPatchManagerResult in the schema's field order. */
export function scanResult(host: SimHost, catalogs: readonly DepotCatalog[]): VimValue {
  const statuses = judgeBulletins(host, catalogs);
  const status = statuses.map((s) =>
    data('HostPatchManagerStatus', {
      id: str(s.id),
      applicable: bool(s.applicable),
      reason: stringArray(s.reason),
      integrity: str(s.integrity),
      installed: bool(s.installed),
      installState: stringArray(s.installState),
      prerequisitePatch: s.prerequisitePatch
        ? {
            kind: 'array',
            type: 'ArrayOfHostPatchManagerStatusPrerequisitePatch',
            items: s.prerequisitePatch.map((p) => data('HostPatchManagerStatusPrerequisitePatch', { id: str(p.id), installState: stringArray(p.installState) })),
          }
        : undefined,
      restartRequired: bool(s.restartRequired),
      reconnectRequired: bool(s.reconnectRequired),
      vmOffRequired: bool(s.vmOffRequired),
      supersededPatchIds: stringArray(s.supersededPatchIds),
    }),
  );
  return data('HostPatchManagerResult', {
    version: str('1.0'),
    status: { kind: 'array', type: 'ArrayOfHostPatchManagerStatus', items: status },
    xmlResult: str(scanXml(statuses)),
  });
}
