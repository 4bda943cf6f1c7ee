/**
 * The naive baseline of scenario 1: the fleet query's data fetched the way a hand-written script
 * or a generated REST-to-GraphQL gateway fetches it, through the SAME upstream client
 * (VCenterClient: undici pool, sessions, per-vCenter concurrency cap of 16) as the gateway.
 *
 * Per vCenter: `GET /api/vcenter/cluster`; per cluster: `GET /api/vcenter/host?clusters=X`
 * (name, connection and power state) and `GET .../installed-images`; per host: one property
 * read, `GET /sdk/vim25/{release}/HostSystem/{id}/summary` (HostListSummary carries both
 * `config.product` and `runtime.inMaintenanceMode`, so one read per host is enough; `config`
 * would not carry maintenance mode).
 *
 * Two schedules of those same calls:
 *  - `sequential`: a script, one call after another (vCenters, clusters, hosts in order). A
 *    strawman: nobody who knows vSphere reads hosts one by one; reported as such;
 *  - `parallel`: a generated gateway resolving each field level in parallel (N+1, no batching):
 *    all vCenters at once, every cluster's hosts and images at once, every host's read at once,
 *    queued by the client's per-vCenter cap like the gateway's own calls.
 * And the script people who know vSphere write (`batched`), one call after another like
 * `sequential` but batched the way govc and PowerCLI read inventory: per vCenter one
 * RetrievePropertiesEx over a HostSystem container view for every host's properties (govc's
 * `view.Manager` + `Retrieve`; PowerCLI's `Get-VMHost` is a filtered view read too), the REST
 * cluster list, then each cluster's installed images (no batch form exists), in turn. The view is
 * created once while warming, as a long-running govmomi program keeps it.
 * The result is assembled into the same shape as the gateway's answer, so all do the same work.
 */
import { VCenterClient } from '../src/vsphere/index.ts';
import type { VCenterEndpoint } from '../src/vsphere/index.ts';
import { HOST_PROPERTIES, hostRecord } from '../src/graphql/loaders.ts';

export type BaselineMode = 'sequential' | 'parallel' | 'batched';

interface HostOut {
  moId: string;
  name: string;
  connectionState: string;
  powerState: string;
  inMaintenanceMode: boolean | undefined;
  product: unknown;
  installedImage: unknown;
}

/** Same join the gateway makes: each host's image from its cluster's installed-images report. */
function joinImages(hosts: HostOut[], images: any): void {
  const categories = images?.image_categories;
  if (!categories) return;
  const candidates = [...(categories.host_image_list ?? []), categories.most_widely_used_image, categories.highest_versioned_image];
  for (const h of hosts) h.installedImage = candidates.find((i: any) => i?.host_list?.includes(h.moId))?.software_info?.base_image ?? null;
}

export class Baseline {
  readonly clients: VCenterClient[];

  constructor(endpoints: VCenterEndpoint[]) {
    this.clients = endpoints.map((e) => new VCenterClient(e));
  }

  /** Logs in to both APIs and discovers the VI/JSON release, so timed runs start warm like the gateway's. */
  async warm(): Promise<void> {
    await Promise.all(
      this.clients.map(async (c) => {
        const clusters = await c.listClusters();
        const first = clusters[0];
        if (first) {
          const hosts = await c.listHosts({ clusters: [first.cluster] });
          if (hosts[0]) await c.getProperty('HostSystem', hosts[0].host, 'summary');
        }
        await c.containerView('HostSystem');
      }),
    );
  }

  async run(mode: BaselineMode): Promise<{ clusters: number; hosts: number }> {
    if (mode === 'batched') return this.runBatched();
    let clusterCount = 0;
    let hostCount = 0;
    const perVcenter = async (c: VCenterClient) => {
      const clusters = await c.listClusters();
      clusterCount += clusters.length;
      const perCluster = async (cl: (typeof clusters)[number]) => {
        const readHost = async (h: { host: string; name: string; connection_state: string; power_state?: string }): Promise<HostOut> => {
          const summary = (await c.getProperty<any>('HostSystem', h.host, 'summary')) ?? {};
          return {
            moId: h.host,
            name: h.name,
            connectionState: h.connection_state,
            powerState: h.power_state ?? 'UNKNOWN',
            inMaintenanceMode: summary?.runtime?.inMaintenanceMode,
            product: summary?.config?.product,
            installedImage: undefined,
          };
        };
        let hosts: HostOut[];
        let images: any;
        if (mode === 'sequential') {
          const list = await c.listHosts({ clusters: [cl.cluster] });
          hosts = [];
          for (const h of list) hosts.push(await readHost(h));
          images = await c.getInstalledImages(cl.cluster).catch((e: unknown) => e);
        } else {
          const [list, img] = await Promise.all([
            c.listHosts({ clusters: [cl.cluster] }),
            c.getInstalledImages(cl.cluster).catch((e: unknown) => e),
          ]);
          images = img;
          hosts = await Promise.all(list.map(readHost));
        }
        joinImages(hosts, images);
        hostCount += hosts.length;
        return { id: cl.cluster, name: cl.name, hosts, installedImages: images };
      };
      if (mode === 'sequential') {
        const out = [];
        for (const cl of clusters) out.push(await perCluster(cl));
        return out;
      }
      return Promise.all(clusters.map(perCluster));
    };
    if (mode === 'sequential') {
      for (const c of this.clients) await perVcenter(c);
    } else {
      await Promise.all(this.clients.map(perVcenter));
    }
    return { clusters: clusterCount, hosts: hostCount };
  }

  private async runBatched(): Promise<{ clusters: number; hosts: number }> {
    let clusterCount = 0;
    let hostCount = 0;
    for (const c of this.clients) {
      const objects = await c.retrieveAll('HostSystem', [...HOST_PROPERTIES]);
      const byCluster = new Map<string, HostOut[]>();
      for (const o of objects) {
        const h = hostRecord(c.name, o);
        const list = byCluster.get(h.parent?.value ?? '') ?? [];
        list.push({ moId: h.moId, name: h.name, connectionState: h.connectionState, powerState: h.powerState ?? 'UNKNOWN', inMaintenanceMode: h.inMaintenanceMode, product: h.product, installedImage: undefined });
        byCluster.set(h.parent?.value ?? '', list);
      }
      const clusters = await c.listClusters();
      clusterCount += clusters.length;
      for (const cl of clusters) {
        const images = await c.getInstalledImages(cl.cluster).catch((e: unknown) => e);
        const hosts = byCluster.get(cl.cluster) ?? [];
        joinImages(hosts, images);
        hostCount += hosts.length;
      }
    }
    return { clusters: clusterCount, hosts: hostCount };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.close()));
  }
}
