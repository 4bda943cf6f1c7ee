/**
 * Identical subscriptions share one execution (src/graphql/shared-subscriptions.ts): the
 * first state is read upstream once, each change is executed once, and every subscriber still
 * gets its own complete stream, whatever the others do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as simulator from '../src/simulator/index.ts';
import { anonymousCaller } from '../src/auth/caller.ts';
import type { Caller } from '../src/auth/caller.ts';
import { canonicalVariables } from '../src/graphql/shared-subscriptions.ts';
import { readEventStream, sseSubscribe, wsFollow, wsSubscribe } from './clients.ts';
import type { StreamResult } from './clients.ts';
import { eventually, startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const DEPOT: string = (simulator as { DEPOT_URLS?: readonly string[] }).DEPOT_URLS?.[0] ?? 'https://depot.example/esxi-8.0u3/metadata.zip';
const SUBSCRIPTION = `subscription($ids: [ID!]!) { patchScanUpdated(ids: $ids) { id state progress } }`;
const START = `mutation($input: HostPatchScanStartInput!) { hostPatchScanStart(input: $input) { scans { id } userErrors { code message } } }`;
const READ_ROUTE = 'POST /sdk/vim25/{release}/PropertyCollector/{moId}/RetrievePropertiesEx';
const CANCEL = `mutation($id: ID!) { patchScanCancel(input: { id: $id }) { userErrors { code message } } }`;
const isTerminal = (e: any) => ['SUCCESS', 'ERROR'].includes(e.data?.patchScanUpdated?.state);
const scanOf = (e: any): string | undefined => e.data?.patchScanUpdated?.id;

async function cancel(h: Harness, id: string): Promise<void> {
  const res = await h.gql(CANCEL, { id });
  expect(res.data.patchScanCancel.userErrors).toEqual([]);
}

/** Resolves once `count` calls of the returned callback have happened. */
function countdown(count: number): { tick: () => void; done: Promise<void> } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  let left = count;
  if (left === 0) resolve();
  return { tick: () => --left === 0 && resolve(), done };
}

async function startScans(h: Harness, count: number): Promise<string[]> {
  const hosts = await h.gql(`{ hosts(first: 100, filter: { connectionStates: [CONNECTED] }) { nodes { id } } }`);
  const res = await h.gql(START, { input: { hostIds: hosts.data.hosts.nodes.slice(0, count).map((x: any) => x.id), metaUrls: [DEPOT] } });
  expect(res.data.hostPatchScanStart.userErrors).toEqual([]);
  return res.data.hostPatchScanStart.scans.map((s: any) => s.id);
}

describe('identical subscriptions share one execution', () => {
  let h: Harness;
  beforeAll(async () => {
    // Scans run 10 s (a progress step a second) and the tests end them by cancelling: nothing
    // depends on how fast subscribers connect on a busy machine.
    h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 4 }, patchScanDurationMs: 10_000 }, undefined, {
      taskWatcher: { maxWaitSeconds: 5 },
    });
  });
  afterAll(() => h?.close());

  it('reads the first state upstream once for 100 subscribers over SSE and graphql-ws, and each gets every terminal state once', async () => {
    const ids = await startScans(h, 3);
    const vc = h.sim.vcenters[0]!;
    vc.resetStats();
    // Everybody has joined once each has the first state of the three scans.
    const joined = countdown(100);
    const streams = Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const seen = new Set<string>();
        const onEvent = (e: any) => {
          const before = seen.size;
          seen.add(scanOf(e)!);
          if (before === 2 && seen.size === 3) joined.tick();
        };
        return (i % 2 ? sseSubscribe : wsSubscribe)(h.url, SUBSCRIPTION, { ids }, 30_000, onEvent);
      }),
    );
    await joined.done;
    // Without sharing this would be 100: one first-state read per subscriber.
    expect(vc.stats().requests[READ_ROUTE]).toBe(1);
    for (const id of ids) await cancel(h, id);
    for (const stream of await streams) {
      expect(stream.completed).toBe(true);
      const terminal = stream.events.filter(isTerminal).map(scanOf);
      expect(terminal.sort()).toEqual([...ids].sort());
    }
    await eventually(() => (vc.stats() as any).liveFilters === 0);
  });

  it('gives a late joiner the state of every followed scan, the finished ones too, then the changes', async () => {
    const [done, running] = await startScans(h, 2);
    const first = wsFollow(h.url, SUBSCRIPTION, { ids: [done, running] });
    try {
      await first.waitFor((e) => scanOf(e) === running);
      await cancel(h, done!);
      const finished = first.events.indexOf(await first.waitFor((e) => scanOf(e) === done && isTerminal(e)));
      // The newest result of the shared stream is about the other scan now.
      await first.waitFor((e) => scanOf(e) === running, finished + 1);

      const late = wsFollow(h.url, SUBSCRIPTION, { ids: [done, running] });
      try {
        const lateTerminal = await late.waitFor((e) => scanOf(e) === done);
        expect(lateTerminal.data.patchScanUpdated.state).toBe('ERROR');
        await late.waitFor((e) => scanOf(e) === running);
        await cancel(h, running!);
        for (const sub of [first, late]) {
          await sub.waitFor((e) => scanOf(e) === running && isTerminal(e));
          await eventually(() => sub.completed());
          const terminal = sub.events.filter(isTerminal).map(scanOf);
          expect(terminal.sort()).toEqual([done, running].sort());
        }
      } finally {
        await late.leave();
      }
    } finally {
      await first.leave();
    }
  });

  it('shares one execution between the same scan set in any order and with repeats, never between two callers', async () => {
    const [a, b] = await startScans(h, 2);
    const vc = h.sim.vcenters[0]!;
    vc.resetStats();
    const alice = anonymousCaller('192.0.2.1');
    const bob = anonymousCaller('192.0.2.2');
    const joined = countdown(3);
    // The caller comes from the server context, as an authentication mode will hand it over.
    const subscribeAs = (caller: Caller, ids: string[]): Promise<StreamResult> => {
      const seen = new Set<string>();
      return Promise.resolve(
        h.gateway.yoga.fetch(
          'http://gateway.test/graphql',
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
            body: JSON.stringify({ query: SUBSCRIPTION, variables: { ids } }),
          },
          { caller },
        ),
      ).then((response) =>
          readEventStream(response as unknown as Response, (e) => {
            seen.add(scanOf(e)!);
            if (seen.size === 2 && seen.add('joined')) joined.tick();
          }),
        );
    };
    const streams = Promise.all([subscribeAs(alice, [a!, b!]), subscribeAs(alice, [b!, a!, b!]), subscribeAs(bob, [a!, b!])]);
    await joined.done;
    // One first-state read for alice's two subscriptions, one for bob's.
    expect(vc.stats().requests[READ_ROUTE]).toBe(2);
    await cancel(h, a!);
    await cancel(h, b!);
    for (const stream of await streams) {
      expect(stream.completed).toBe(true);
      expect(stream.events.filter(isTerminal).map(scanOf).sort()).toEqual([a, b].sort());
    }
  });

  it('keys variables with string lists as sets and object keys in order', () => {
    expect(canonicalVariables({ ids: ['b', 'a', 'b'] })).toBe(canonicalVariables({ ids: ['a', 'b'] }));
    expect(canonicalVariables({ x: 1, ids: ['a'] })).toBe(canonicalVariables({ ids: ['a'], x: 1 }));
    expect(canonicalVariables({ ids: ['a'] })).not.toBe(canonicalVariables({ ids: ['a', 'b'] }));
    expect(canonicalVariables(undefined)).toBe('{}');
  });

  it('keeps the stream of those who stay when one leaves, gives a late joiner the current state, and stops once the last leaves', async () => {
    const [scan] = await startScans(h, 1);
    const vc = h.sim.vcenters[0]!;
    const running = (e: any) => e.data?.patchScanUpdated?.state === 'RUNNING';
    const first = wsFollow(h.url, SUBSCRIPTION, { ids: [scan] });
    const seenByFirst = await first.waitFor(running);
    const second = wsFollow(h.url, SUBSCRIPTION, { ids: [scan] });
    const joined = await second.waitFor(() => true);
    // The late joiner starts from the current state, not from the start of the stream.
    expect(joined.data.patchScanUpdated.progress).toBeGreaterThanOrEqual(seenByFirst.data.patchScanUpdated.progress);

    await first.leave();
    const afterLeave = second.events.length;
    await second.waitFor((e) => isTerminal(e) || (running(e) && e.data.patchScanUpdated.progress > joined.data.patchScanUpdated.progress), afterLeave);
    expect(second.completed() || second.events.length > afterLeave).toBe(true);

    await second.leave();
    await eventually(() => (vc.stats() as any).liveFilters === 0);
    await eventually(() => Object.values(h.gateway.scans.diagnostics()).every((d) => d.followedTasks === 0));

    // A new subscriber after the shared stream was released starts a fresh one.
    await cancel(h, scan!);
    const third = await wsSubscribe(h.url, SUBSCRIPTION, { ids: [scan] }, 20_000);
    expect(third.completed).toBe(true);
    expect(third.events.filter(isTerminal)).toHaveLength(1);
  });

  it('releases the scan once its only SSE subscriber disconnects, long before the scan ends', async () => {
    const [scan] = await startScans(h, 1);
    const vc = h.sim.vcenters[0]!;
    const abort = new AbortController();
    const response = await fetch(h.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: SUBSCRIPTION, variables: { ids: [scan] } }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('"patchScanUpdated"')) text += new TextDecoder().decode((await reader.read()).value);
    expect(Object.values(h.gateway.scans.diagnostics()).some((d) => d.followedTasks === 1)).toBe(true);
    abort.abort();
    await eventually(() => Object.values(h.gateway.scans.diagnostics()).every((d) => d.followedTasks === 0));
    await eventually(() => (vc.stats() as any).liveFilters === 0);
    // The scan (3 s) is still running: the release came from the disconnect, not from its end.
    const state = await h.gql(`query($id: ID!) { node(id: $id) { ... on PatchScan { state } } }`, { id: scan });
    expect(state.data.node.state).toBe('RUNNING');
  });

  it('does not share an error: a bad ID is refused to each caller', async () => {
    const [a, b] = await Promise.all([
      wsSubscribe(h.url, SUBSCRIPTION, { ids: ['not-an-id'] }),
      sseSubscribe(h.url, SUBSCRIPTION, { ids: ['not-an-id'] }),
    ]);
    for (const stream of [a, b]) expect(stream.events[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const after = await wsSubscribe(h.url, SUBSCRIPTION, { ids: ['not-an-id'] });
    expect(after.events[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
