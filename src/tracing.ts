/**
 * OpenTelemetry traces, off unless the standard OTEL_* environment variables ask for them.
 * This module is what the gateway loads either way: it decides from the environment and
 * imports the SDK (src/tracing-sdk.ts) only when traces are on, so a gateway without them
 * loads no SDK and makes no span (every hook is behind `if (tracing)`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Context } from '@opentelemetry/api';
import type { Logger } from './log.ts';
import type { OperationRecord } from './operation-context.ts';
import type { UpstreamCall } from './vsphere/index.ts';

/** The gateway's tracer: spans of GraphQL operations and of upstream calls. */
export interface Tracing {
  /** The client's trace context from `traceparent` / `tracestate` (the root context without them). */
  extract(headers: IncomingHttpHeaders | undefined): Context;
  /** Starts the operation's span once, as a child of `op.traceParent` when the client sent one. */
  startOperation(op: OperationRecord): void;
  /** Runs `fn` with the operation's span as the active span (upstream calls under it become its children). */
  activate<T>(op: OperationRecord, fn: () => T): T;
  /** Names the span after the operation (`query Fleet`), records its outcome and ends it, once. */
  endOperation(op: OperationRecord, httpStatus?: number): void;
  /** The transport's observer: one client span per upstream request (every attempt). */
  readonly upstreamCall: (call: UpstreamCall) => void;
  forceFlush(): Promise<void>;
  /** Exports what is buffered, then stops. */
  shutdown(): Promise<void>;
}

export type TraceExporterName = 'otlp' | 'console';

export interface TracingRequest {
  exporters: TraceExporterName[];
  /** Names in OTEL_TRACES_EXPORTER this gateway does not ship (zipkin, jaeger, ...). */
  unsupported: string[];
}

/**
 * Whether the environment asks for traces, and exported where. As the OpenTelemetry SDKs read
 * it: OTEL_SDK_DISABLED=true wins; OTEL_TRACES_EXPORTER names the exporters (`none`: off); without
 * it, an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) turns
 * OTLP export on. Undefined: traces off.
 */
export function tracingRequest(env: NodeJS.ProcessEnv): TracingRequest | undefined {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return undefined;
  const named = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (named.length === 0) {
    const endpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim() || env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim();
    return endpoint ? { exporters: ['otlp'], unsupported: [] } : undefined;
  }
  if (named.includes('none')) return undefined;
  const exporters = [...new Set(named.filter((n): n is TraceExporterName => n === 'otlp' || n === 'console'))];
  const unsupported = named.filter((n) => n !== 'otlp' && n !== 'console');
  return exporters.length > 0 || unsupported.length > 0 ? { exporters, unsupported } : undefined;
}

/**
 * The tracer the environment asks for, or undefined (traces off: the SDK is not even loaded).
 * The SDK itself reads the rest of the OTEL_* variables (endpoint, headers, sampler, resource).
 */
export async function tracingFromEnvironment(env: NodeJS.ProcessEnv, logger: Logger): Promise<Tracing | undefined> {
  const request = tracingRequest(env);
  if (!request) return undefined;
  if (request.unsupported.length > 0) {
    logger.warn('OTEL_TRACES_EXPORTER names exporters this gateway does not have: ignored (it has otlp and console)', { unsupported: request.unsupported });
  }
  if (request.exporters.length === 0) return undefined;
  const { createTracing } = await import('./tracing-sdk.ts');
  const tracing = createTracing({ exporters: request.exporters });
  logger.info('traces on', { exporters: request.exporters });
  return tracing;
}
