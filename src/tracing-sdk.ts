/**
 * The OpenTelemetry SDK side of src/tracing.ts, loaded only when traces are on. A tracer
 * provider of the gateway's own (not registered as the global one: tests run several gateways
 * in one process), the W3C trace-context propagator for clients' `traceparent`, and the
 * AsyncLocalStorage context manager so the operation's span is the active one wherever its
 * resolvers' upstream calls run.
 *
 * Spans never carry secrets: no header is recorded, upstream paths are route templates (no
 * IDs, no query string), and the caller is recorded by kind only.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, defaultTextMapGetter, trace } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import { routeTemplate } from './metrics.ts';
import type { OperationRecord } from './operation-context.ts';
import type { TraceExporterName, Tracing } from './tracing.ts';
import { currentCallScope } from './vsphere/index.ts';
import type { UpstreamCall } from './vsphere/index.ts';

/** Semantic-convention names still in development: copied, as the conventions package advises, not imported. */
const ATTR_GRAPHQL_OPERATION_NAME = 'graphql.operation.name';
const ATTR_GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';
const ATTR_URL_TEMPLATE = 'url.template';

export const DEFAULT_SERVICE_NAME = 'vsphere-graphql-gateway';
const TRACER_NAME = 'vsphere-graphql-gateway';

export interface TracingOptions {
  /** Exporters named by the environment (src/tracing.ts); ignored when spanProcessors is given. */
  exporters?: TraceExporterName[];
  /** Where spans go instead (tests: a SimpleSpanProcessor over an InMemorySpanExporter). */
  spanProcessors?: SpanProcessor[];
}

let contextManagerInstalled = false;

/** One context manager per process: the API's context is global. */
function installContextManager(): void {
  if (contextManagerInstalled) return;
  contextManagerInstalled = true;
  const manager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable();
}

function processorsFor(exporters: TraceExporterName[]): SpanProcessor[] {
  return exporters.map((name) =>
    // OTLP: batched (OTEL_BSP_* tune it); the exporter reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout).
    name === 'otlp' ? new BatchSpanProcessor(new OTLPTraceExporter()) : new SimpleSpanProcessor(new ConsoleSpanExporter()),
  );
}

export function createTracing({ exporters = ['otlp'], spanProcessors }: TracingOptions = {}): Tracing {
  installContextManager();
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) override the default name.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME }))
    .merge(detectResources({ detectors: [envDetector] }));
  // The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default: parent-based, always on).
  const provider = new BasicTracerProvider({ resource, spanProcessors: spanProcessors ?? processorsFor(exporters) });
  const tracer = provider.getTracer(TRACER_NAME);
  const propagator = new W3CTraceContextPropagator();

  return {
    extract(headers) {
      return headers ? propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter) : ROOT_CONTEXT;
    },

    startOperation(op) {
      if (op.span) return;
      op.span = tracer.startSpan(
        'graphql.operation',
        {
          kind: SpanKind.SERVER,
          // performance.now() milliseconds: the SDK takes them relative to the time origin.
          startTime: op.startedAt,
          attributes: { 'gateway.request_id': op.requestId, 'gateway.transport': op.transport },
        },
        op.traceParent ?? ROOT_CONTEXT,
      );
    },

    activate(op, fn) {
      return op.span ? context.with(trace.setSpan(context.active(), op.span), fn) : fn();
    },

    endOperation(op: OperationRecord, httpStatus?: number) {
      const span = op.span;
      if (!span || op.spanEnded) return;
      op.spanEnded = true;
      const type = op.operationType;
      if (type) span.updateName(op.operationName ? `${type} ${op.operationName}` : type);
      const attributes: Attributes = { 'gateway.upstream_calls': op.upstreamCalls };
      if (type) attributes[ATTR_GRAPHQL_OPERATION_TYPE] = type;
      if (op.operationName) attributes[ATTR_GRAPHQL_OPERATION_NAME] = op.operationName;
      if (op.callerKind) attributes['gateway.caller.kind'] = op.callerKind;
      if (httpStatus !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = httpStatus;
      if (op.errorCodes.length > 0) {
        attributes['gateway.error_codes'] = [...new Set(op.errorCodes)];
        attributes[ATTR_ERROR_TYPE] = op.errorCodes[0]!;
        span.setStatus({ code: SpanStatusCode.ERROR, message: op.errorCodes[0]! });
      } else if (httpStatus !== undefined && httpStatus >= 500) {
        attributes[ATTR_ERROR_TYPE] = String(httpStatus);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.setAttributes(attributes);
      span.end();
    },

    upstreamCall(call: UpstreamCall) {
      const route = routeTemplate(call.api, call.path);
      const attributes: Attributes = {
        'vsphere.vcenter': call.vcenter,
        'vsphere.api': call.api,
        [ATTR_HTTP_REQUEST_METHOD]: call.method,
        [ATTR_URL_TEMPLATE]: route,
      };
      if (call.attempt > 0) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = call.attempt;
      if (typeof call.status === 'number') attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = call.status;
      const failed = typeof call.status !== 'number' || call.status >= 400;
      if (failed) attributes[ATTR_ERROR_TYPE] = String(call.status);
      // Only an operation's own calls (made in its call scope) join its trace; shared and
      // detached work (logins, watch loops, mirror feeds, shared subscription streams) starts
      // traces of its own, never a client's.
      const span = tracer.startSpan(
        `${call.method} ${route}`,
        { kind: SpanKind.CLIENT, startTime: call.startedAt, attributes, root: currentCallScope() === undefined },
        context.active(),
      );
      if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(call.startedAt + call.durationMs);
    },

    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
