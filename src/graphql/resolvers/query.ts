import type { GraphQLContext } from '../context.ts';
import { badInput } from '../errors.ts';
import type { QueryResolvers } from '../generated/resolvers-types.ts';
import { fromGlobalId } from '../ids.ts';
import { paginate } from '../connection.ts';
import { findClusters, findHosts, objectSortKey } from '../inventory.ts';
import { objectKey } from '../loaders.ts';
import { hostModel, hostRef, vcenterRef } from '../models.ts';
import type { ClusterModel, HostModel, PatchScanModel, VCenterModel } from '../models.ts';
import { findPatchScan } from './patch.ts';

/** Upper bound on IDs in one `nodes` call: each may cost an upstream read. */
export const MAX_NODE_IDS = 500;

/** The object with that ID; null when it does not exist (any more), as Relay has it. */
export async function loadNode(ctx: GraphQLContext, id: string): Promise<VCenterModel | ClusterModel | HostModel | PatchScanModel | null> {
  const { type, vcenter, moId } = fromGlobalId(id);
  ctx.upstreams.get(vcenter);
  switch (type) {
    case 'VCenter':
      return vcenterRef(vcenter);
    case 'Cluster': {
      return (await ctx.loaders.clustersOfVCenter.load(vcenter)).find((c) => c.moId === moId) ?? null;
    }
    case 'Host': {
      const host = await ctx.loaders.host.load(objectKey(vcenter, moId));
      return host ? hostRef(vcenter, moId) : null;
    }
    case 'PatchScan':
      return findPatchScan(ctx, vcenter, moId);
  }
}

export const Query: QueryResolvers = {
  vcenters: (_parent, _args, ctx) => ctx.upstreams.list.map((c) => vcenterRef(c.name)),

  node: (_parent, { id }, ctx) => loadNode(ctx, id),

  nodes: (_parent, { ids }, ctx) => {
    if (ids.length > MAX_NODE_IDS) throw badInput(`At most ${MAX_NODE_IDS} IDs per nodes() call`, 'ids');
    // A failed item becomes null with an error at its own path; the others still resolve.
    return Promise.all(ids.map((id) => loadNode(ctx, id).catch((error: unknown) => error as Error))) as never;
  },

  clusters: async (_parent, args, ctx, info) => {
    const clusters = await findClusters(ctx, info, args.filter);
    return paginate(clusters, (c) => objectSortKey(ctx, c), args);
  },

  hosts: async (_parent, args, ctx, info) => {
    const hosts = await findHosts(ctx, info, args.filter);
    return paginate(hosts, (h) => objectSortKey(ctx, h), args, hostModel);
  },
};
