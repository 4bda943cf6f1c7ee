/** Resolvers that turn vCenter's installed-images and software maps into typed lists. */
import type { Resolvers } from '../generated/resolvers-types.ts';
import type { InstalledImageOperation, InstalledImageStatus, NotificationType } from '../generated/resolvers-types.ts';
import { openEnum } from '../open-enums.ts';

const STATUSES: readonly InstalledImageStatus[] = ['UNAVAILABLE', 'ELIGIBILITY_CHECK_FAILURE', 'EXTRACT_INSTALLED_IMAGE_FAILURE', 'SUCCESS'];
const OPERATIONS: readonly InstalledImageOperation[] = ['ELIGIBILITY_CHECK', 'EXTRACT_INSTALLED_IMAGE'];
const NOTIFICATION_TYPES: readonly NotificationType[] = ['INFO', 'WARNING', 'ERROR'];
import type { ComponentInfo } from '../../vsphere/index.ts';
import { hostModel } from '../models.ts';
import type { HostModel } from '../models.ts';
import type { GraphQLContext } from '../context.ts';
import { objectKey } from '../loaders.ts';
import type { HostRecord } from '../loaders.ts';

/** `then` for a value that is ready now or later: with a mirror snapshot the host lookups are synchronous, and a promise per list was pure overhead. */
function whenReady<T, U>(value: T | Promise<T>, next: (ready: T) => U): U | Promise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * The hosts an extraction named that vCenter still has, as records. A host removed since the
 * extraction is left out (and logged) rather than failing the non-null Host fields of the whole
 * answer. From the operation's mirror snapshot when it has one: a fleet report names every host
 * several times, and a loader round per name was most of the fleet query's CPU at scale.
 */
function existing(ctx: GraphQLContext, vcenter: string, moIds: readonly string[]): Map<string, HostRecord> | Promise<Map<string, HostRecord>> {
  const snapshot = ctx.inventory?.snapshot(vcenter);
  const records = snapshot
    ? moIds.map((moId) => snapshot.host(moId))
    : ctx.loaders.host.loadMany(moIds.map((moId) => objectKey(vcenter, moId)));
  return whenReady(records, (ready: readonly (HostRecord | null | undefined | Error)[]) => {
    const found = new Map<string, HostRecord>();
    const gone: string[] = [];
    moIds.forEach((moId, i) => {
      const record = ready[i];
      if (record instanceof Error) throw record;
      if (record) found.set(moId, record);
      else gone.push(moId);
    });
    if (gone.length > 0) ctx.logger.warn('installed-images names hosts vCenter no longer has; leaving them out', { vcenter, hosts: gone });
    return found;
  });
}

/** Models that carry their record: their fields resolve without another lookup. */
function hostsOf(ctx: GraphQLContext, vcenter: string, moIds: readonly string[]): HostModel[] | Promise<HostModel[]> {
  return whenReady(existing(ctx, vcenter, moIds), (found) => {
    // A loop, not flatMap: no one-element array per host of a fleet report.
    const models: HostModel[] = [];
    for (const moId of moIds) {
      const record = found.get(moId);
      if (record) models.push(hostModel(record));
    }
    return models;
  });
}

function entriesOfExistingHosts<T>(ctx: GraphQLContext, vcenter: string, map: Record<string, T>): [HostModel, T][] | Promise<[HostModel, T][]> {
  return whenReady(existing(ctx, vcenter, Object.keys(map)), (found) =>
    Object.entries(map).flatMap(([moId, value]): [HostModel, T][] => {
      const record = found.get(moId);
      return record ? [[hostModel(record), value]] : [];
    }),
  );
}

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
    status: ({ info }) => openEnum(STATUSES, info.status),
    statusRaw: ({ info }) => info.status,
    completionTime: ({ info }) => info.completion_time,
    uniformImage: ({ info }) => info.uniform_image,
    successfulHosts: ({ vcenter, info }, _a, ctx) => hostsOf(ctx, vcenter, info.successful_hosts),
    failedHosts: ({ vcenter, info }, _a, ctx) => hostsOf(ctx, vcenter, info.failed_hosts),
    unsupportedHosts: ({ vcenter, info }, _a, ctx) => hostsOf(ctx, vcenter, info.unsupported_hosts),
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
    hostNotifications: ({ vcenter, info }, _a, ctx) =>
      whenReady(entriesOfExistingHosts(ctx, vcenter, info.host_notifications), (entries) => entries.map(([host, notifications]) => ({ host, notifications }))),
    hostInfo: ({ vcenter, info }, _a, ctx) =>
      whenReady(entriesOfExistingHosts(ctx, vcenter, info.host_info), (entries) =>
        entries.map(([host, h]) => ({
          host,
          name: h.name,
          isVsanWitness: h.is_vsan_witness ?? null,
        })),
      ),
    orphanedVibs: ({ vcenter, info }, _a, ctx) =>
      Promise.all(Object.entries(info.orphaned_vibs).map(async ([vib, moIds]) => ({ vib, hosts: await hostsOf(ctx, vcenter, moIds) }))),
    notifications: ({ info }) =>
      Object.entries(info.notifications).map(([operation, notifications]) => ({ operation, notifications })),
  },
  InstalledImage: {
    softwareInfo: ({ image }) => image.software_info,
    hosts: ({ vcenter, image }, _a, ctx) => hostsOf(ctx, vcenter, image.host_list),
  },
  HostNotifications: {},
  InstalledImageHostInfo: {},
  OrphanedVib: {
    name: ({ vib }) => splitVib(vib).name,
    version: ({ vib }) => splitVib(vib).version,
  },
  OperationNotifications: {
    operation: ({ operation }) => openEnum(OPERATIONS, operation),
    operationRaw: ({ operation }) => operation,
  },
  Notifications: {
    info: (n) => n.info ?? [],
    warnings: (n) => n.warnings ?? [],
    errors: (n) => n.errors ?? [],
  },
  Notification: {
    type: (n) => (n.type ? openEnum(NOTIFICATION_TYPES, n.type) : null),
    typeRaw: (n) => n.type ?? null,
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
