/**
 * Inventory queries shared by several fields (Query.clusters and VCenter.clusters, the
 * three `hosts` connections): scope, fan-out over vCenters, filtering and ordering.
 */
import { connectionState } from './open-enums.ts';
import type { GraphQLResolveInfo } from 'graphql';
import { responsePathAsArray } from 'graphql';
import type { GraphQLContext } from './context.ts';
import type { ClusterFilter, HostFilter } from './generated/resolvers-types.ts';
import { badInput } from './errors.ts';
import { fromGlobalId } from './ids.ts';
import type { HostRecord } from './loaders.ts';
import { objectKey } from './loaders.ts';
import type { ClusterModel } from './models.ts';
import { inventorySortKey } from './connection.ts';

/**
 * Runs `read` for each vCenter in parallel. When the field spans several vCenters, one
 * vCenter's failure becomes a located error next to the others' data (partial result);
 * when it spans one, the failure is the field's own error.
 */
export async function acrossVCenters<T>(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  vcenters: readonly string[],
  read: (vcenter: string) => Promise<readonly T[]>,
): Promise<T[]> {
  const settled = await Promise.allSettled(vcenters.map(read));
  const out: T[] = [];
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') {
      out.push(...result.value);
    } else if (vcenters.length === 1) {
      throw result.reason;
    } else {
      ctx.reportPartialFailure(result.reason, responsePathAsArray(info.path), vcenters[i]!);
    }
  });
  return out;
}

/** The vCenters a query touches: the scope given by the parent, narrowed by filter IDs. */
function vcenterScope(ctx: GraphQLContext, scope: readonly string[] | undefined, filterIds: readonly string[] | null | undefined, field: string): string[] {
  let names = scope ? [...scope] : ctx.upstreams.list.map((c) => c.name);
  if (filterIds) {
    const wanted = new Set(filterIds.map((id) => fromGlobalId(id, 'VCenter', field).vcenter));
    for (const name of wanted) ctx.upstreams.get(name);
    names = names.filter((n) => wanted.has(n));
  }
  return names;
}

/** Bounds on filter inputs: names are at most 80 characters in vCenter; ID lists cost lookups. */
export const MAX_FILTER_STRING = 256;
export const MAX_FILTER_IDS = 500;

export function checkFilter(filter: { nameContains?: string | null; names?: readonly string[] | null; ids?: readonly string[] | null; build?: string | null; clusterIds?: readonly string[] | null; vcenterIds?: readonly string[] | null } | null | undefined): void {
  if (!filter) return;
  const strings = [filter.nameContains, filter.build, ...(filter.names ?? [])];
  if (strings.some((s) => s != null && s.length > MAX_FILTER_STRING)) {
    throw badInput(`Filter strings are limited to ${MAX_FILTER_STRING} characters`, 'filter');
  }
  for (const list of [filter.ids, filter.clusterIds, filter.vcenterIds, filter.names]) {
    if (list && list.length > MAX_FILTER_IDS) throw badInput(`At most ${MAX_FILTER_IDS} entries per filter list`, 'filter');
  }
}

export function objectSortKey(ctx: GraphQLContext, c: { vcenter: string; moId: string }): string {
  return inventorySortKey(ctx.upstreams.indexOf(c.vcenter), c.moId);
}

/**
 * Sorted copies of lists the mirror hands out. A mirror snapshot's lists are immutable and
 * replaced (new arrays) with every change of that vCenter, so a list's own identity is the
 * cache key: the next version misses and is sorted afresh. vCenter order is the
 * configuration's, the same for every caller, so the order does not depend on who asks.
 */
const sortedLists = new WeakMap<readonly object[], readonly object[]>();

/**
 * `records` in inventory order (sort keys computed once per record, not per comparison).
 * `stable`: the list is a mirror snapshot's own (never mutated), so its sorted copy is kept.
 */
export function inInventoryOrder<T extends { vcenter: string; moId: string }>(ctx: GraphQLContext, records: readonly T[], stable: boolean): readonly T[] {
  const cached = stable ? (sortedLists.get(records) as readonly T[] | undefined) : undefined;
  if (cached) return cached;
  const keyed = records.map((record) => ({ key: objectSortKey(ctx, record), record }));
  keyed.sort((a, b) => compare(a.key, b.key));
  const sorted = keyed.map((k) => k.record);
  if (stable) sortedLists.set(records, sorted);
  return sorted;
}

export async function findClusters(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  filter: ClusterFilter | null | undefined,
  scope?: readonly string[],
): Promise<readonly ClusterModel[]> {
  checkFilter(filter);
  const ids = filter?.ids?.map((id) => fromGlobalId(id, 'Cluster', 'filter.ids'));
  let vcenters = vcenterScope(ctx, scope, filter?.vcenterIds, 'filter.vcenterIds');
  if (ids) vcenters = vcenters.filter((vc) => ids.some((id) => id.vcenter === vc));
  const wantedKeys = ids && new Set(ids.map((id) => objectKey(id.vcenter, id.moId)));
  const names = filter?.names && new Set(filter.names);
  const needle = filter?.nameContains?.toLowerCase();

  const clusters = await acrossVCenters(ctx, info, vcenters, (vc) => ctx.loaders.clustersOfVCenter.load(vc));
  return inInventoryOrder(ctx, clusters, false).filter(
    (c) =>
      (!wantedKeys || wantedKeys.has(objectKey(c.vcenter, c.moId))) &&
      (!names || names.has(c.name)) &&
      (!needle || c.name.toLowerCase().includes(needle)),
  );
}

export const CONNECTION_STATES: Record<string, HostRecord['connectionState']> = {
  CONNECTED: 'connected',
  DISCONNECTED: 'disconnected',
  NOT_RESPONDING: 'notResponding',
};

export type HostScope = { vcenters: readonly string[] } | { cluster: { vcenter: string; moId: string } };

export async function findHosts(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  filter: HostFilter | null | undefined,
  scope: HostScope = { vcenters: ctx.upstreams.list.map((c) => c.name) },
): Promise<readonly HostRecord[]> {
  checkFilter(filter);
  const ids = filter?.ids?.map((id) => fromGlobalId(id, 'Host', 'filter.ids'));
  const clusterIds = filter?.clusterIds?.map((id) => fromGlobalId(id, 'Cluster', 'filter.clusterIds'));
  const wantedKeys = ids && new Set(ids.map((id) => objectKey(id.vcenter, id.moId)));
  const states = filter?.connectionStates && new Set<string>(filter.connectionStates);
  const needle = filter?.nameContains?.toLowerCase();

  let records: readonly HostRecord[];
  // One cluster's hosts come as the loader's list itself: the mirror's (kept sorted) or a live read's.
  let stable = false;
  if ('cluster' in scope) {
    records = await ctx.loaders.hostsOfCluster.load(objectKey(scope.cluster.vcenter, scope.cluster.moId));
    stable = ctx.inventory?.snapshot(scope.cluster.vcenter) !== undefined;
    if (clusterIds && !clusterIds.some((c) => c.vcenter === scope.cluster.vcenter && c.moId === scope.cluster.moId)) records = [];
  } else {
    let vcenters = vcenterScope(ctx, scope.vcenters, filter?.vcenterIds, 'filter.vcenterIds');
    if (ids) vcenters = vcenters.filter((vc) => ids.some((id) => id.vcenter === vc));
    if (clusterIds) {
      // Read only the named clusters' hosts rather than whole vCenters.
      vcenters = vcenters.filter((vc) => clusterIds.some((c) => c.vcenter === vc));
      records = await acrossVCenters(ctx, info, vcenters, async (vc) =>
        (await ctx.loaders.hostsOfCluster.loadMany(clusterIds.filter((c) => c.vcenter === vc).map((c) => objectKey(c.vcenter, c.moId)))).flatMap(
          (r) => {
            if (r instanceof Error) throw r;
            return r;
          },
        ),
      );
    } else {
      records = await acrossVCenters(ctx, info, vcenters, (vc) => ctx.loaders.hostsOfVCenter.load(vc));
    }
  }
  const sorted = inInventoryOrder(ctx, records, stable);
  const filtered = wantedKeys || states || filter?.inMaintenanceMode != null || filter?.build || needle;
  if (!filtered) return sorted;
  return sorted.filter(
    (h) =>
      (!wantedKeys || wantedKeys.has(objectKey(h.vcenter, h.moId))) &&
      (!states || states.has(connectionState(h.connectionState))) &&
      (filter?.inMaintenanceMode == null || h.inMaintenanceMode === filter.inMaintenanceMode) &&
      (!filter?.build || h.product?.build === filter.build) &&
      (!needle || h.name.toLowerCase().includes(needle)),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

