/**
 * /metrics on a port of its own (`metrics.port`): served only there, 404 on the GraphQL port,
 * and the listener closed with the gateway. Over real HTTP on 127.0.0.1 against the simulator.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simStatsOverHttp, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';
import { parseMetrics } from './http-helpers.ts';

let h: Harness;
let metricsOrigin: string;
beforeAll(async () => {
  h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 2, hostsPerCluster: 1 } }, undefined, { metrics: { port: 0, host: '127.0.0.1' } });
  const address = h.gateway.metricsServer!.address() as AddressInfo;
  metricsOrigin = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => h?.close());

describe('metrics on a separate port', () => {
  it('serves the series on the metrics port only: 404 on the GraphQL port, which still serves GraphQL and probes', async () => {
    const mainOrigin = h.url.replace(/\/graphql$/, '');
    expect(new URL(metricsOrigin).port).not.toBe(new URL(mainOrigin).port);
    const answer = await h.gql('query ClusterCount { clusters { totalCount } }');
    expect(answer).toEqual({ data: { clusters: { totalCount: 2 } } });
    const upstream = await simStatsOverHttp(h.sim, h.sim.vcenters[0]!.url);
    const clusterListings = upstream.requests['GET /api/vcenter/cluster'] ?? 0;
    expect(clusterListings).toBeGreaterThan(0);

    const onMain = await fetch(`${mainOrigin}/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(onMain.status).toBe(404);
    expect(await onMain.text()).not.toContain('gateway_');
    expect((await fetch(`${mainOrigin}/healthz`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);

    const scrape = await fetch(`${metricsOrigin}/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toContain('text/plain');
    const samples = parseMetrics(await scrape.text());
    const value = (name: string, labels: Record<string, string>) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
    expect(value('gateway_graphql_operations_total', { operation: 'ClusterCount', type: 'query' })).toBe(1);
    const vcenter = h.sim.vcenters[0]!.name;
    expect(value('gateway_upstream_requests_total', { vcenter, route: '/api/vcenter/cluster', status: '200' })).toBe(clusterListings);

    // The metrics port answers nothing else: not GraphQL, not the probes.
    for (const path of ['/graphql', '/healthz', '/']) expect((await fetch(`${metricsOrigin}${path}`, { signal: AbortSignal.timeout(10_000) })).status, path).toBe(404);
    expect((await fetch(`${metricsOrigin}/metrics`, { method: 'POST', signal: AbortSignal.timeout(10_000) })).status).toBe(405);
  });

  it('closes the metrics listener when the gateway closes', async () => {
    // A second gateway of its own, so closing it leaves the shared one running.
    const own = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } }, undefined, { metrics: { port: 0, host: '127.0.0.1' } });
    const port = (own.gateway.metricsServer!.address() as AddressInfo).port;
    // A keep-alive connection to the metrics port must not hold the close up.
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    await own.close();
    expect(own.gateway.metricsServer!.listening).toBe(false);
    const refused = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) }).then(
      () => 'answered',
      (error: Error) => ((error.cause as NodeJS.ErrnoException | undefined)?.code ?? error.message),
    );
    expect(refused).toBe('ECONNREFUSED');
  });
});
