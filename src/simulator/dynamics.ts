// Inventory dynamics: the changes an operator or vCenter itself makes to a
// running inventory (a host disconnects, enters maintenance, is added,
// removed, moved, remediated to another build; a cluster is renamed). Both
// APIs render from the one inventory model, so a change shows at once in the
// REST lists and, through the PropertyCollector's diffing (updates.ts), in the
// change feed as enter/modify/leave. Preconditions follow vCenter's: a host
// leaves or moves between clusters only in maintenance mode or disconnected.

import { randomUUID } from 'node:crypto';
import { SERVER_VENDORS, releaseByBuild } from './catalog.ts';
import { buildImage, createRng } from './inventory.ts';
import type { SimCluster, SimHost, VCenterInventory } from './inventory.ts';

export type InventoryChange =
  | { action: 'disconnectHost'; host: string }
  | { action: 'reconnectHost'; host: string }
  | { action: 'enterMaintenance'; host: string }
  | { action: 'exitMaintenance'; host: string }
  | { action: 'addHost'; cluster: string; name?: string }
  | { action: 'removeHost'; host: string }
  | { action: 'moveHost'; host: string; cluster: string }
  | { action: 'setHostBuild'; host: string; build: string }
  | { action: 'renameCluster'; cluster: string; name: string };

export const INVENTORY_ACTIONS = [
  'disconnectHost',
  'reconnectHost',
  'enterMaintenance',
  'exitMaintenance',
  'addHost',
  'removeHost',
  'moveHost',
  'setHostBuild',
  'renameCluster',
] as const;

export interface InventoryChangeResult {
  /** The host the change concerned (the new one for addHost). */
  host?: string;
  cluster?: string;
  /**
   * When the simulator applied the change (ms since the epoch, as Date.now()): the instant a
   * change-feed client could first see it, from which its delivery delay is measured.
   */
  appliedAt: number;
}

/** A change the inventory refuses, with the HTTP status /_sim/inventory answers. */
export class InventoryChangeError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'InventoryChangeError';
  }
}

const signals = new WeakMap<VCenterInventory, EventTarget>();
const revisions = new WeakMap<VCenterInventory, number>();

/** Increases with every applied change: what only depends on the inventory is unchanged while it stays. */
export function inventoryRevision(inv: VCenterInventory): number {
  return revisions.get(inv) ?? 0;
}

/** Dispatches 'change' after every applied change: waiting WaitForUpdatesEx calls re-check at once. */
export function inventoryChangeSignal(inv: VCenterInventory): EventTarget {
  let target = signals.get(inv);
  if (!target) signals.set(inv, (target = new EventTarget()));
  return target;
}

const MAX_NAME = 80;

function hostOf(inv: VCenterInventory, moId: unknown): SimHost {
  if (typeof moId !== 'string' || moId === '') throw new InventoryChangeError(400, 'host must be a HostSystem MoID');
  const host = inv.hostById.get(moId);
  if (!host) throw new InventoryChangeError(404, `no host ${moId} in ${inv.name}`);
  return host;
}

function clusterOf(inv: VCenterInventory, moId: unknown): SimCluster {
  if (typeof moId !== 'string' || moId === '') throw new InventoryChangeError(400, 'cluster must be a ClusterComputeResource MoID');
  const cluster = inv.clusterById.get(moId);
  if (!cluster) throw new InventoryChangeError(404, `no cluster ${moId} in ${inv.name}`);
  return cluster;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME) {
    throw new InventoryChangeError(400, `name must be a non-empty string of at most ${MAX_NAME} characters`);
  }
  return name;
}

/** vCenter removes or moves a connected host only once it is in maintenance mode. */
function requireDetachable(host: SimHost, what: string): void {
  if (host.connectionState === 'connected' && !host.inMaintenanceMode) {
    throw new InventoryChangeError(409, `${what} ${host.moId}: InvalidState, the host must be in maintenance mode or disconnected`);
  }
}

/** Next MoID number: vCenter allocates every MoID from one increasing counter. */
function nextMoIdNumber(inv: VCenterInventory): number {
  let max = 0;
  const ids = [
    ...inv.folders.map((f) => f.moId),
    ...inv.datacenters.map((d) => d.moId),
    ...inv.clusters.map((c) => c.moId),
    ...inv.hosts.map((h) => h.moId),
    ...inv.resourcePools.map((r) => r.moId),
  ];
  for (const id of ids) {
    const n = Number(/(\d+)$/.exec(id)?.[1] ?? 0);
    if (n > max) max = n;
  }
  // Removed hosts' numbers are never reused.
  const state = counters.get(inv) ?? 0;
  const next = Math.max(max, state) + 1;
  counters.set(inv, next);
  return next;
}
const counters = new WeakMap<VCenterInventory, number>();

function detach(inv: VCenterInventory, host: SimHost): void {
  const cluster = inv.clusterById.get(host.cluster);
  if (!cluster) return;
  cluster.hosts = cluster.hosts.filter((id) => id !== host.moId);
  cluster.installedImages.failedHosts = cluster.installedImages.failedHosts.filter((id) => id !== host.moId);
}

function imageFor(host: SimHost, build: string, haEnabled: boolean): SimHost['image'] {
  let release;
  try {
    release = releaseByBuild(build);
  } catch {
    throw new InventoryChangeError(400, `unknown ESXi build ${JSON.stringify(build)}`);
  }
  const vendor = SERVER_VENDORS.find((v) => v.hardwareVendor === host.hardware.vendor) ?? SERVER_VENDORS[0]!;
  return buildImage(release, vendor, haEnabled);
}

/** Applies one change to the inventory; throws InventoryChangeError when vCenter would refuse it. */
export function applyInventoryChange(inv: VCenterInventory, change: InventoryChange): InventoryChangeResult {
  const result = apply(inv, change);
  const appliedAt = Date.now();
  revisions.set(inv, inventoryRevision(inv) + 1);
  inventoryChangeSignal(inv).dispatchEvent(new Event('change'));
  return { ...result, appliedAt };
}

function apply(inv: VCenterInventory, change: InventoryChange): Omit<InventoryChangeResult, 'appliedAt'> {
  switch (change.action) {
    case 'disconnectHost': {
      const host = hostOf(inv, change.host);
      host.connectionState = 'disconnected';
      // vCenter cannot know the power state of a host it no longer talks to.
      host.powerState = 'unknown';
      return { host: host.moId };
    }
    case 'reconnectHost': {
      const host = hostOf(inv, change.host);
      host.connectionState = 'connected';
      host.powerState = 'poweredOn';
      return { host: host.moId };
    }
    case 'enterMaintenance':
    case 'exitMaintenance': {
      const host = hostOf(inv, change.host);
      if (host.connectionState !== 'connected') throw new InventoryChangeError(409, `${change.action} ${host.moId}: InvalidState, the host is ${host.connectionState}`);
      host.inMaintenanceMode = change.action === 'enterMaintenance';
      return { host: host.moId };
    }
    case 'addHost': {
      const cluster = clusterOf(inv, change.cluster);
      const dc = inv.datacenterById.get(cluster.datacenter);
      const template = inv.hostById.get(cluster.hosts[0] ?? '') ?? inv.hosts.find((h) => h.datacenter === cluster.datacenter) ?? inv.hosts[0];
      if (!template) throw new InventoryChangeError(409, `addHost: ${inv.name} has no host to take hardware from`);
      const n = nextMoIdNumber(inv);
      const name = change.name === undefined ? `esx-${n}.${(dc?.name ?? 'dc').toLowerCase()}.sim.local` : checkName(change.name);
      if (inv.hosts.some((h) => h.name === name)) throw new InventoryChangeError(409, `addHost: DuplicateName, a host named ${name} exists`);
      const host: SimHost = {
        moId: `host-${n}`,
        name,
        cluster: cluster.moId,
        datacenter: cluster.datacenter,
        connectionState: 'connected',
        powerState: 'poweredOn',
        inMaintenanceMode: false,
        image: cluster.desiredImage ?? template.image,
        orphanedVibs: [],
        hardware: { ...template.hardware, uuid: randomUUID() },
        bootTime: new Date().toISOString(),
      };
      inv.hosts.push(host);
      inv.hostById.set(host.moId, host);
      cluster.hosts.push(host.moId);
      return { host: host.moId, cluster: cluster.moId };
    }
    case 'removeHost': {
      const host = hostOf(inv, change.host);
      requireDetachable(host, 'removeHost');
      detach(inv, host);
      inv.hosts = inv.hosts.filter((h) => h !== host);
      inv.hostById.delete(host.moId);
      return { host: host.moId };
    }
    case 'moveHost': {
      const host = hostOf(inv, change.host);
      const target = clusterOf(inv, change.cluster);
      if (target.moId === host.cluster) throw new InventoryChangeError(409, `moveHost: ${host.moId} is already in ${target.moId}`);
      if (target.datacenter !== host.datacenter) throw new InventoryChangeError(409, 'moveHost: hosts move only between clusters of one datacenter');
      requireDetachable(host, 'moveHost');
      detach(inv, host);
      host.cluster = target.moId;
      target.hosts.push(host.moId);
      return { host: host.moId, cluster: target.moId };
    }
    case 'setHostBuild': {
      const host = hostOf(inv, change.host);
      if (typeof change.build !== 'string') throw new InventoryChangeError(400, 'build must be a string');
      host.image = imageFor(host, change.build, inv.clusterById.get(host.cluster)?.haEnabled ?? false);
      return { host: host.moId };
    }
    case 'renameCluster': {
      const cluster = clusterOf(inv, change.cluster);
      const name = checkName(change.name);
      if (inv.clusters.some((c) => c !== cluster && c.datacenter === cluster.datacenter && c.name === name)) {
        throw new InventoryChangeError(409, `renameCluster: DuplicateName, a cluster named ${name} exists in the datacenter`);
      }
      cluster.name = name;
      return { cluster: cluster.moId };
    }
    default:
      throw new InventoryChangeError(400, `action must be one of ${INVENTORY_ACTIONS.join(', ')}`);
  }
}

/** Validates a JSON body of POST /_sim/inventory as an InventoryChange. */
export function parseInventoryChange(body: unknown): InventoryChange {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InventoryChangeError(400, 'body must be a JSON object with an action');
  const action = (body as { action?: unknown }).action;
  if (typeof action !== 'string' || !(INVENTORY_ACTIONS as readonly string[]).includes(action)) {
    throw new InventoryChangeError(400, `action must be one of ${INVENTORY_ACTIONS.join(', ')}`);
  }
  return body as InventoryChange;
}

/**
 * Random inventory churn for chaos runs: `perSecond` changes a second, each one vCenter could
 * make on its own (a host disconnects or reconnects, enters or exits maintenance, is
 * remediated to another build; a cluster is renamed), chosen by a seeded RNG. Returns the stop.
 */
export function startChurn(inv: VCenterInventory, perSecond: number, seed: number, onError: (error: unknown) => void = () => {}): () => void {
  if (!Number.isFinite(perSecond) || perSecond <= 0 || perSecond > 1000) throw new InventoryChangeError(400, 'perSecond must be a number from 0 (exclusive) to 1000');
  const rng = createRng(seed);
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rng() * items.length)];
  const builds = ['24022510', '24280767', '24414501', '24585383'];
  let renames = 0;
  const step = (): void => {
    const host = pick(inv.hosts);
    const kind = Math.floor(rng() * 4);
    try {
      if (!host) return;
      if (kind === 0) applyInventoryChange(inv, { action: host.connectionState === 'connected' ? 'disconnectHost' : 'reconnectHost', host: host.moId });
      else if (kind === 1 && host.connectionState === 'connected') applyInventoryChange(inv, { action: host.inMaintenanceMode ? 'exitMaintenance' : 'enterMaintenance', host: host.moId });
      else if (kind === 2) applyInventoryChange(inv, { action: 'setHostBuild', host: host.moId, build: pick(builds)! });
      else {
        const cluster = pick(inv.clusters);
        if (cluster) applyInventoryChange(inv, { action: 'renameCluster', cluster: cluster.moId, name: `${cluster.name.replace(/~\d+$/, '')}~${++renames}` });
      }
    } catch (error) {
      onError(error);
    }
  };
  const timer = setInterval(step, Math.max(1, Math.round(1000 / perSecond)));
  timer.unref();
  return () => clearInterval(timer);
}
