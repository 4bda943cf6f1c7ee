/** Resolvers of the inventory mirrors: VCenter.inventory, InventoryMirror, Subscription.hostsChanged. */
import type { GraphQLResolveInfo } from 'graphql';
import type { GraphQLContext } from '../context.ts';
import type { HostFilter, Resolvers, SubscriptionResolvers, VCenterResolvers } from '../generated/resolvers-types.ts';
import type { HostChangeEvent } from '../live-inventory.ts';
import { resolveHostChange, subscribeHostsChanged } from '../live-inventory.ts';

export const vcenterInventory: VCenterResolvers['inventory'] = (vc, _args, ctx) => ctx.mirrors?.get(vc.name)?.status() ?? null;

export const InventoryMirror: Resolvers['InventoryMirror'] = {
  since: (s) => s.since.toISOString(),
  confirmedAt: (s) => s.confirmedAt?.toISOString() ?? null,
};

export const hostsChanged = {
  subscribe: (_p: unknown, args: { filter?: HostFilter | null }, ctx: GraphQLContext) => subscribeHostsChanged(ctx, args.filter),
  resolve: (event: HostChangeEvent, _a: unknown, ctx: GraphQLContext, _i: GraphQLResolveInfo) => resolveHostChange(event, ctx),
} as SubscriptionResolvers['hostsChanged'];
