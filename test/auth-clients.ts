/**
 * What one caller receives on each transport, for the authentication matrix: the HTTP status,
 * headers and GraphQL errors of a POST; the status and events of an SSE subscription; the
 * close code or the events of a graphql-ws subscription.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { readEventStream } from './clients.ts';

export interface Outcome {
  /** HTTP status, or the WebSocket close code when the socket was closed on us. */
  status: number;
  /** extensions.code of every error received, in order. */
  codes: string[];
  data: unknown[];
  headers: Headers | undefined;
  /** The stream completed normally (subscriptions). */
  completed: boolean;
}

export async function postAs(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Outcome> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  const body = text ? (JSON.parse(text) as { data?: unknown; errors?: { extensions?: { code?: string } }[] }) : {};
  return {
    status: response.status,
    codes: (body.errors ?? []).map((e) => e.extensions?.code ?? 'NONE'),
    data: body.data === undefined ? [] : [body.data],
    headers: response.headers,
    completed: false,
  };
}

/** An SSE subscription followed to its end (or refused). */
export async function sseAs(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}, deadlineMs = 20_000): Promise<Outcome> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(deadlineMs),
  });
  const outcome: Outcome = { status: response.status, codes: [], data: [], headers: response.headers, completed: false };
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const body = JSON.parse(await response.text()) as { errors?: { extensions?: { code?: string } }[] };
    outcome.codes = (body.errors ?? []).map((e) => e.extensions?.code ?? 'NONE');
    return outcome;
  }
  const stream = await readEventStream(response);
  for (const event of stream.events) {
    if (event.data) outcome.data.push(event.data);
    for (const e of event.errors ?? []) outcome.codes.push(e.extensions?.['code'] ?? 'NONE');
  }
  outcome.completed = stream.completed;
  return outcome;
}

/** A graphql-ws operation (query, mutation or subscription) followed to its end, or the close code that refused it. */
export function wsAs(
  httpUrl: string,
  query: string,
  variables: Record<string, unknown>,
  connectionParams: Record<string, unknown> | undefined,
  options: { headers?: Record<string, string>; origin?: string; deadlineMs?: number } = {},
): Promise<Outcome> {
  const outcome: Outcome = { status: 0, codes: [], data: [], headers: undefined, completed: false };
  const client = createClient({
    url: httpUrl.replace(/^http/, 'ws'),
    webSocketImpl: class extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { ...options.headers, ...(options.origin ? { origin: options.origin } : {}) } });
      }
    },
    retryAttempts: 0,
    lazy: true,
    ...(connectionParams ? { connectionParams } : {}),
    on: {
      closed: (event) => {
        const code = (event as { code?: number }).code;
        if (code !== undefined && code !== 1000) outcome.status = code;
      },
    },
  });
  return new Promise<Outcome>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      void client.dispose();
      resolve(outcome);
    };
    const timer = setTimeout(finish, options.deadlineMs ?? 20_000);
    client.subscribe(
      { query, variables },
      {
        next: (value) => {
          const v = value as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
          if (v.data) outcome.data.push(v.data);
          for (const e of v.errors ?? []) outcome.codes.push(e.extensions?.code ?? 'NONE');
        },
        error: (error) => {
          if (Array.isArray(error)) for (const e of error as { extensions?: { code?: string } }[]) outcome.codes.push(e.extensions?.code ?? 'NONE');
          else if (outcome.status === 0) {
            const code = (error as { code?: number }).code;
            outcome.status = typeof code === 'number' ? code : -1;
          }
          finish();
        },
        complete: () => {
          outcome.completed = true;
          finish();
        },
      },
    );
  });
}

export function basic(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}
