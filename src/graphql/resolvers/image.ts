/** Resolvers that turn vCenter's installed-images and software maps into typed lists. */
import type { Resolvers } from '../generated/resolvers-types.ts';
import type { InstalledImageOperation } from '../generated/resolvers-types.ts';
import type { ComponentInfo } from '../../vsphere/index.ts';
import { hostRef } from '../models.ts';

const hostsOf = (vcenter: string, moIds: readonly string[]) => moIds.map((moId) => hostRef(vcenter, moId));

function components(map: Record<string, ComponentInfo | null> | undefined) {
  return Object.entries(map ?? {}).map(([name, c]) => ({
    name,
    version: c?.version ?? null,
    displayName: c?.details?.display_name ?? null,
    displayVersion: c?.details?.display_version ?? null,
    vendor: c?.details?.vendor ?? null,
  }));
}

/** `name(version)` as vCenter keys orphaned VIBs; the version part is optional. */
export function splitVib(vib: string): { name: string; version: string | null } {
  const m = /^(.*)\(([^()]*)\)$/.exec(vib);
  return m ? { name: m[1]!, version: m[2]! } : { name: vib, version: null };
}

export const imageResolvers: Pick<
  Resolvers,
  | 'InstalledImageInfo'
  | 'InstalledImage'
  | 'HostNotifications'
  | 'InstalledImageHostInfo'
  | 'OrphanedVib'
  | 'OperationNotifications'
  | 'Notifications'
  | 'Notification'
  | 'LocalizableMessage'
  | 'SoftwareInfo'
> = {
  InstalledImageInfo: {
    status: ({ info }) => info.status,
    completionTime: ({ info }) => info.completion_time,
    uniformImage: ({ info }) => info.uniform_image,
    successfulHosts: ({ vcenter, info }) => hostsOf(vcenter, info.successful_hosts),
    failedHosts: ({ vcenter, info }) => hostsOf(vcenter, info.failed_hosts),
    unsupportedHosts: ({ vcenter, info }) => hostsOf(vcenter, info.unsupported_hosts),
    imageCategories: ({ vcenter, info }) => {
      const c = info.image_categories;
      const image = (i: typeof c.most_widely_used_image) => (i ? { vcenter, image: i } : null);
      return {
        isHighestAndWidelyUsedImageEqual: c.is_highest_and_widely_used_image_equal,
        mostWidelyUsedImage: image(c.most_widely_used_image),
        highestVersionedImage: image(c.highest_versioned_image),
        hostImageList: c.host_image_list?.map((i) => ({ vcenter, image: i })) ?? null,
      };
    },
    hostNotifications: ({ vcenter, info }) =>
      Object.entries(info.host_notifications).map(([moId, notifications]) => ({ host: hostRef(vcenter, moId), notifications })),
    hostInfo: ({ vcenter, info }) =>
      Object.entries(info.host_info).map(([moId, h]) => ({
        host: hostRef(vcenter, moId),
        name: h.name,
        isVsanWitness: h.is_vsan_witness ?? null,
      })),
    orphanedVibs: ({ vcenter, info }) =>
      Object.entries(info.orphaned_vibs).map(([vib, moIds]) => ({ vib, hosts: hostsOf(vcenter, moIds) })),
    notifications: ({ info }) =>
      Object.entries(info.notifications).map(([operation, notifications]) => ({ operation, notifications })),
  },
  InstalledImage: {
    softwareInfo: ({ image }) => image.software_info,
    hosts: ({ vcenter, image }) => hostsOf(vcenter, image.host_list),
  },
  HostNotifications: {},
  InstalledImageHostInfo: {},
  OrphanedVib: {
    name: ({ vib }) => splitVib(vib).name,
    version: ({ vib }) => splitVib(vib).version,
  },
  OperationNotifications: {
    operation: ({ operation }) => operation as InstalledImageOperation,
  },
  Notifications: {
    info: (n) => n.info ?? [],
    warnings: (n) => n.warnings ?? [],
    errors: (n) => n.errors ?? [],
  },
  Notification: {
    type: (n) => n.type ?? null,
    resolution: (n) => n.resolution ?? null,
    originator: (n) => n.originator ?? null,
    retriable: (n) => n.retriable ?? null,
  },
  LocalizableMessage: {
    defaultMessage: (m) => m.default_message,
    args: (m) => m.args ?? [],
    localized: (m) => m.localized ?? null,
  },
  SoftwareInfo: {
    baseImage: (s) => ({
      version: s.base_image.version,
      displayName: s.base_image.details?.display_name ?? null,
      displayVersion: s.base_image.details?.display_version ?? null,
      releaseDate: s.base_image.details?.release_date ?? null,
    }),
    addOn: (s) =>
      s.add_on
        ? {
            name: s.add_on.name,
            version: s.add_on.version,
            displayName: s.add_on.details?.display_name ?? null,
            displayVersion: s.add_on.details?.display_version ?? null,
            vendor: s.add_on.details?.vendor ?? null,
          }
        : null,
    components: (s) => components(s.components),
    removedComponents: (s) => components(s.removed_components),
    solutions: (s) =>
      Object.entries(s.solutions ?? {}).map(([name, sol]) => ({
        name,
        version: sol.version,
        displayName: sol.details?.display_name ?? null,
        displayVersion: sol.details?.display_version ?? null,
        components: sol.components.map((c) => c.component),
      })),
    hardwareSupport: (s) =>
      Object.entries(s.hardware_support?.packages ?? {}).map(([manager, p]) => ({ manager, pkg: p.pkg, version: p.version })),
  },
};
