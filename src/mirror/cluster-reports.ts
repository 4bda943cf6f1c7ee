/**
 * Per-cluster caches of the vLCM reports the change feed does not carry (REST only): the
 * installed images (GET /api/esx/settings/clusters/{cluster}/installed-images) and the desired
 * software (…/software) of every cluster of one vCenter, as the service account reads them.
 *
 * Lazy: the first read of a cluster fetches, concurrent reads share that one fetch, later reads
 * are answered from memory. The mirror's change stream says when a report may have changed: a
 * host of the cluster is added, removed, moved in or out, renamed, or changes build or
 * connection state (the report lists hosts by image, name and reachability). A resync of the
 * mirror, or its dropped data, invalidates every entry (changes may have been missed). Entries
 * older than `maxAgeMs` are fetched again (vLCM state the feed cannot see: a new extraction, a
 * changed desired image). A failed fetch is not kept. Entries exist only for clusters the mirror
 * holds: a cluster unknown to it is read without caching, a removed cluster's entry is dropped.
 */
import type { InstalledImageInfo, SoftwareInfo } from '../vsphere/index.ts';
import type { HostChange, MirrorHost, MirrorStatus } from './inventory-mirror.ts';

/** A report and when the gateway asked vCenter for it (ms since the epoch, by the cache's clock). */
export interface ClusterReport<T> {
  value: T;
  fetchedAt: number;
}

/** Why a fetch went to vCenter: first read, dropped by a change or resync, or too old. */
export type FetchReason = 'cold' | 'invalidated' | 'expired';

export interface ReportCacheCounters {
  /** Reads answered from a kept report. */
  hits: number;
  /** Reads that waited for a fetch (started or joined). */
  misses: number;
  /** Fetches sent to vCenter, by reason. */
  fetches: Record<FetchReason, number>;
}

interface Entry<T> {
  report?: ClusterReport<T>;
  inFlight?: Promise<ClusterReport<T>>;
  /** Set when a kept report was dropped: the next fetch counts as a refresh. */
  invalidated?: true;
}

export interface ClusterReportCacheOptions {
  maxAgeMs: number;
  now: () => number;
  /** Whether the mirror holds the cluster now. */
  exists: (cluster: string) => boolean;
}

export class ClusterReportCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  readonly counters: ReportCacheCounters = { hits: 0, misses: 0, fetches: { cold: 0, invalidated: 0, expired: 0 } };

  constructor(
    private readonly fetch: (cluster: string) => Promise<T>,
    private readonly opts: ClusterReportCacheOptions,
  ) {}

  get(cluster: string): Promise<ClusterReport<T>> {
    if (!this.opts.exists(cluster)) {
      // Not in the mirror (an ID for a cluster that is gone or never was): no entry to bound.
      const fetchedAt = this.opts.now();
      return this.fetch(cluster).then((value) => ({ value, fetchedAt }));
    }
    const entry = this.entries.get(cluster);
    if (entry?.report && this.opts.now() - entry.report.fetchedAt <= this.opts.maxAgeMs) {
      this.counters.hits++;
      return Promise.resolve(entry.report);
    }
    this.counters.misses++;
    if (entry?.inFlight) return entry.inFlight;
    const reason: FetchReason = entry?.report ? 'expired' : entry?.invalidated ? 'invalidated' : 'cold';
    this.counters.fetches[reason]++;
    const fetchedAt = this.opts.now();
    const next: Entry<T> = {};
    // An invalidation while the fetch runs replaces `next`: its result is then handed to the
    // readers that were waiting for it but not kept, and later readers fetch again.
    next.inFlight = this.fetch(cluster).then(
      (value) => {
        const report = { value, fetchedAt };
        if (this.entries.get(cluster) === next) {
          next.report = report;
          delete next.inFlight;
        }
        return report;
      },
      (error: unknown) => {
        if (this.entries.get(cluster) === next) this.entries.delete(cluster);
        throw error;
      },
    );
    this.entries.set(cluster, next);
    return next.inFlight;
  }

  /** Drops the cluster's report (and detaches a fetch in flight from the cache). */
  invalidate(cluster: string): void {
    if (this.entries.has(cluster)) this.entries.set(cluster, { invalidated: true });
  }

  invalidateAll(): void {
    for (const cluster of this.entries.keys()) this.entries.set(cluster, { invalidated: true });
  }

  /** Drops the entries of clusters the mirror no longer holds. */
  prune(): void {
    for (const cluster of this.entries.keys()) if (!this.opts.exists(cluster)) this.entries.delete(cluster);
  }

  /** Clusters with an entry (kept, in flight or invalidated): diagnostics and tests. */
  size(): number {
    return this.entries.size;
  }
}

/** What the reports follow: one vCenter's mirror. */
export interface ReportFeed {
  /** Each applied change set's host changes. */
  onHostChanges(listener: (changes: readonly HostChange[]) => void): () => void;
  onUpdate(listener: (status: MirrorStatus) => void): () => void;
  /** Called when the mirror starts a full resync or drops its data. */
  onReset(listener: () => void): () => void;
  hasCluster(moId: string): boolean;
}

/** The vLCM reads the reports make, with the service account's session. */
export interface ReportSource {
  getInstalledImages(cluster: string): Promise<InstalledImageInfo>;
  getDesiredSoftware(cluster: string): Promise<SoftwareInfo>;
}

export interface ClusterReportsOptions {
  /** Oldest report served, default 600,000 ms (10 min). */
  maxAgeMs?: number;
  /** The cache's clock (tests advance it), default Date.now. */
  now?: () => number;
}

export const DEFAULT_IMAGE_CACHE_MAX_AGE_MS = 600_000;

/** The clusters a host change concerns: where the host was and where it is. */
function clustersOf(change: HostChange): string[] {
  const clusterOf = (h: MirrorHost | undefined) => (h?.parent?.type === 'ClusterComputeResource' ? h.parent.value : undefined);
  if (change.kind === 'CHANGED' && !change.fields.some((f) => f === 'CLUSTER' || f === 'BUILD' || f === 'CONNECTION_STATE' || f === 'NAME')) return [];
  return [clusterOf(change.before), clusterOf(change.after)].filter((c): c is string => c !== undefined);
}

/** Both vLCM report caches of one vCenter, invalidated by its mirror. */
export class ClusterReports {
  readonly installedImages: ClusterReportCache<InstalledImageInfo>;
  readonly desiredSoftware: ClusterReportCache<SoftwareInfo>;
  readonly now: () => number;

  constructor(feed: ReportFeed, source: ReportSource, options: ClusterReportsOptions = {}) {
    this.now = options.now ?? Date.now;
    const opts = { maxAgeMs: options.maxAgeMs ?? DEFAULT_IMAGE_CACHE_MAX_AGE_MS, now: this.now, exists: (c: string) => feed.hasCluster(c) };
    this.installedImages = new ClusterReportCache((c) => source.getInstalledImages(c), opts);
    this.desiredSoftware = new ClusterReportCache((c) => source.getDesiredSoftware(c), opts);
    const caches = [this.installedImages, this.desiredSoftware];
    feed.onHostChanges((changes) => {
      for (const change of changes) for (const cluster of clustersOf(change)) for (const cache of caches) cache.invalidate(cluster);
    });
    feed.onUpdate(() => caches.forEach((cache) => cache.prune()));
    feed.onReset(() => caches.forEach((cache) => cache.invalidateAll()));
  }
}
