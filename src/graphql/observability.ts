/**
 * Per-operation observability: operation name and type, caller, error codes and upstream call
 * count gathered on the operation's record, then one access-log line and the operation metrics
 * when it ends (an HTTP response closes, a WebSocket operation completes).
 */
import { getOperationAST } from 'graphql';
import type { DocumentNode, ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { currentOperation, runInOperation } from '../operation-context.ts';
import type { OperationRecord } from '../operation-context.ts';
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

/** Writes the access line and counts the operation, once. */
export function finishOperation(op: OperationRecord, metrics: GatewayMetrics, logger: Logger, status?: number): void {
  if (op.finished) return;
  op.finished = true;
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
 * outside any HTTP request), so upstream calls and log lines are attributed to it.
 */
export function observabilityPlugin(metrics: GatewayMetrics, accessLogger: Logger): Plugin<GraphQLContext> {
  const inContext = <A extends unknown[], R>(op: OperationRecord, fn: (...args: A) => R) =>
    currentOperation() === op ? fn : (...args: A) => runInOperation(op, () => fn(...args));
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
      setExecuteFn(inContext(op, executeFn));
      return {
        onExecuteDone({ result }) {
          if (op.transport !== 'ws' || isAsyncIterable(result)) return;
          recordErrors(op, (result as ExecutionResult).errors);
          finishOperation(op, metrics, accessLogger);
        },
      };
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const ctx = args.contextValue as GraphQLContext;
      const op = ctx.operation;
      describe(op, args.document, args.operationName, ctx);
      setSubscribeFn(inContext(op, subscribeFn));
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) {
            if (op.transport === 'ws') {
              recordErrors(op, result.errors);
              finishOperation(op, metrics, accessLogger);
            }
            return;
          }
          metrics.subscriptionStarted();
          return {
            onNext({ result: event }) {
              recordErrors(op, event.errors);
            },
            onEnd() {
              metrics.subscriptionEnded();
              if (op.transport === 'ws') finishOperation(op, metrics, accessLogger);
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
