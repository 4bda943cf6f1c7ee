/**
 * Trusted documents: the front-end example (examples/fleet-client, typed documents from the
 * codegen client preset) against a gateway that runs only the persisted-documents manifest
 * the same codegen run wrote.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleetClient, GatewayError } from '../examples/fleet-client/client.ts';
import { FollowScansDocument, StartHostScanDocument } from '../examples/fleet-client/operations.ts';
import type { Caller, GatewayRole } from '../src/auth/caller.ts';
import { DEFAULT_AUTH, withoutCallerLimits } from '../src/auth/config.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { DEPOT_URLS } from '../src/simulator/index.ts';
import { sseSubscribe, wsSubscribe } from './clients.ts';
import { codes, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const MANIFEST = resolve('examples/fleet-client/generated/persisted-documents.json');
const AD_HOC = '{ clusters { totalCount } }';

let dir: string;
function configWith(trustedDocuments: unknown): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ trustedDocuments }));
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trusted-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe('trusted documents for every caller', () => {
  let h: Harness;
  beforeAll(async () => {
    const { trustedDocuments } = loadConfig(['--config', configWith({ manifest: MANIFEST, enforce: 'all' })], {});
    expect(trustedDocuments!.documents.size).toBe(3);
    h = await startHarness({ size: { vcenters: 2, clustersPerDatacenter: 2, hostsPerCluster: 2 }, patchScanDurationMs: 300 }, undefined, {
      trustedDocuments: trustedDocuments!,
      taskWatcher: { maxWaitSeconds: 5 },
    });
  });
  afterAll(() => h?.close());

  it('runs the example client: lists the fleet, starts a scan and follows it to its end over SSE', async () => {
    const client = createFleetClient(h.url);
    const fleet = await client.fleet();
    expect(fleet.vcenters.map((v) => v.name).sort()).toEqual(h.sim.vcenters.map((v) => v.name).sort());
    expect(fleet.clusters.totalCount).toBe(4);
    const host = fleet.clusters.nodes.flatMap((c) => c.hosts?.nodes ?? []).find((n) => n.connectionState === 'CONNECTED')!;

    const started = await client.request(StartHostScanDocument, { input: { hostIds: [host.id], metaUrls: [DEPOT_URLS[0]!] } });
    expect(started.hostPatchScanStart.userErrors).toEqual([]);
    const id = started.hostPatchScanStart.scans[0]!.id;
    const seen: string[] = [];
    const last = await client.followScans([id], (scan) => seen.push(scan.state));
    expect(last.get(id)).toMatchObject({ id, state: 'SUCCESS', progress: 100, cancelled: false, error: null });
    expect(seen.filter((s) => s === 'SUCCESS')).toHaveLength(1);
  });

  it('follows a persisted subscription over graphql-ws by its hash', async () => {
    const client = createFleetClient(h.url);
    const host = (await client.fleet()).clusters.nodes.flatMap((c) => c.hosts?.nodes ?? []).filter((n) => n.connectionState === 'CONNECTED')[1]!;
    const id = (await client.request(StartHostScanDocument, { input: { hostIds: [host.id], metaUrls: [DEPOT_URLS[0]!] } })).hostPatchScanStart.scans[0]!.id;
    const ws = createClient({ url: h.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    try {
      const states: string[] = [];
      await new Promise<void>((done, fail) => {
        ws.subscribe(
          { query: '', variables: { ids: [id] }, extensions: { persistedQuery: { version: 1, sha256Hash: (FollowScansDocument as any).__meta__.hash } } },
          { next: (event: any) => states.push(event.data?.patchScanUpdated.state ?? JSON.stringify(event.errors)), error: fail, complete: done },
        );
      });
      expect(states.at(-1)).toBe('SUCCESS');
      expect(states.filter((s) => s === 'SUCCESS')).toHaveLength(1);
    } finally {
      await ws.dispose();
    }
  });

  it('refuses ad-hoc documents and unknown hashes on every transport, with typed codes', async () => {
    const adHoc = await post(h.url, { query: AD_HOC });
    expect(adHoc.status).toBe(403);
    expect(codes(adHoc.body)).toEqual(['PERSISTED_QUERY_ONLY']);
    expect(adHoc.body.data).toBeUndefined();

    const unknown = await post(h.url, { extensions: { persistedQuery: { version: 1, sha256Hash: 'sha256:0000' } } });
    expect(unknown.status).toBe(400);
    expect(codes(unknown.body)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);

    const client = createFleetClient(h.url);
    const notPersisted = { ...FollowScansDocument, __meta__: { hash: 'sha256:not-in-the-manifest' } } as typeof FollowScansDocument;
    const error = await client.request(notPersisted, { ids: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).errors.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);

    const sub = `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id } }`;
    const sse = await sseSubscribe(h.url, sub, { ids: [] }, 5_000);
    expect(sse.events.flatMap((e) => (e.errors ?? []).map((x) => x.extensions?.['code']))).toEqual(['PERSISTED_QUERY_ONLY']);
    const ws = await wsSubscribe(h.url, sub, { ids: [] }, 5_000);
    expect(ws.events.flatMap((e) => (e.errors ?? []).map((x) => x.extensions?.['code']))).toEqual(['PERSISTED_QUERY_ONLY']);
  });
});

describe('trusted documents for viewers only', () => {
  let h: Harness;
  const callers: Record<string, GatewayRole[]> = { viewer: ['viewer'], operator: ['viewer', 'operator'] };
  beforeAll(async () => {
    const { trustedDocuments } = loadConfig(['--config', configWith({ manifest: MANIFEST, enforce: 'viewers' })], {});
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 2 } }, undefined, {
      trustedDocuments: trustedDocuments!,
      auth: withoutCallerLimits({ ...DEFAULT_AUTH, mode: 'jwt' }),
      // Stands in for the identity provider: the token names the caller's roles.
      bearer: {
        async authenticate(token: string): Promise<Caller> {
          const roles = callers[token];
          if (!roles) throw new Error('unknown test token');
          return { key: `jwt:test#${token}`, kind: 'jwt', name: token, roles: new Set(roles) };
        },
      },
    });
  });
  afterAll(() => h?.close());

  it('refuses ad-hoc documents from viewers and runs them for operators; both run the manifest', async () => {
    const asViewer = { authorization: 'Bearer viewer' };
    const asOperator = { authorization: 'Bearer operator' };
    expect(codes((await post(h.url, { query: AD_HOC }, asViewer)).body)).toEqual(['PERSISTED_QUERY_ONLY']);
    const operator = await post(h.url, { query: AD_HOC }, asOperator);
    expect(operator.body).toEqual({ data: { clusters: { totalCount: 1 } } });
    for (const headers of [asViewer, asOperator]) {
      expect((await createFleetClient(h.url, headers).fleet()).clusters.totalCount).toBe(1);
    }
  });
});

describe('trusted documents configuration', () => {
  it('names the problem: unknown key, bad mode, missing or malformed manifest', () => {
    const attempt = (entry: unknown) => {
      try {
        loadConfig(['--config', configWith(entry)], {});
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
    };
    expect(attempt({ manifest: MANIFEST, enforce: 'all', manfest: 'x' })).toMatch(/\.json: unknown key "trustedDocuments\.manfest" \(did you mean "manifest"\?\)$/);
    expect(attempt({ manifest: MANIFEST, enforce: 'anyone' })).toMatch(/enforce must be "all" or "viewers"/);
    expect(attempt({ enforce: 'all' })).toMatch(/trustedDocuments.manifest must be a non-empty string/);
    expect(attempt({ manifest: 'missing.json' })).toMatch(/\.json: trustedDocuments\.manifest: cannot read \/.*\/missing\.json \(ENOENT\)$/);
    const notAManifest = join(dir, 'list.json');
    writeFileSync(notAManifest, '["query { a }"]');
    expect(attempt({ manifest: notAManifest })).toMatch(/must be a JSON object of hash → document/);
  });
});
