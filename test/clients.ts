/** Real subscription clients for tests: GraphQL over SSE (yoga's) and over WebSocket (graphql-ws). */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface StreamResult<T = any> {
  events: { data?: T; errors?: { message: string; extensions?: Record<string, any> }[] }[];
  completed: boolean;
}

/** Subscribes over SSE and collects every event until the server completes the stream (or the deadline). */
export async function sseSubscribe<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  deadlineMs = 20_000,
  onEvent?: (event: StreamResult<T>['events'][number]) => void,
): Promise<StreamResult<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(deadlineMs),
  });
  return readEventStream(response, onEvent);
}

/** Collects the events of a GraphQL-over-SSE response until `complete` (or the body ends). */
export async function readEventStream<T = any>(response: Response, onEvent?: (event: StreamResult<T>['events'][number]) => void): Promise<StreamResult<T>> {
  if (!response.body) throw new Error(`no body, HTTP ${response.status}`);
  const result: StreamResult<T> = { events: [], completed: false };
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event === 'next' && data) {
        result.events.push(JSON.parse(data));
        onEvent?.(result.events.at(-1)!);
      }
      if (event === 'complete') {
        result.completed = true;
        await reader.cancel();
        return result;
      }
    }
  }
  return result;
}

/** Subscribes over graphql-ws and collects every event until completion (or the deadline). */
export function wsSubscribe<T = any>(
  httpUrl: string,
  query: string,
  variables: Record<string, unknown>,
  deadlineMs = 20_000,
  onEvent?: (event: StreamResult<T>['events'][number]) => void,
): Promise<StreamResult<T>> {
  const client = createClient({ url: httpUrl.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  const result: StreamResult<T> = { events: [], completed: false };
  return new Promise<StreamResult<T>>((resolve, reject) => {
    const timer = setTimeout(() => finish(), deadlineMs);
    const finish = (error?: unknown) => {
      clearTimeout(timer);
      void client.dispose();
      if (error) reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
      else resolve(result);
    };
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          result.events.push(value as StreamResult<T>['events'][number]);
          onEvent?.(value as StreamResult<T>['events'][number]);
        },
        error: (error) => {
          // GraphQL errors from the server arrive as an array: keep them as an event.
          if (Array.isArray(error)) {
            result.events.push({ errors: error as never });
            finish();
          } else finish(error);
        },
        complete: () => {
          result.completed = true;
          finish();
        },
      },
    );
  });
}

/** A graphql-ws subscription the test drives: wait for events, then leave before the end. */
export interface LiveSubscription<T = any> {
  events: StreamResult<T>['events'];
  /** Resolves with the first event (from index `from` on) that `ok` accepts; rejects after `ms`. */
  waitFor(ok: (event: StreamResult<T>['events'][number]) => boolean, from?: number, ms?: number): Promise<StreamResult<T>['events'][number]>;
  completed(): boolean;
  /** Unsubscribes (graphql-ws `complete` from the client) and closes the socket. */
  leave(): Promise<void>;
  /** How the server ended the stream: SSE `complete` event, or the WebSocket close code. */
  ending(): { complete: boolean; closeCode?: number };
}

/** Extra request headers, e.g. to pin a request to one replica behind a load balancer. */
export interface FollowOptions {
  headers?: Record<string, string>;
}

/** The `ws` WebSocket with extra headers on the upgrade request. */
function webSocketWithHeaders(headers: Record<string, string> | undefined): typeof WebSocket {
  if (!headers) return WebSocket;
  return class extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  } as typeof WebSocket;
}

export function wsFollow<T = any>(httpUrl: string, query: string, variables: Record<string, unknown>, options: FollowOptions = {}): LiveSubscription<T> {
  const client = createClient({ url: httpUrl.replace(/^http/, 'ws'), webSocketImpl: webSocketWithHeaders(options.headers), retryAttempts: 0, lazy: true });
  const events: StreamResult<T>['events'] = [];
  let done = false;
  const ending: { complete: boolean; closeCode?: number } = { complete: false };
  client.on('closed', (event) => (ending.closeCode = (event as { code?: number }).code));
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        events.push(value as StreamResult<T>['events'][number]);
        wake();
      },
      error: () => {
        done = true;
        wake();
      },
      complete: () => {
        ending.complete = true;
        done = true;
        wake();
      },
    },
  );
  return {
    ending: () => ending,
    events,
    completed: () => done,
    waitFor(ok, from = 0, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.slice(from).find(ok);
          if (hit) finish(() => resolve(hit));
          else if (done) finish(() => reject(new Error(`stream ended without the awaited event (${events.length} events)`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no awaited event within ${ms} ms (${events.length} events)`))), ms);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async leave() {
      unsubscribe();
      await client.dispose();
    },
  };
}

/** An SSE subscription the test drives, like wsFollow: collect events, wait for one, leave. */
export function sseFollow<T = any>(url: string, query: string, variables: Record<string, unknown>, options: FollowOptions = {}): LiveSubscription<T> {
  const controller = new AbortController();
  const events: StreamResult<T>['events'] = [];
  let done = false;
  const ending: { complete: boolean } = { complete: false };
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  void (async () => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...options.headers },
        body: JSON.stringify({ query, variables }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { done: ended, value } = await reader.read();
        if (ended) break;
        buffer += decoder.decode(value, { stream: true });
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: next$/m.test(block) && data) events.push(JSON.parse(data));
          if (/^event: complete$/m.test(block)) ending.complete = true;
          wake();
        }
      }
    } catch {
      // aborted by leave()
    } finally {
      done = true;
      wake();
    }
  })();
  return {
    ending: () => ending,
    events,
    completed: () => done,
    waitFor(ok, from = 0, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.slice(from).find(ok);
          if (hit) finish(() => resolve(hit));
          else if (done) finish(() => reject(new Error(`stream ended without the awaited event (${events.length} events)`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no awaited event within ${ms} ms (${events.length} events)`))), ms);
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async leave() {
      controller.abort();
    },
  };
}
