/**
 * Per-operation observability: operation name and type, caller, error codes and upstream call
 * count gathered on the operation's record, then one access-log line and the operation metrics
 * when it ends (an HTTP response closes, a WebSocket operation completes).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { getOperationAST } from 'graphql';
import type { DocumentNode, ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { currentOperation, runInOperation } from '../operation-context.ts';
import type { OperationRecord } from '../operation-context.ts';
import type { Tracing } from '../tracing.ts';
import type { GraphQLContext } from './context.ts';
import { toClientError } from './errors.ts';

function describe(op: OperationRecord, document: DocumentNode, operationName: string | null | undefined, ctx: GraphQLContext): void {
  const ast = getOperationAST(document, operationName ?? undefined);
  op.operationType = ast?.operation ?? op.operationType;
  op.operationName = ast?.name?.value ?? operationName ?? op.operationName;
  op.callerName = ctx.caller.name;
  op.callerKind = ctx.caller.kind;
}

function recordErrors(op: OperationRecord, errors: readonly GraphQLError[] | undefined): void {
  for (const error of errors ?? []) {
    const code = error.extensions?.['code'] ?? toClientError(error).error.extensions['code'];
    op.errorCodes.push(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR');
  }
}

/** Writes the access line, counts the operation and ends its span, once. */
export function finishOperation(op: OperationRecord, metrics: GatewayMetrics, logger: Logger, status?: number, tracing?: Tracing): void {
  if (op.finished) return;
  op.finished = true;
  if (tracing) {
    // Refused before execution (parse, validation, access): the span starts here.
    tracing.startOperation(op);
    tracing.endOperation(op, status);
  }
  const seconds = (performance.now() - op.startedAt) / 1000;
  metrics.recordOperation(op, seconds);
  logger.info('graphql operation', {
    requestId: op.requestId,
    transport: op.transport,
    operationName: op.operationName ?? null,
    operationType: op.operationType ?? null,
    callerName: op.callerName ?? null,
    callerKind: op.callerKind ?? null,
    ...(status !== undefined ? { status } : {}),
    durationMs: Math.round(seconds * 10_000) / 10,
    upstreamCalls: op.upstreamCalls,
    errorCodes: op.errorCodes,
  });
}

/**
 * Runs the operation's execution in its record's async context (WebSocket operations arrive
 * outside any HTTP request), so upstream calls and log lines are attributed to it. With
 * tracing, the operation's span is active there too: its upstream calls become its children.
 */
export function observabilityPlugin(metrics: GatewayMetrics, accessLogger: Logger, tracing?: Tracing): Plugin<GraphQLContext> {
  const inContext = <A extends unknown[], R>(op: OperationRecord, fn: (...args: A) => R) =>
    currentOperation() === op ? fn : (...args: A) => runInOperation(op, () => fn(...args));
  const traced = <A extends unknown[], R>(t: Tracing, op: OperationRecord, ctx: GraphQLContext, fn: (...args: A) => R) => {
    // WebSocket operations: the trace context of the upgrade request (HTTP ones set it per request).
    op.traceParent ??= t.extract((ctx as { req?: { headers?: IncomingHttpHeaders } }).req?.headers);
    t.startOperation(op);
    return (...args: A) => t.activate(op, () => fn(...args));
  };
  const finish = (op: OperationRecord) => finishOperation(op, metrics, accessLogger, undefined, tracing);
  return {
    onParams() {
      // A GraphQL request (not the GraphiQL page): the HTTP layer writes its access line.
      const op = currentOperation();
      if (op) op.graphql = true;
    },
    onExecute({ args, executeFn, setExecuteFn }) {
      const ctx = args.contextValue as GraphQLContext;
      const op = ctx.operation;
      describe(op, args.document, args.operationName, ctx);
      const execute = inContext(op, executeFn);
      setExecuteFn(tracing ? traced(tracing, op, ctx, execute) : execute);
      return {
        onExecuteDone({ result }) {
          if (op.transport !== 'ws' || isAsyncIterable(result)) return;
          recordErrors(op, (result as ExecutionResult).errors);
          finish(op);
        },
      };
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const ctx = args.contextValue as GraphQLContext;
      const op = ctx.operation;
      describe(op, args.document, args.operationName, ctx);
      const subscribe = inContext(op, subscribeFn);
      setSubscribeFn(tracing ? traced(tracing, op, ctx, subscribe) : subscribe);
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) {
            if (op.transport === 'ws') {
              recordErrors(op, result.errors);
              finish(op);
            }
            return;
          }
          // The span is the subscribe, not the hours a stream may last.
          tracing?.endOperation(op);
          metrics.subscriptionStarted();
          return {
            onNext({ result: event }) {
              recordErrors(op, event.errors);
            },
            onEnd() {
              metrics.subscriptionEnded();
              if (op.transport === 'ws') finish(op);
            },
          };
        },
      };
    },
    onResultProcess({ result }) {
      // HTTP: the final result, errors of parsing and validation included; streams are counted per event above.
      const op = currentOperation();
      if (!op || isAsyncIterable(result)) return;
      for (const r of Array.isArray(result) ? result : [result]) recordErrors(op, r.errors);
    },
  };
}
