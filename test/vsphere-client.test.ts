/**
 * Integration tests of the upstream clients against the embedded vCenter simulator, over real
 * HTTPS on loopback with certificate verification on (the simulator's CA is passed as caPem).
 */
import { rootCertificates } from 'node:tls';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';
import { startSimulator } from '../src/simulator/index.ts';
import {
  UpstreamError,
  VCenterClient,
  moRef,
  propsOf,
  type ManagedObjectReference,
  type PropertyFilterSpec,
  type VCenterEndpoint,
} from '../src/vsphere/index.ts';

type Sim = Awaited<ReturnType<typeof startSimulator>>;

let sim: Sim;
const clients: VCenterClient[] = [];
const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };

function endpoint(i = 0, over: Partial<VCenterEndpoint> = {}): VCenterEndpoint {
  const vc = sim.vcenters[i]!;
  return { name: vc.name, url: vc.url, username: sim.username, password: sim.password, caPem: sim.caPem, timeoutMs: 5_000, ...over };
}

function client(i = 0, over: Partial<VCenterEndpoint> = {}, logger = createLogger({ write: () => {} })): VCenterClient {
  const c = new VCenterClient(endpoint(i, over), { logger, retry: FAST_RETRY });
  clients.push(c);
  return c;
}

async function expectUpstream(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UpstreamError);
    return e as UpstreamError;
  }
  throw new Error('expected an UpstreamError');
}

function sorted<T>(xs: T[]): T[] {
  return [...xs].sort();
}

beforeAll(async () => {
  sim = await startSimulator({ seed: 1, size: { vcenters: 2, clustersPerDatacenter: 3, hostsPerCluster: 4 } });
});

afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  for (const vc of sim.vcenters) vc.setLatency(0);
});

afterAll(async () => {
  await sim?.close();
});

describe('REST', () => {
  it('lists clusters, with filters sent as repeated query parameters', async () => {
    const inv = sim.vcenters[0]!.inventory;
    const c = client(0);
    const all = await c.listClusters();
    expect(sorted(all.map((x) => x.cluster))).toEqual(sorted(inv.clusters.map((x) => x.moId)));
    for (const s of all) {
      const sc = inv.clusterById.get(s.cluster)!;
      expect(s).toMatchObject({ name: sc.name, ha_enabled: sc.haEnabled, drs_enabled: sc.drsEnabled });
    }
    const two = inv.clusters.slice(0, 2).map((x) => x.moId);
    expect(sorted((await c.listClusters({ clusters: two })).map((x) => x.cluster))).toEqual(sorted(two));
    const byName = await c.listClusters({ names: [inv.clusters[2]!.name] });
    expect(byName.map((x) => x.cluster)).toEqual([inv.clusters[2]!.moId]);
    const dc = inv.datacenters[0]!;
    expect(sorted((await c.listClusters({ datacenters: [dc.moId] })).map((x) => x.cluster))).toEqual(sorted(dc.clusters));
  });

  it('lists hosts, filtered by cluster, name and connection state', async () => {
    const inv = sim.vcenters[0]!.inventory;
    const c = client(0);
    const all = await c.listHosts();
    expect(all).toHaveLength(inv.hosts.length);
    const cl = inv.clusters[0]!;
    expect(sorted((await c.listHosts({ clusters: [cl.moId] })).map((h) => h.host))).toEqual(sorted(cl.hosts));
    const h0 = inv.hosts[0]!;
    const byName = await c.listHosts({ names: [h0.name] });
    expect(byName.map((h) => h.host)).toEqual([h0.moId]);
    const disconnected = inv.hosts.filter((h) => h.connectionState === 'disconnected').map((h) => h.moId);
    const ds = await c.listHosts({ connectionStates: ['DISCONNECTED'] });
    expect(sorted(ds.map((h) => h.host))).toEqual(sorted(disconnected));
    for (const h of ds) expect(h.connection_state).toBe('DISCONNECTED');
    const connected = await c.listHosts({ connectionStates: ['CONNECTED'] });
    for (const h of connected) expect(h.connection_state).toBe('CONNECTED');
    expect(await c.listHosts({ standalone: true })).toEqual([]);
  });

  it('reads installed images and desired software; unknown cluster → NOT_FOUND', async () => {
    const inv = sim.vcenters[0]!.inventory;
    const c = client(0);
    const cl = inv.clusters.find((x) => x.managedBySingleImage)!;
    const info = await c.getInstalledImages(cl.moId);
    expect(info.status).toBe(cl.installedImages.status);
    expect(sorted(Object.keys(info.host_info))).toEqual(sorted(cl.hosts));
    expect(typeof info.image_categories.is_highest_and_widely_used_image_equal).toBe('boolean');
    const sw = await c.getDesiredSoftware(cl.moId);
    expect(sw.base_image.version).toBe(cl.desiredImage!.release.baseImageVersion);
    expect(typeof sw.components).toBe('object');

    const nf = await expectUpstream(c.getInstalledImages('domain-c999999'));
    expect(nf).toMatchObject({ code: 'NOT_FOUND', api: 'rest', status: 404, vcenter: inv.name, retryable: false });
    expect(nf.fault).toBe('NOT_FOUND');
    const notManaged = inv.clusters.find((x) => !x.managedBySingleImage);
    if (notManaged) {
      const e = await expectUpstream(c.getDesiredSoftware(notManaged.moId));
      expect(e.code).toBe('NOT_FOUND');
    }
  });
});

describe('VI/JSON', () => {
  it('discovers the release from about.apiVersion and uses it for every later call', async () => {
    const vc = sim.vcenters[1]!;
    const lines: string[] = [];
    const c = client(1, {}, createLogger({ level: 'debug', write: (l) => lines.push(l) }));
    const sc = await c.serviceContent();
    const about = await c.about();
    expect(about.apiVersion).toBe(vc.inventory.apiVersion);
    expect(sc.rootFolder).toEqual(moRef('Folder', vc.inventory.rootFolder));
    expect(await c.serviceContent()).toBe(sc); // cached
    await c.retrieveAll('HostSystem', ['name']);
    const vimPaths = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.msg === 'upstream request' && r.api === 'vim')
      .map((r) => r.path as string);
    expect(vimPaths[0]).toBe('/sdk/vim25/8.0.1.0/ServiceInstance/ServiceInstance/content');
    expect(vimPaths.length).toBeGreaterThan(2);
    for (const p of vimPaths.slice(1)) expect(p.startsWith(`/sdk/vim25/${about.apiVersion}/`)).toBe(true);
    // the secrets never reach the log
    const log = lines.join('\n');
    expect(log).not.toContain(sim.password);
  });

  it('retrieveProperties follows traversal specs and pages with ContinueRetrievePropertiesEx', async () => {
    const vc = sim.vcenters[0]!;
    const inv = vc.inventory;
    const c = client(0);
    const sc = await c.serviceContent();
    // full inventory traversal from the root folder to every host
    const spec: PropertyFilterSpec = {
      propSet: [{ type: 'HostSystem', pathSet: ['name', 'runtime.connectionState'] }],
      objectSet: [
        {
          obj: sc.rootFolder,
          skip: true,
          selectSet: [
            { name: 'folder', type: 'Folder', path: 'childEntity', skip: false, selectSet: [{ name: 'folder' }, { name: 'dcHost' }, { name: 'crHost' }] },
            { name: 'dcHost', type: 'Datacenter', path: 'hostFolder', skip: false, selectSet: [{ name: 'folder' }] },
            { name: 'crHost', type: 'ComputeResource', path: 'host', skip: false },
          ],
        },
      ],
    };
    vc.resetStats();
    const objs = await c.retrieveProperties([spec], { maxObjects: 3 });
    expect(sorted(objs.map((o) => o.obj.value))).toEqual(sorted(inv.hosts.map((h) => h.moId)));
    for (const o of objs) {
      const p = propsOf(o);
      const h = inv.hostById.get(o.obj.value)!;
      expect(p.name).toBe(h.name);
      expect(p['runtime.connectionState']).toBe(h.connectionState);
    }
    const stats = vc.stats();
    const continues = Object.entries(stats.requests).filter(([k]) => k.includes('ContinueRetrievePropertiesEx')).reduce((n, [, v]) => n + v, 0);
    // (how many pages follow the first is server policy; at least one must)
    expect(continues).toBeGreaterThanOrEqual(1);

    // a cluster's hosts via ComputeResource.host
    const cl = inv.clusters[1]!;
    const hosts = await c.retrieveProperties([
      {
        propSet: [{ type: 'HostSystem', pathSet: ['name'] }],
        objectSet: [{ obj: moRef('ClusterComputeResource', cl.moId), skip: true, selectSet: [{ type: 'ComputeResource', path: 'host', skip: false }] }],
      },
    ]);
    expect(sorted(hosts.map((o) => o.obj.value))).toEqual(sorted(cl.hosts));
  });

  it('retrieveAll uses one container view per type per session', async () => {
    const vc = sim.vcenters[0]!;
    const inv = vc.inventory;
    const c = client(0);
    vc.resetStats();
    const [a, b] = await Promise.all([
      c.retrieveAll('HostSystem', ['name', 'runtime.powerState']),
      c.retrieveAll('HostSystem', ['name'], { maxObjects: 5 }),
    ]);
    expect(sorted(a.map((o) => o.obj.value))).toEqual(sorted(inv.hosts.map((h) => h.moId)));
    expect(b).toHaveLength(inv.hosts.length);
    const clusters = await c.retrieveAll('ClusterComputeResource', ['name']);
    expect(sorted(clusters.map((o) => propsOf(o).name as string))).toEqual(sorted(inv.clusters.map((x) => x.name)));
    const views = Object.entries(vc.stats().requests).filter(([k]) => k.includes('CreateContainerView')).reduce((n, [, v]) => n + v, 0);
    expect(views).toBe(2);
    const view = await c.containerView('HostSystem');
    expect(view.type).toBe('ContainerView');
  });

  it('getProperty and invoke: decoded values, faults mapped', async () => {
    const inv = sim.vcenters[0]!.inventory;
    const c = client(0);
    const host = inv.hosts[0]!;
    const cm = await c.getProperty<{ patchManager?: ManagedObjectReference }>('HostSystem', host.moId, 'configManager');
    expect(cm.patchManager?.type).toBe('HostPatchManager');
    const clusterHosts = await c.getProperty<ManagedObjectReference[]>('ClusterComputeResource', inv.clusters[0]!.moId, 'host');
    expect(sorted(clusterHosts.map((h) => h.value))).toEqual(sorted(inv.clusters[0]!.hosts));
    const e = await expectUpstream(c.getProperty('HostSystem', 'host-does-not-exist', 'configManager'));
    expect(e.api).toBe('vim');
    expect(e.code).toBe('NOT_FOUND');
    const bad = await expectUpstream(
      c.retrieveProperties([{ propSet: [{ type: 'HostSystem', pathSet: ['no.such.property'] }], objectSet: [{ obj: moRef('HostSystem', host.moId) }] }]),
    );
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.fault).toBe('InvalidProperty');
  });
});

describe('sessions', () => {
  it('reuses one session per API for many parallel calls', async () => {
    const vc = sim.vcenters[0]!;
    vc.resetStats();
    const c = client(0);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) calls.push(c.listClusters(), c.retrieveAll('HostSystem', ['name']));
    await Promise.all(calls);
    const s = vc.stats();
    expect(s.logins).toEqual({ rest: 1, vim: 1 });
    expect(c.diagnostics().logins).toEqual({ rest: 1, vim: 1 });
    await c.listHosts();
    expect(vc.stats().logins).toEqual({ rest: 1, vim: 1 });
  });

  it('renews an expired session once for all requests that saw it', async () => {
    const vc = sim.vcenters[0]!;
    const c = client(0);
    await Promise.all([c.listClusters(), c.retrieveAll('HostSystem', ['name'])]);
    vc.resetStats();
    vc.expireSessions();
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) calls.push(c.listHosts(), c.retrieveAll('HostSystem', ['name']));
    const results = await Promise.all(calls);
    expect(results).toHaveLength(20);
    for (const r of results) expect((r as unknown[]).length).toBeGreaterThan(0);
    expect(vc.stats().logins).toEqual({ rest: 1, vim: 1 });
    expect(vc.stats().liveSessions).toEqual({ rest: 1, vim: 1 });
  });

  it('wrong password → UNAUTHENTICATED on both APIs, no secret in the message, no login loop', async () => {
    const vc = sim.vcenters[0]!;
    vc.resetStats();
    const password = 'wrong-Passw0rd!';
    const c = client(0, { password });
    const r = await expectUpstream(c.listClusters());
    expect(r).toMatchObject({ code: 'UNAUTHENTICATED', api: 'rest', status: 401 });
    const v = await expectUpstream(c.retrieveAll('HostSystem', ['name']));
    expect(v).toMatchObject({ code: 'UNAUTHENTICATED', api: 'vim', fault: 'InvalidLogin' });
    for (const e of [r, v]) {
      expect(e.message).not.toContain(password);
      expect(e.message).not.toContain(sim.password);
      expect(e.message).not.toMatch(/basic /i);
    }
    expect(vc.stats().failedLogins).toEqual({ rest: 1, vim: 1 });
    expect(vc.stats().logins).toEqual({ rest: 0, vim: 0 });
  });

  it('close() logs out of both APIs', async () => {
    const vc = sim.vcenters[1]!;
    const before = vc.stats().liveSessions;
    const c = client(1);
    await Promise.all([c.listClusters(), c.retrieveAll('HostSystem', ['name'])]);
    expect(vc.stats().liveSessions).toEqual({ rest: before.rest + 1, vim: before.vim + 1 });
    await c.close();
    expect(vc.stats().liveSessions).toEqual(before);
    const e = await expectUpstream(c.listClusters());
    expect(e.code).toBe('VCENTER_UNAVAILABLE');
  });
});

describe('transport failures', () => {
  it('unreachable port → VCENTER_UNAVAILABLE', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const c = client(0, { url: `https://127.0.0.1:${port}` });
    const e = await expectUpstream(c.listClusters());
    expect(e.code).toBe('VCENTER_UNAVAILABLE');
    expect(e.retryable).toBe(true);
    const v = await expectUpstream(c.about());
    expect(v.code).toBe('VCENTER_UNAVAILABLE');
    expect(v.api).toBe('vim');
  });

  it('slow vCenter → UPSTREAM_TIMEOUT quickly', async () => {
    const vc = sim.vcenters[0]!;
    vc.setLatency(5_000);
    const c = client(0, { timeoutMs: 200 });
    const t0 = Date.now();
    const e = await expectUpstream(c.about());
    expect(e.code).toBe('UPSTREAM_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(2_000);
    const r = await expectUpstream(c.listClusters());
    expect(r.code).toBe('UPSTREAM_TIMEOUT');
  });

  it('no CA → TLS_ERROR with a hint', async () => {
    const c = client(0, { caPem: undefined });
    const e = await expectUpstream(c.listClusters());
    expect(e.code).toBe('TLS_ERROR');
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/CA/);
    // The operator's configuration key, not an internal name.
    expect(e.message).toContain('caFile');
    expect(e.message).not.toContain('caPem');
  });

  it('caPin trusts only the given CA: the simulator CA works, another CA is refused', async () => {
    const pinned = client(0, { caPin: true });
    expect((await pinned.listClusters()).length).toBeGreaterThan(0);
    const other = client(0, { caPem: rootCertificates[0], caPin: true });
    expect((await expectUpstream(other.listClusters())).code).toBe('TLS_ERROR');
  });

  it('insecure: true skips verification and warns', async () => {
    const lines: string[] = [];
    const c = client(0, { caPem: undefined, insecure: true }, createLogger({ write: (l) => lines.push(l) }));
    expect(lines.some((l) => l.includes('"level":"warn"') && l.includes('DISABLED'))).toBe(true);
    expect((await c.listClusters()).length).toBeGreaterThan(0);
  });

  it('holds the per-vCenter concurrency cap', async () => {
    const vc = sim.vcenters[0]!;
    const c = client(0, { maxConcurrentRequests: 3 });
    await Promise.all([c.listClusters(), c.about()]);
    vc.setLatency(40);
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? c.listHosts() : c.retrieveAll('HostSystem', ['name']))));
    expect(c.diagnostics().peakInFlight).toBeLessThanOrEqual(3);
    expect(c.diagnostics().peakInFlight).toBe(3);
    // at least 12+ requests of 40 ms through 3 slots
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4 * 40 - 10);
  });
});

describe('a vCenter older than 8.0 U1 (simulated: no VI/JSON API)', () => {
  it('VI/JSON calls fail with VIM_API_UNAVAILABLE while REST still works', async () => {
    const old = await startSimulator({ seed: 2, size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 }, perVcenter: [{ vimJson: false }] });
    try {
      const vc = old.vcenters[0]!;
      const c = new VCenterClient(
        { name: vc.name, url: vc.url, username: old.username, password: old.password, caPem: old.caPem, timeoutMs: 5_000 },
        { retry: FAST_RETRY },
      );
      clients.push(c);
      const e = await expectUpstream(c.about());
      expect(e).toMatchObject({ code: 'VIM_API_UNAVAILABLE', api: 'vim', status: 404 });
      const e2 = await expectUpstream(c.retrieveAll('HostSystem', ['name']));
      expect(e2.code).toBe('VIM_API_UNAVAILABLE');
      expect((await c.listClusters()).length).toBe(1);
      await c.close();
    } finally {
      await old.close();
    }
  });
});
