import type { GraphQLContext } from '../context.ts';
import { notFound } from '../errors.ts';
import type { HostPowerState, HostResolvers, ReportFreshness } from '../generated/resolvers-types.ts';
import { connectionState, openEnum } from '../open-enums.ts';
import { toGlobalId } from '../ids.ts';
import type { HostRecord, Reported } from '../loaders.ts';
import { objectKey } from '../loaders.ts';
import type { HostModel } from '../models.ts';
import { patchScanRef, vcenterRef } from '../models.ts';
import type { InstalledImageInfo, SoftwareInfo } from '../../vsphere/index.ts';

/**
 * Calls `pick` with the host's properties: those the parent already read (synchronously, no
 * promise per field: the fleet query resolves thousands of host fields), else one batched
 * read through the request's host loader.
 */
function fromRecord<T>(host: HostModel, ctx: GraphQLContext, pick: (r: HostRecord) => T): T | Promise<T> {
  if (host.record) return pick(host.record);
  return ctx.loaders.host.load(objectKey(host.vcenter, host.moId)).then((r) => {
    if (!r) throw notFound(`Host ${host.moId} does not exist in vCenter ${host.vcenter}`, { vcenter: host.vcenter });
    return pick(r);
  });
}

const POWER_STATES: readonly HostPowerState[] = ['POWERED_ON', 'POWERED_OFF', 'STANDBY', 'UNKNOWN'];

/** standBy is one word in vSphere, STANDBY in the schema. */
function powerState(raw: string): HostPowerState {
  return raw === 'standBy' ? 'STANDBY' : openEnum(POWER_STATES, raw);
}

type HostImage = SoftwareInfo & { freshness: ReportFreshness };

/**
 * The image each host runs, per its cluster's last extraction (the first category whose host
 * list names it), with the report's freshness: made once per report a request loaded (the
 * loader hands every host of the cluster the same object), instead of scanning the categories
 * once per host.
 */
const imagesByHost = new WeakMap<Reported<InstalledImageInfo>, Map<string, HostImage>>();

function hostImages(report: Reported<InstalledImageInfo>): Map<string, HostImage> {
  let images = imagesByHost.get(report);
  if (!images) {
    images = new Map();
    const c = report.value.image_categories;
    for (const image of [...(c.host_image_list ?? []), c.most_widely_used_image, c.highest_versioned_image]) {
      if (!image) continue;
      // One object per category, shared by its hosts: the answer is the same for each.
      const software: HostImage = { ...image.software_info, freshness: report.freshness };
      for (const moId of image.host_list) if (!images.has(moId)) images.set(moId, software);
    }
    imagesByHost.set(report, images);
  }
  return images;
}

function installedImageOf(h: HostModel, ctx: GraphQLContext, clusterMoId: string | undefined): Promise<HostImage | null> | null {
  if (!clusterMoId) return null;
  return ctx.loaders.installedImages.load(objectKey(h.vcenter, clusterMoId)).then((report) => hostImages(report).get(h.moId) ?? null);
}

function clusterOf(r: HostRecord): string | undefined {
  return r.parent?.type === 'ClusterComputeResource' ? r.parent.value : undefined;
}

// Field picks made once: a per-call arrow would be a closure allocated per host and field.
const NAME = (r: HostRecord) => r.name;
const CONNECTION_STATE = (r: HostRecord) => connectionState(r.connectionState);
const CONNECTION_STATE_RAW = (r: HostRecord) => r.connectionState;
const POWER_STATE = (r: HostRecord) => (r.powerState ? powerState(r.powerState) : null);
const POWER_STATE_RAW = (r: HostRecord) => r.powerState ?? null;
const IN_MAINTENANCE_MODE = (r: HostRecord) => r.inMaintenanceMode;
// HostProduct's fields are AboutInfo's own names: the record's object serves as it is.
const PRODUCT = (r: HostRecord) => r.product ?? null;

/** Global IDs of records that outlive a request (the mirror's): encoded once per record. */
const hostIds = new WeakMap<HostRecord, string>();

function hostId(h: HostModel): string {
  if (!h.record) return toGlobalId('Host', h.vcenter, h.moId);
  let id = hostIds.get(h.record);
  if (id === undefined) hostIds.set(h.record, (id = toGlobalId('Host', h.vcenter, h.moId)));
  return id;
}

export const Host: HostResolvers = {
  id: hostId,
  moId: (h) => h.moId,
  vcenter: (h) => vcenterRef(h.vcenter),
  name: (h, _args, ctx) => fromRecord(h, ctx, NAME),
  connectionState: (h, _args, ctx) => fromRecord(h, ctx, CONNECTION_STATE),
  connectionStateRaw: (h, _args, ctx) => fromRecord(h, ctx, CONNECTION_STATE_RAW),
  powerState: (h, _args, ctx) => fromRecord(h, ctx, POWER_STATE),
  powerStateRaw: (h, _args, ctx) => fromRecord(h, ctx, POWER_STATE_RAW),
  inMaintenanceMode: (h, _args, ctx) => fromRecord(h, ctx, IN_MAINTENANCE_MODE),
  product: (h, _args, ctx) => fromRecord(h, ctx, PRODUCT),
  cluster: async (h, _args, ctx) => {
    const clusterMoId = await fromRecord(h, ctx, clusterOf);
    if (!clusterMoId) return null;
    return (await ctx.loaders.clustersOfVCenter.load(h.vcenter)).find((c) => c.moId === clusterMoId) ?? null;
  },
  patchScans: async (h, _args, ctx) =>
    (await ctx.loaders.recentScansOfHost.load(objectKey(h.vcenter, h.moId))).map((info) =>
      patchScanRef(h.vcenter, info.task.value, info),
    ),
  // One promise per host (the report's load), not an async function's three.
  installedImage: (h, _args, ctx) => {
    const clusterMoId = fromRecord(h, ctx, clusterOf);
    return clusterMoId instanceof Promise ? clusterMoId.then((c) => installedImageOf(h, ctx, c)) : installedImageOf(h, ctx, clusterMoId);
  },
};
