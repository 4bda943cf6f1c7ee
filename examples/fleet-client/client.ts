/**
 * A small typed client for the gateway, the way a front end calls it: every operation is one of
 * the typed documents in operations.ts, sent by its hash only (the persisted-documents
 * extension), so a gateway in trusted-documents mode runs it and nothing else.
 * Queries and mutations go over HTTP POST, subscriptions over SSE.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { FollowScansSubscription } from './generated/graphql.js';
import { FleetDocument, FollowScansDocument } from './operations.js';

export interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(readonly errors: GraphQLError[]) {
    super(errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; '));
  }
}

/** The manifest key codegen embedded in the document (`persistedDocuments: true`). */
function hashOf(document: TypedDocumentNode<any, any>): string {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('Not a persisted document: run `npm run codegen`');
  return hash;
}

function body(document: TypedDocumentNode<any, any>, variables: unknown): string {
  return JSON.stringify({ variables, extensions: { persistedQuery: { version: 1, sha256Hash: hashOf(document) } } });
}

export function createFleetClient(url: string, headers: Record<string, string> = {}) {
  async function request<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<R> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      body: body(document, variables),
    });
    const result = (await response.json()) as { data?: R | null; errors?: GraphQLError[] };
    if (result.errors?.length || !result.data) throw new GatewayError(result.errors ?? [{ message: `HTTP ${response.status}` }]);
    return result.data;
  }

  /** Every event of a subscription until the server completes the stream. */
  async function* subscribe<R, V>(document: TypedDocumentNode<R, V>, variables: V, signal?: AbortSignal): AsyncGenerator<R> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
      body: body(document, variables),
      ...(signal ? { signal } : {}),
    });
    if (!response.ok || !response.body) {
      const result = (await response.json().catch(() => ({}))) as { errors?: GraphQLError[] };
      throw new GatewayError(result.errors ?? [{ message: `HTTP ${response.status}` }]);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let boundary: number;
      while ((boundary = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        if (/^event: complete$/m.test(block)) return;
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!/^event: next$/m.test(block) || !data) continue;
        const result = JSON.parse(data) as { data?: R; errors?: GraphQLError[] };
        if (result.errors?.length || !result.data) throw new GatewayError(result.errors ?? []);
        yield result.data;
      }
    }
  }

  return {
    request,
    subscribe,
    /** vCenters, clusters and their hosts. */
    fleet: () => request(FleetDocument, {}),
    /** Follows scans to their terminal states; resolves with the last state of each. */
    async followScans(ids: string[], onUpdate?: (scan: FollowScansSubscription['patchScanUpdated']) => void) {
      const last = new Map<string, FollowScansSubscription['patchScanUpdated']>();
      for await (const event of subscribe(FollowScansDocument, { ids })) {
        last.set(event.patchScanUpdated.id, event.patchScanUpdated);
        onUpdate?.(event.patchScanUpdated);
      }
      return last;
    },
  };
}
