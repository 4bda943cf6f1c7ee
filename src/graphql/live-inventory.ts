/**
 * Inventory queries from the mirrors: who may read them, the STALE_DATA warning, and the
 * hostsChanged subscription.
 *
 * The mirror is what the gateway's service account sees. Callers that pass their own vCenter
 * credential through (`caller.kind === 'vcenter'`) keep reading vCenter live through their
 * own session, so that vCenter's permissions decide what they see; they get no reader and
 * cannot subscribe to hostsChanged.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Repeater } from 'graphql-yoga';
import type { Caller } from '../auth/caller.ts';
import type { ClusterReports, HostChange, HostField, InventoryMirrors, MirrorHost, MirrorSnapshot } from '../mirror/index.ts';
import type { GraphQLContext } from './context.ts';
import { badInput } from './errors.ts';
import type { HostFilter } from './generated/resolvers-types.ts';
import { fromGlobalId, toGlobalId } from './ids.ts';
import { checkFilter, CONNECTION_STATES } from './inventory.ts';
import { createLoaders, objectKey } from './loaders.ts';
import type { HostChangeModel } from './models.ts';
import { hostModel } from './models.ts';

/** What an operation reads inventory from: a mirror snapshot per vCenter, or undefined to read vCenter live. */
export interface InventoryReader {
  snapshot(vcenter: string): MirrorSnapshot | undefined;
  /**
   * The cached installed-images and desired-software reports of a vCenter, when this operation
   * reads its mirror; undefined to read them live (like the inventory while the mirror syncs).
   */
  reports(vcenter: string): ClusterReports | undefined;
  /** STALE_DATA warnings for the vCenters this operation read from stale mirrors. */
  warnings(): StaleDataWarning[];
}

export interface StaleDataWarning {
  code: 'STALE_DATA';
  vcenter: string;
  /** Whole seconds since vCenter last confirmed the data. */
  ageSeconds: number;
  /** When vCenter last confirmed the data. */
  confirmedAt: string | null;
  message: string;
}

/** Service-account callers read the mirrors; passthrough callers read live with their own session. */
export function readsMirror(caller: Caller): boolean {
  return caller.kind !== 'vcenter';
}

/**
 * One operation's reader: the first read of a vCenter fixes the snapshot, so every field of
 * the operation sees one consistent version of that vCenter's inventory.
 */
export function inventoryReader(mirrors: InventoryMirrors | undefined, caller: Caller): InventoryReader | undefined {
  if (!mirrors || !readsMirror(caller)) return undefined;
  const taken = new Map<string, MirrorSnapshot | undefined>();
  const warnings = new Map<string, StaleDataWarning>();
  const reader: InventoryReader = {
    snapshot(vcenter) {
      if (taken.has(vcenter)) return taken.get(vcenter);
      const snapshot = mirrors.get(vcenter)?.snapshot();
      taken.set(vcenter, snapshot);
      if (snapshot?.staleMs !== undefined) {
        const ageSeconds = Math.floor(snapshot.staleMs / 1000);
        warnings.set(vcenter, {
          code: 'STALE_DATA',
          vcenter,
          ageSeconds,
          confirmedAt: snapshot.confirmedAt?.toISOString() ?? null,
          message: `vCenter "${vcenter}" is unreachable: its inventory is as it was ${ageSeconds} s ago`,
        });
      }
      return snapshot;
    },
    reports: (vcenter) => (reader.snapshot(vcenter) ? mirrors.reports(vcenter) : undefined),
    warnings: () => [...warnings.values()],
  };
  return reader;
}

/** Adds `extensions.warnings` (STALE_DATA entries) to a response that read stale mirror data. */
export const staleDataWarnings: Plugin<GraphQLContext> = {
  onExecute() {
    return {
      onExecuteDone({ args, result, setResult }) {
        const warnings = (args.contextValue as GraphQLContext).inventory?.warnings() ?? [];
        if (warnings.length === 0 || Symbol.asyncIterator in result) return;
        setResult({ ...result, extensions: { ...result.extensions, warnings } });
      },
    };
  },
};

// ---------- hostsChanged ----------

const CONNECTION = { connected: 'CONNECTED', disconnected: 'DISCONNECTED', notResponding: 'NOT_RESPONDING' } as const;
const POWER = { poweredOn: 'POWERED_ON', poweredOff: 'POWERED_OFF', standBy: 'STANDBY', unknown: 'UNKNOWN' } as const;

function fieldText(host: MirrorHost | undefined, field: HostField): string | null {
  if (!host) return null;
  switch (field) {
    case 'NAME':
      return host.name;
    case 'CLUSTER':
      return host.parent?.type === 'ClusterComputeResource' ? toGlobalId('Cluster', host.vcenter, host.parent.value) : null;
    case 'CONNECTION_STATE':
      return CONNECTION[host.connectionState];
    case 'POWER_STATE':
      return host.powerState ? POWER[host.powerState] : null;
    case 'MAINTENANCE_MODE':
      return String(host.inMaintenanceMode);
    case 'BUILD':
      return host.product?.build ?? null;
  }
}

/** Whether a host (as one side of a change) matches a HostFilter. */
function hostMatcher(filter: HostFilter | null | undefined): (host: MirrorHost | undefined) => boolean {
  checkFilter(filter);
  if (!filter) return (host) => host !== undefined;
  const vcenters = filter.vcenterIds && new Set(filter.vcenterIds.map((id) => fromGlobalId(id, 'VCenter', 'filter.vcenterIds').vcenter));
  const clusters = filter.clusterIds && new Set(filter.clusterIds.map((id) => {
    const c = fromGlobalId(id, 'Cluster', 'filter.clusterIds');
    return objectKey(c.vcenter, c.moId);
  }));
  const ids = filter.ids && new Set(filter.ids.map((id) => {
    const h = fromGlobalId(id, 'Host', 'filter.ids');
    return objectKey(h.vcenter, h.moId);
  }));
  const states = filter.connectionStates && new Set(filter.connectionStates.map((s) => CONNECTION_STATES[s]));
  const needle = filter.nameContains?.toLowerCase();
  return (h) =>
    h !== undefined &&
    (!vcenters || vcenters.has(h.vcenter)) &&
    (!clusters || (h.parent !== undefined && clusters.has(objectKey(h.vcenter, h.parent.value)))) &&
    (!ids || ids.has(objectKey(h.vcenter, h.moId))) &&
    (!states || states.has(h.connectionState)) &&
    (filter.inMaintenanceMode == null || h.inMaintenanceMode === filter.inMaintenanceMode) &&
    (!filter.build || h.product?.build === filter.build) &&
    (!needle || h.name.toLowerCase().includes(needle));
}

export interface HostChangeEvent {
  change: HostChange;
}

/** Subscribe half of Subscription.hostsChanged: every matching change of every mirror, in order. */
export function subscribeHostsChanged(ctx: GraphQLContext, filter: HostFilter | null | undefined): AsyncIterableIterator<HostChangeEvent> {
  if (!readsMirror(ctx.caller)) {
    throw new GraphQLError('hostsChanged follows the service account\'s inventory mirror; it is not available with credential passthrough', {
      extensions: { code: 'FORBIDDEN' },
    });
  }
  const mirrors = ctx.mirrors;
  if (!mirrors) throw badInput('hostsChanged needs the inventory mirrors, which this gateway runs without');
  const matches = hostMatcher(filter);
  return new Repeater<HostChangeEvent>(async (push, stop) => {
    const off = mirrors.onHostChange((change) => {
      if (!matches(change.before) && !matches(change.after)) return;
      try {
        void push({ change });
      } catch {
        // Repeater refuses a 1,025th unread event by throwing, which must not reach the mirror
        // that emits to every subscriber: this subscriber alone ends, with the reason.
        void stop(new GraphQLError('Too many events waited unread for this subscriber: the subscription ends', { extensions: { code: 'SUBSCRIBER_TOO_SLOW' } }));
      }
    });
    void mirrors.closed.then(() => stop());
    await stop;
    off();
  });
}

/** Resolve half: the event as a HostChange, with fresh loaders that read the mirror as it is now. */
export function resolveHostChange(event: HostChangeEvent, ctx: GraphQLContext): HostChangeModel {
  const { change } = event;
  // A subscription keeps one context for its life: each event reads the current mirror.
  ctx.inventory = inventoryReader(ctx.mirrors, ctx.caller);
  ctx.loaders = createLoaders(ctx.upstreams, ctx.scans, ctx.inventory);
  const host = (change.after ?? change.before)!;
  return {
    kind: change.kind,
    host: hostModel(host),
    changes: change.fields.map((field) => ({ field, before: fieldText(change.before, field), after: fieldText(change.after, field) })),
    version: change.version,
  };
}
