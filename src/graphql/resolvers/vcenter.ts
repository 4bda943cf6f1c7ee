import type { VCenterResolvers } from '../generated/resolvers-types.ts';
import { toGlobalId } from '../ids.ts';
import { paginate } from '../connection.ts';
import { findClusters, findHosts, objectSortKey } from '../inventory.ts';
import { hostModel } from '../models.ts';

export const VCenter: VCenterResolvers = {
  id: (vc) => toGlobalId('VCenter', vc.name),
  name: (vc) => vc.name,
  url: (vc, _args, ctx) => ctx.upstreams.get(vc.name).url,
  status: (vc, _args, ctx) => {
    const health = ctx.upstreams.get(vc.name).health();
    return {
      state: health.state === 'open' ? 'UNAVAILABLE' : 'AVAILABLE',
      since: health.since,
      consecutiveFailures: health.consecutiveFailures,
      lastError: health.lastError ?? null,
    };
  },
  about: async (vc, _args, ctx) => {
    const about = await ctx.upstreams.get(vc.name).about();
    return {
      name: about.name,
      fullName: about.fullName,
      vendor: about.vendor,
      version: about.version,
      build: about.build,
      apiVersion: about.apiVersion,
      instanceUuid: about.instanceUuid ?? null,
    };
  },
  clusters: async (vc, args, ctx, info) =>
    paginate(await findClusters(ctx, info, args.filter, [vc.name]), (c) => objectSortKey(ctx, c), args),
  hosts: async (vc, args, ctx, info) =>
    paginate(await findHosts(ctx, info, args.filter, { vcenters: [vc.name] }), (h) => objectSortKey(ctx, h), args, hostModel),
};
