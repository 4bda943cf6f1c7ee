import type { Resolvers } from '../generated/resolvers-types.ts';
import { Cluster } from './cluster.ts';
import { Host } from './host.ts';
import { imageResolvers } from './image.ts';
import { InventoryMirror, hostsChanged, vcenterInventory } from './inventory-mirror.ts';
import { Mutation, PatchScan, Subscription } from './patch.ts';
import { Query } from './query.ts';
import { VCenter } from './vcenter.ts';

export const resolvers: Resolvers = {
  Query,
  Mutation,
  Subscription: { ...Subscription, hostsChanged },
  PatchScan,
  Node: {
    // Every node model carries __typename (see models.ts).
    __resolveType: (node) => node.__typename,
  },
  VCenter: { ...VCenter, inventory: vcenterInventory },
  InventoryMirror,
  Cluster,
  Host,
  ...imageResolvers,
};
