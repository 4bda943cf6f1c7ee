/**
 * The operation an asynchronous call belongs to. Upstream calls and log lines deep in the
 * vSphere clients have no GraphQL context at hand; AsyncLocalStorage carries the request id
 * and the per-operation counters to them without threading a parameter through every layer.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Context, Span } from '@opentelemetry/api';

export interface OperationRecord {
  requestId: string;
  /** performance.now() when the request (or WebSocket operation) arrived. */
  startedAt: number;
  transport: 'http' | 'ws';
  operationName?: string;
  operationType?: string;
  /** Upstream requests sent on behalf of this operation (every attempt). */
  upstreamCalls: number;
  /** extensions.code of every error in the results, in order. */
  errorCodes: string[];
  callerName?: string;
  callerKind?: string;
  /** A GraphQL request (not the GraphiQL page or an ops route): it gets an access line. */
  graphql?: boolean;
  /** Set once the access line is written, so it is written once. */
  finished?: boolean;
  /** With tracing on (src/tracing.ts): the client's trace context (traceparent) and the operation's span. */
  traceParent?: Context;
  span?: Span;
  spanEnded?: boolean;
}

const storage = new AsyncLocalStorage<OperationRecord>();

export function currentOperation(): OperationRecord | undefined {
  return storage.getStore();
}

export function runInOperation<T>(record: OperationRecord, fn: () => T): T {
  return storage.run(record, fn);
}

/** Accepted client request ids: what a proxy or client library would generate, nothing that could forge a log line. */
const REQUEST_ID = /^[A-Za-z0-9._:\-]{1,128}$/;

/** The client's x-request-id when it is safe to echo and log, otherwise a fresh one. */
export function requestIdFrom(header: string | string[] | null | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

export function newOperation(requestId: string, transport: OperationRecord['transport']): OperationRecord {
  return { requestId, startedAt: performance.now(), transport, upstreamCalls: 0, errorCodes: [] };
}
