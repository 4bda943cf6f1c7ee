/**
 * A mirror of one vCenter's clusters and hosts, kept current by vCenter's own change feed,
 * as govmomi's view/property.Wait keep an object cache: one PropertyFilter over a container
 * view of every ClusterComputeResource and HostSystem, on a private PropertyCollector
 * (CreatePropertyCollector), so that its WaitForUpdatesEx loop does not share a version or
 * waits with the task watcher's loop on the session's default collector.
 *
 * Sync: the filter is created first and its initial change calculation (WaitForUpdatesEx
 * from the initial version "", which reports every object the filter selects as `enter`) is
 * the initial state, read in pages of `pageSize` objects (WaitOptions.maxObjectUpdates: each
 * truncated UpdateSet's version resumes the calculation) and made current only once complete.
 * This is how govmomi's view/property.Wait build their cache. A RetrievePropertiesEx read
 * before the filter would carry the same objects a second time (the filter's first report
 * repeats them all, whatever was read before): at 2,500 hosts per vCenter that doubled the
 * sync's work on both sides. HA/DRS come from the REST cluster list, read alongside (the
 * VI/JSON spec subset does not carry them). Then WaitForUpdatesEx is followed from the
 * report's version. After a transient failure the loop resumes from the last version; after
 * InvalidCollectorVersion, a renewed session (the collector died with the old one), a
 * vanished collector, or once the data was dropped, it resyncs from scratch.
 *
 * The mirror imports only the vSphere client and the logger: the GraphQL layer reads it.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.ts';
import { silentLogger } from '../log.ts';
import type { AboutInfo, ManagedObjectReference, ObjectUpdate, UpdateSet, VCenterClient } from '../vsphere/index.ts';
import { isUpstreamError, moRef } from '../vsphere/index.ts';
import { UnplaceableChange, applyChanges } from './apply.ts';
import type { Props } from './apply.ts';

export type MirrorState = 'SYNCING' | 'LIVE' | 'STALE';

/** A host as the mirror knows it. Immutable: a change replaces the object. */
export interface MirrorHost {
  vcenter: string;
  moId: string;
  name: string;
  /** ClusterComputeResource for clustered hosts, ComputeResource for standalone ones. */
  parent?: ManagedObjectReference;
  connectionState: 'connected' | 'disconnected' | 'notResponding';
  powerState?: 'poweredOn' | 'poweredOff' | 'standBy' | 'unknown';
  inMaintenanceMode: boolean;
  /** Unset while vCenter holds no configuration for the host (e.g. disconnected). */
  product?: AboutInfo;
}

export interface MirrorCluster {
  vcenter: string;
  moId: string;
  name: string;
  haEnabled: boolean;
  drsEnabled: boolean;
}

export type HostChangeKind = 'ADDED' | 'REMOVED' | 'CHANGED';
export type HostField = 'NAME' | 'CLUSTER' | 'CONNECTION_STATE' | 'POWER_STATE' | 'MAINTENANCE_MODE' | 'BUILD';

export interface HostChange {
  vcenter: string;
  kind: HostChangeKind;
  /** The host before the change (unset for ADDED). */
  before?: MirrorHost;
  /** The host after the change (unset for REMOVED). */
  after?: MirrorHost;
  /** For CHANGED: the fields that differ. */
  fields: HostField[];
  /** The mirror version that includes this change. */
  version: number;
}

export interface MirrorStatus {
  state: MirrorState;
  /** When the state last changed. */
  since: Date;
  /** Increases with every applied change set and every resync. */
  version: number;
  objectCount: number;
  /** When vCenter last confirmed the mirror current (a successful feed call). */
  confirmedAt?: Date;
  /** The collector version the mirror follows from; '' until the filter's first report is applied. */
  feedVersion: string;
}

/** What queries read: one consistent version of the inventory. */
export interface MirrorSnapshot {
  vcenter: string;
  version: number;
  /** Undefined when LIVE; else how old the data is (ms since vCenter last confirmed it). */
  staleMs: number | undefined;
  confirmedAt: Date | undefined;
  clusters(): readonly MirrorCluster[];
  cluster(moId: string): MirrorCluster | undefined;
  hosts(): readonly MirrorHost[];
  host(moId: string): MirrorHost | undefined;
  hostsOfCluster(clusterMoId: string): readonly MirrorHost[];
}

export interface InventoryMirrorOptions {
  /** WaitForUpdatesEx maxWaitSeconds, default 60. */
  maxWaitSeconds?: number;
  /** ObjectUpdates per UpdateSet (the rest follows, truncated), default 5,000. */
  maxObjectUpdates?: number;
  /** Objects per page of the initial read (maxObjectUpdates of the filter's initial report), default 2,500. */
  pageSize?: number;
  /** Backoff after a failed feed call, doubled per failure up to 8×, default 250 ms. */
  retryDelayMs?: number;
  /**
   * How long after vCenter last confirmed the data queries may still answer from it (marked
   * stale); after that it is dropped and the vCenter is read live (i.e. reported unavailable
   * while it is down). Default 300,000 ms.
   */
  staleMaxAgeMs?: number;
  /**
   * Oldest installed-images or desired-software report of a cluster served from the cache
   * (cluster-reports.ts) before it is read again, default 600,000 ms (10 min).
   */
  imageCacheMaxAgeMs?: number;
  /** The image cache's clock, default Date.now (tests advance their own). */
  imageCacheClock?: () => number;
  logger?: Logger;
}

/** Objects per vCenter past which an initial report that keeps saying "truncated" is not finishing (vSphere maxima: 2,500 hosts). */
const INITIAL_OBJECT_BOUND = 50_000;

export const HOST_PATHS = ['name', 'parent', 'runtime.connectionState', 'runtime.powerState', 'runtime.inMaintenanceMode', 'config.product'] as const;
export const CLUSTER_PATHS = ['name'] as const;

/** A cluster as the mirror holds it (HA/DRS are joined in from the REST list when read). */
class ClusterEntry {
  constructor(readonly name: string | undefined) {}
}

/**
 * What the mirror holds per object, keyed "Type:moId": a host as queries read it (built
 * once per change of the host, not per snapshot), or a cluster's name.
 */
type Entry = MirrorHost | ClusterEntry;

/**
 * One copy of the values many hosts share: their product (AboutInfo, the same for every host
 * on a build), parent cluster reference and enum strings. Per host, parsed JSON holds its own
 * copy of each; 2,500 hosts share a handful. Bounded by the distinct values a vCenter reports.
 */
class Interner {
  private readonly products = new Map<string, AboutInfo>();
  private readonly refs = new Map<string, ManagedObjectReference>();
  private readonly words = new Map<string, string>();

  product(p: AboutInfo): AboutInfo {
    const key = JSON.stringify(p);
    const known = this.products.get(key);
    if (known) return known;
    this.products.set(key, p);
    return p;
  }

  ref(r: ManagedObjectReference): ManagedObjectReference {
    const key = `${r.type}:${r.value}`;
    const known = this.refs.get(key);
    if (known) return known;
    this.refs.set(key, r);
    return r;
  }

  word<T extends string>(w: T): T {
    const known = this.words.get(w);
    if (known) return known as T;
    this.words.set(w, w);
    return w;
  }
}

function hostFrom(vcenter: string, moId: string, p: Props, intern: Interner): MirrorHost {
  const host: MirrorHost = {
    vcenter,
    moId,
    name: (p.get('name') as string | undefined) ?? moId,
    connectionState: intern.word((p.get('runtime.connectionState') as MirrorHost['connectionState'] | undefined) ?? 'notResponding'),
    inMaintenanceMode: (p.get('runtime.inMaintenanceMode') as boolean | undefined) ?? false,
  };
  const parent = p.get('parent') as ManagedObjectReference | undefined;
  if (parent) host.parent = intern.ref(parent);
  const power = p.get('runtime.powerState') as MirrorHost['powerState'];
  if (power) host.powerState = intern.word(power);
  const product = p.get('config.product') as AboutInfo | undefined;
  if (product) host.product = intern.product(product);
  return host;
}

/** A host's properties by the filter's paths, to apply a change to. */
function hostProps(h: MirrorHost): Props {
  const p: Props = new Map<string, unknown>([
    ['name', h.name],
    ['runtime.connectionState', h.connectionState],
    ['runtime.inMaintenanceMode', h.inMaintenanceMode],
  ]);
  if (h.parent) p.set('parent', h.parent);
  if (h.powerState) p.set('runtime.powerState', h.powerState);
  if (h.product) p.set('config.product', h.product);
  return p;
}

/** The fields a subscriber cares about that differ between two versions of a host. */
export function changedFields(a: MirrorHost, b: MirrorHost): HostField[] {
  const fields: HostField[] = [];
  if (a.name !== b.name) fields.push('NAME');
  if (a.parent?.value !== b.parent?.value) fields.push('CLUSTER');
  if (a.connectionState !== b.connectionState) fields.push('CONNECTION_STATE');
  if (a.powerState !== b.powerState) fields.push('POWER_STATE');
  if (a.inMaintenanceMode !== b.inMaintenanceMode) fields.push('MAINTENANCE_MODE');
  if (a.product?.build !== b.product?.build) fields.push('BUILD');
  return fields;
}

/** The one filter spec: every cluster and host under the root folder, through a container view. */
function filterSpec(view: ManagedObjectReference) {
  return {
    _typeName: 'PropertyFilterSpec',
    propSet: [
      { _typeName: 'PropertySpec', type: 'ClusterComputeResource', pathSet: [...CLUSTER_PATHS] },
      { _typeName: 'PropertySpec', type: 'HostSystem', pathSet: [...HOST_PATHS] },
    ],
    objectSet: [
      {
        _typeName: 'ObjectSpec',
        obj: view,
        skip: true,
        selectSet: [{ _typeName: 'TraversalSpec', name: 'traverseView', type: 'ContainerView', path: 'view', skip: false }],
      },
    ],
  };
}

/** Server-side objects of one sync, all in one session. */
interface Feed {
  generation: number;
  collector: string;
  view: ManagedObjectReference;
  version: string;
  /** Keys seen in the filter's initial (version "") report, until it is complete. */
  initial?: Set<string>;
}

class ResyncNeeded extends Error {}

export class InventoryMirror {
  readonly vcenter: string;
  private readonly opts: Required<Omit<InventoryMirrorOptions, 'logger' | 'imageCacheMaxAgeMs' | 'imageCacheClock'>>;
  private readonly logger: Logger;
  private readonly events = new EventEmitter();
  private entries = new Map<string, Entry>();
  private intern = new Interner();
  private ha = new Map<string, { haEnabled: boolean; drsEnabled: boolean }>();
  private state: MirrorState = 'SYNCING';
  private since = new Date();
  private version = 0;
  private confirmedAt: number | undefined;
  private feed: Feed | undefined;
  private view: MirrorSnapshot | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  /** After a failure the next wait returns at once (maxWaitSeconds 0): it confirms the data current again. */
  private recovering = false;

  constructor(
    private readonly client: VCenterClient,
    options: InventoryMirrorOptions = {},
  ) {
    this.vcenter = client.name;
    this.opts = {
      maxWaitSeconds: options.maxWaitSeconds ?? 60,
      maxObjectUpdates: options.maxObjectUpdates ?? 5_000,
      pageSize: options.pageSize ?? 2_500,
      retryDelayMs: options.retryDelayMs ?? 250,
      staleMaxAgeMs: options.staleMaxAgeMs ?? 300_000,
    };
    this.logger = (options.logger ?? silentLogger).child({ vcenter: client.name, component: 'inventory-mirror' });
    this.events.setMaxListeners(0);
  }

  start(): void {
    this.loop ??= this.run().catch((error: unknown) => this.logger.error('inventory mirror stopped unexpectedly', { error }));
  }

  status(): MirrorStatus {
    const s: MirrorStatus = { state: this.state, since: this.since, version: this.version, objectCount: this.entries.size, feedVersion: this.feed?.version ?? '' };
    if (this.confirmedAt !== undefined) s.confirmedAt = new Date(this.confirmedAt);
    return s;
  }

  /**
   * The inventory for queries, or undefined when they must read vCenter live: still
   * syncing, or stale for longer than staleMaxAgeMs.
   */
  snapshot(now = Date.now()): MirrorSnapshot | undefined {
    if (this.state === 'SYNCING' || this.confirmedAt === undefined) return undefined;
    if (this.state === 'STALE') {
      const age = now - this.confirmedAt;
      if (age > this.opts.staleMaxAgeMs) {
        this.dropData();
        return undefined;
      }
      return { ...this.current(), staleMs: age };
    }
    return this.current();
  }

  /** Every host added, removed or changed in a field subscribers care about, in order. Returns the unsubscribe. */
  onHostChange(listener: (change: HostChange) => void): () => void {
    this.events.on('host', listener);
    return () => this.events.off('host', listener);
  }

  /**
   * The host changes of each applied change set, at once, before onHostChange listeners get
   * them one by one: for what the mirror's own state derives (the image cache). Returns the unsubscribe.
   */
  onHostChanges(listener: (changes: readonly HostChange[]) => void): () => void {
    this.events.on('changes', listener);
    return () => this.events.off('changes', listener);
  }

  /** Called when the mirror starts a full resync or drops its data: what it held may be out of date. Returns the unsubscribe. */
  onReset(listener: () => void): () => void {
    this.events.on('reset', listener);
    return () => this.events.off('reset', listener);
  }

  /** Whether the mirror holds the cluster now. */
  hasCluster(moId: string): boolean {
    return this.entries.has(`ClusterComputeResource:${moId}`);
  }

  /** Host-change listeners now (diagnostics and tests: one per subscription execution). */
  hostChangeListeners(): number {
    return this.events.listenerCount('host');
  }

  /** Called on every state change and every new version. */
  onUpdate(listener: (status: MirrorStatus) => void): () => void {
    this.events.on('update', listener);
    return () => this.events.off('update', listener);
  }

  /** Resolves once the mirror satisfies `ok` (checked now and at every update); rejects after `timeoutMs`. */
  until(ok: (status: MirrorStatus) => boolean, timeoutMs = 10_000): Promise<MirrorStatus> {
    return new Promise((resolve, reject) => {
      if (ok(this.status())) return resolve(this.status());
      const timer = setTimeout(() => {
        off();
        reject(new Error(`inventory mirror of ${this.vcenter}: condition not met in ${timeoutMs} ms (${JSON.stringify(this.status())})`));
      }, timeoutMs);
      const off = this.onUpdate((status) => {
        if (!ok(status)) return;
        clearTimeout(timer);
        off();
        resolve(status);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    // Destroying the collector ends a wait in progress (RequestCanceled) and one still on its
    // way (ManagedObjectNotFound), where CancelWaitForUpdates could miss the latter.
    const feed = this.feed;
    if (feed) await this.destroyFeed(feed);
    await this.loop;
    this.events.removeAllListeners();
  }

  // ---------- loop ----------

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      try {
        if (!this.feed || this.feed.generation !== this.client.sessionGeneration('vim')) await this.resync();
        else await this.waitOnce(this.feed);
        failures = 0;
      } catch (error) {
        if (this.closed) return;
        if (error instanceof ResyncNeeded || needsResync(error)) {
          this.logger.info('inventory feed lost its collector or version: resyncing', { error: String(error) });
          this.feed = undefined;
          continue;
        }
        failures++;
        this.recovering = true;
        this.setState('STALE');
        this.logger.warn('inventory feed call failed; retrying', { error: String(error), failures });
        await this.sleep(Math.min(this.opts.retryDelayMs * 2 ** (failures - 1), this.opts.retryDelayMs * 8));
      }
    }
  }

  /** A fresh collector, view and filter; the filter's initial report is the full state the feed continues from. */
  private async resync(): Promise<void> {
    const old = this.feed;
    this.feed = undefined;
    if (old) void this.destroyFeed(old);
    if (this.state !== 'SYNCING') this.setState('SYNCING');
    this.events.emit('reset');
    const content = await this.client.serviceContent();
    const viewManager = content.viewManager;
    if (!viewManager) throw new Error(`vCenter ${this.vcenter} has no ViewManager`);
    const collector = await this.client.invoke<ManagedObjectReference>('PropertyCollector', content.propertyCollector.value, 'CreatePropertyCollector', undefined, { idempotent: false });
    const generation = this.client.sessionGeneration('vim');
    const view = await this.client.invoke<ManagedObjectReference>(
      'ViewManager',
      viewManager.value,
      'CreateContainerView',
      { container: content.rootFolder, type: ['ClusterComputeResource', 'HostSystem'], recursive: true },
      { idempotent: false },
    );
    const feed: Feed = { generation, collector: collector.value, view: moRef(view.type, view.value), version: '' };
    try {
      const [, clusters] = await Promise.all([
        this.client.invoke('PropertyCollector', feed.collector, 'CreateFilter', { spec: filterSpec(feed.view), partialUpdates: false }, { idempotent: false }),
        this.client.listClusters(),
      ]);
      this.ha = new Map(clusters.map((c) => [c.cluster, { haEnabled: c.ha_enabled, drsEnabled: c.drs_enabled }]));
      // Values of hosts gone since the last sync are not kept.
      this.intern = new Interner();
      const initial = await this.readInitialReport(feed);
      if (initial) {
        const { entries, newClusters: missing } = initial;
        // Clusters that appeared between the REST list and the report.
        if (missing.length > 0) {
          for (const c of await this.client.listClusters({ clusters: missing })) this.ha.set(c.cluster, { haEnabled: c.ha_enabled, drsEnabled: c.drs_enabled });
        }
        // The full read replaces what the mirror held; commit reports the differences.
        this.commit(entries);
      } else {
        // No object in the filter (an empty inventory): the next report from "" is the initial one.
        this.commit(new Map());
        feed.initial = new Set();
      }
    } catch (error) {
      void this.destroyFeed(feed);
      throw error;
    }
    if (this.closed) {
      await this.destroyFeed(feed);
      return;
    }
    this.feed = feed;
    this.confirmedAt = Date.now();
    this.setState('LIVE');
  }

  /**
   * The filter's initial change calculation, page by page (truncated UpdateSets resume it),
   * as the mirror's entries, with the clusters whose HA/DRS the mirror has not read yet; sets
   * feed.version to the complete report's version. Undefined
   * when vCenter reports no object at all (a null UpdateSet).
   */
  private async readInitialReport(feed: Feed): Promise<{ entries: Map<string, Entry>; newClusters: string[] } | undefined> {
    const entries = new Map<string, Entry>();
    const newClusters: string[] = [];
    const maxPages = Math.ceil(INITIAL_OBJECT_BOUND / this.opts.pageSize) + 3;
    let version = '';
    for (let page = 1; ; page++) {
      const set = await this.client.invoke<UpdateSet | null>(
        'PropertyCollector',
        feed.collector,
        'WaitForUpdatesEx',
        // maxWaitSeconds 0: one calculation, answered at once.
        { version, options: { _typeName: 'WaitOptions', maxWaitSeconds: 0, maxObjectUpdates: this.opts.pageSize } },
        // A truncated version is good for one call only: never replayed.
        { idempotent: version === '', sessionBound: true },
      );
      if (this.client.sessionGeneration('vim') !== feed.generation) throw new ResyncNeeded('session renewed during the initial read');
      if (!set) {
        if (version === '') return undefined;
        throw new Error(`vCenter ${this.vcenter}: the filter's initial report ended without a complete UpdateSet`);
      }
      try {
        for (const filterUpdate of set.filterSet ?? []) {
          for (const update of filterUpdate.objectSet ?? []) this.applyObject(entries, update, undefined, newClusters);
        }
      } catch (error) {
        if (error instanceof UnplaceableChange) throw new ResyncNeeded(error.message);
        throw error;
      }
      version = set.version;
      if (!set.truncated) break;
      if (page >= maxPages) throw new Error(`vCenter ${this.vcenter}: the filter's initial report is still truncated after ${page} pages of ${this.opts.pageSize}`);
    }
    feed.version = version;
    return { entries, newClusters };
  }

  private async waitOnce(feed: Feed): Promise<void> {
    let set: UpdateSet | undefined | null;
    try {
      set = await this.client.invoke<UpdateSet | null>(
        'PropertyCollector',
        feed.collector,
        'WaitForUpdatesEx',
        {
          version: feed.version,
          options: { _typeName: 'WaitOptions', maxWaitSeconds: this.recovering ? 0 : this.opts.maxWaitSeconds, maxObjectUpdates: this.opts.maxObjectUpdates },
        },
        { idempotent: true, timeoutMs: (this.opts.maxWaitSeconds + 15) * 1_000 },
      );
    } catch (error) {
      if (this.closed) return;
      // The session ended under the wait (logout, expiry): the next call finds out how.
      if (isUpstreamError(error) && error.fault === 'RequestCanceled') return;
      throw error;
    }
    if (this.closed) return;
    // A renewal during the wait replayed it in a session that has no such collector.
    if (this.client.sessionGeneration('vim') !== feed.generation) throw new ResyncNeeded('session renewed');
    this.confirmedAt = Date.now();
    this.recovering = false;
    if (set) await this.apply(feed, set);
    if (this.state !== 'LIVE') this.setState('LIVE');
  }

  // ---------- applying updates ----------

  private async apply(feed: Feed, set: UpdateSet): Promise<void> {
    const next = new Map(this.entries);
    const newClusters: string[] = [];
    try {
      for (const filterUpdate of set.filterSet ?? []) {
        for (const update of filterUpdate.objectSet ?? []) this.applyObject(next, update, feed, newClusters);
      }
    } catch (error) {
      if (error instanceof UnplaceableChange) throw new ResyncNeeded(error.message);
      throw error;
    }
    if (feed.initial && !set.truncated) {
      // The filter's initial report is complete: whatever it did not name is gone.
      for (const key of [...next.keys()]) if (!feed.initial.has(key)) next.delete(key);
      feed.initial = undefined;
    }
    if (newClusters.length > 0) {
      // HA/DRS come from REST (not in the VI/JSON spec subset): read them for clusters new to the mirror.
      for (const c of await this.client.listClusters({ clusters: newClusters })) {
        this.ha.set(c.cluster, { haEnabled: c.ha_enabled, drsEnabled: c.drs_enabled });
      }
    }
    feed.version = set.version;
    this.commit(next);
  }

  private applyObject(next: Map<string, Entry>, update: ObjectUpdate, feed: Feed | undefined, newClusters: string[]): void {
    const key = keyOf(update.obj);
    const type = update.obj.type;
    if (type !== 'HostSystem' && type !== 'ClusterComputeResource') return;
    const moId = update.obj.value;
    switch (update.kind) {
      case 'enter': {
        feed?.initial?.add(key);
        // An enter carries the object's whole state.
        if (type === 'HostSystem') next.set(key, hostFrom(this.vcenter, moId, applyChanges(new Map(), HOST_PATHS, update.changeSet ?? []), this.intern));
        else {
          next.set(key, new ClusterEntry(applyChanges(new Map(), CLUSTER_PATHS, update.changeSet ?? []).get('name') as string | undefined));
          if (!this.ha.has(moId)) newClusters.push(moId);
        }
        return;
      }
      case 'modify': {
        const before = next.get(key);
        if (!before) throw new ResyncNeeded(`modify of ${key}, which the mirror does not hold`);
        if (before instanceof ClusterEntry) {
          const props: Props = before.name === undefined ? new Map() : new Map([['name', before.name]]);
          next.set(key, new ClusterEntry(applyChanges(props, CLUSTER_PATHS, update.changeSet ?? []).get('name') as string | undefined));
        } else {
          next.set(key, hostFrom(this.vcenter, moId, applyChanges(hostProps(before), HOST_PATHS, update.changeSet ?? []), this.intern));
        }
        return;
      }
      case 'leave':
        next.delete(key);
        return;
    }
  }

  // ---------- state ----------

  /** Makes `next` the current state, and reports every host added, removed or changed since the last one. */
  private commit(next: Map<string, Entry>): void {
    const previous = this.entries;
    this.entries = next;
    this.version++;
    this.view = undefined;
    const changes: HostChange[] = [];
    for (const [key, after] of next) {
      if (after instanceof ClusterEntry) continue;
      const before = previous.get(key);
      if (before === after) continue;
      if (!before || before instanceof ClusterEntry) {
        changes.push({ vcenter: this.vcenter, kind: 'ADDED', after, fields: [], version: this.version });
        continue;
      }
      const fields = changedFields(before, after);
      if (fields.length > 0) changes.push({ vcenter: this.vcenter, kind: 'CHANGED', before, after, fields, version: this.version });
    }
    for (const [key, before] of previous) {
      if (before instanceof ClusterEntry || next.has(key)) continue;
      changes.push({ vcenter: this.vcenter, kind: 'REMOVED', before, fields: [], version: this.version });
    }
    // Caches first, so that a subscriber reading on an event already reads past the change.
    if (changes.length > 0) this.events.emit('changes', changes);
    for (const change of changes) this.events.emit('host', change);
    this.events.emit('update', this.status());
  }

  private dropData(): void {
    if (this.entries.size === 0) return;
    this.logger.warn('inventory mirror data too old: dropped until vCenter answers again', { vcenter: this.vcenter });
    this.entries = new Map();
    this.view = undefined;
    // The next successful contact starts over.
    this.feed = undefined;
    this.confirmedAt = undefined;
    this.version++;
    this.events.emit('reset');
    this.events.emit('update', this.status());
  }

  private setState(state: MirrorState): void {
    if (this.state === state) return;
    this.state = state;
    this.since = new Date();
    this.logger.info('inventory mirror state', { state });
    this.events.emit('update', this.status());
  }

  /** The current version as a snapshot, built once per version. */
  private current(): MirrorSnapshot {
    if (this.view) return this.view;
    const vcenter = this.vcenter;
    const clusters: MirrorCluster[] = [];
    const hosts: MirrorHost[] = [];
    const byCluster = new Map<string, MirrorHost[]>();
    for (const [key, entry] of this.entries) {
      if (entry instanceof ClusterEntry) {
        const moId = key.slice(key.indexOf(':') + 1);
        const ha = this.ha.get(moId);
        clusters.push({ vcenter, moId, name: entry.name ?? moId, haEnabled: ha?.haEnabled ?? false, drsEnabled: ha?.drsEnabled ?? false });
      } else {
        const host = entry;
        hosts.push(host);
        if (host.parent) {
          const list = byCluster.get(host.parent.value) ?? [];
          list.push(host);
          byCluster.set(host.parent.value, list);
        }
      }
    }
    const clusterById = new Map(clusters.map((c) => [c.moId, c]));
    const hostById = new Map(hosts.map((h) => [h.moId, h]));
    const confirmedAt = this.confirmedAt === undefined ? undefined : new Date(this.confirmedAt);
    this.view = {
      vcenter,
      version: this.version,
      staleMs: undefined,
      confirmedAt,
      clusters: () => clusters,
      cluster: (moId) => clusterById.get(moId),
      hosts: () => hosts,
      host: (moId) => hostById.get(moId),
      hostsOfCluster: (moId) => byCluster.get(moId) ?? [],
    };
    return this.view;
  }

  // ---------- upstream housekeeping ----------

  /** Destroys the collector (its filter goes with it) and the view; both may already be gone with their session. */
  private async destroyFeed(feed: Feed): Promise<void> {
    if (this.client.sessionGeneration('vim') !== feed.generation) return;
    await Promise.allSettled([
      this.client.invoke('PropertyCollector', feed.collector, 'DestroyPropertyCollector', undefined, { idempotent: true }),
      this.client.invoke('ContainerView', feed.view.value, 'DestroyView', undefined, { idempotent: true }),
    ]);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => (this.wake = undefined));
  }
}

function keyOf(ref: ManagedObjectReference): string {
  return `${ref.type}:${ref.value}`;
}

/** The collector or its version is gone: only a fresh sync helps. */
function needsResync(error: unknown): boolean {
  return isUpstreamError(error) && (error.fault === 'InvalidCollectorVersion' || error.fault === 'ManagedObjectNotFound');
}
