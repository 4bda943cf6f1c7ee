import type { ClusterResolvers } from '../generated/resolvers-types.ts';
import { toGlobalId } from '../ids.ts';
import { paginate } from '../connection.ts';
import { findHosts, objectSortKey } from '../inventory.ts';
import { objectKey } from '../loaders.ts';
import { hostModel, vcenterRef } from '../models.ts';

export const Cluster: ClusterResolvers = {
  id: (c) => toGlobalId('Cluster', c.vcenter, c.moId),
  moId: (c) => c.moId,
  name: (c) => c.name,
  vcenter: (c) => vcenterRef(c.vcenter),
  haEnabled: (c) => c.haEnabled,
  drsEnabled: (c) => c.drsEnabled,
  hosts: async (c, args, ctx, info) => paginate(await findHosts(ctx, info, args.filter, { cluster: c }), (h) => objectSortKey(ctx, h), args, hostModel),
  installedImages: async (c, _args, ctx) => {
    const { value, freshness } = await ctx.loaders.installedImages.load(objectKey(c.vcenter, c.moId));
    return { vcenter: c.vcenter, cluster: c.moId, info: value, freshness };
  },
  desiredSoftware: async (c, _args, ctx) => {
    const { value, freshness } = await ctx.loaders.desiredSoftware.load(objectKey(c.vcenter, c.moId));
    return { ...value, freshness };
  },
};
