/**
 * The inventory mirrors of every vCenter behind the gateway: one InventoryMirror per vCenter,
 * started together, closed together, and one stream of host changes across all of them.
 */
import type { Logger } from '../log.ts';
import type { VCenterClient } from '../vsphere/index.ts';
import { ClusterReports } from './cluster-reports.ts';
import { InventoryMirror } from './inventory-mirror.ts';
import type { HostChange, InventoryMirrorOptions } from './inventory-mirror.ts';

export * from './inventory-mirror.ts';
export * from './cluster-reports.ts';

export class InventoryMirrors {
  private readonly byName: Map<string, InventoryMirror>;
  private readonly reportsByName: Map<string, ClusterReports>;
  private closing: Promise<void> | undefined;
  private markClosed!: () => void;
  /** Resolves when close() begins: followers of host changes end their streams then. */
  readonly closed = new Promise<void>((resolve) => (this.markClosed = resolve));

  constructor(clients: readonly VCenterClient[], options: InventoryMirrorOptions & { logger?: Logger } = {}) {
    this.byName = new Map(clients.map((client) => [client.name, new InventoryMirror(client, options)]));
    const reportOptions = {
      ...(options.imageCacheMaxAgeMs !== undefined ? { maxAgeMs: options.imageCacheMaxAgeMs } : {}),
      ...(options.imageCacheClock ? { now: options.imageCacheClock } : {}),
    };
    this.reportsByName = new Map(clients.map((client) => [client.name, new ClusterReports(this.byName.get(client.name)!, client, reportOptions)]));
  }

  /** The cached installed-images and desired-software reports of a vCenter's clusters (service account). */
  reports(vcenter: string): ClusterReports | undefined {
    return this.reportsByName.get(vcenter);
  }

  start(): void {
    for (const mirror of this.byName.values()) mirror.start();
  }

  get(vcenter: string): InventoryMirror | undefined {
    return this.byName.get(vcenter);
  }

  list(): InventoryMirror[] {
    return [...this.byName.values()];
  }

  /** Host changes of every vCenter, each vCenter's in the order it applied them. Returns the unsubscribe. */
  onHostChange(listener: (change: HostChange) => void): () => void {
    const offs = this.list().map((m) => m.onHostChange(listener));
    return () => offs.forEach((off) => off());
  }

  close(): Promise<void> {
    this.markClosed();
    this.closing ??= Promise.allSettled(this.list().map((m) => m.close())).then(() => undefined);
    return this.closing;
  }
}
