/**
 * What a caller may run, checked before execution on every transport (HTTP, SSE, WebSocket):
 * a gateway role for anything (viewer), the operator role for mutations, an unexpired token;
 * and a subscription whose bearer token expires ends at that instant with UNAUTHENTICATED.
 */
import { GraphQLError, getOperationAST } from 'graphql';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { hasRole } from '../auth/caller.ts';
import type { Caller } from '../auth/caller.ts';
import type { GraphQLContext } from './context.ts';

function refusal(caller: Caller, operation: string | undefined, now: number): GraphQLError | undefined {
  if (caller.expiresAt !== undefined && caller.expiresAt <= now) {
    return new GraphQLError('The access token has expired', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
  }
  if (!hasRole(caller, 'viewer') && !hasRole(caller, 'operator')) {
    return new GraphQLError('This caller has no gateway role', { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
  }
  if (operation === 'mutation' && !hasRole(caller, 'operator')) {
    return new GraphQLError('Patch scan mutations need the operator role', { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
  }
  return undefined;
}

/** Ends `stream` at `at` (ms since the epoch) with one last result carrying `error`. */
export function endAt(stream: AsyncIterable<ExecutionResult>, at: number, error: () => GraphQLError): AsyncIterableIterator<ExecutionResult> {
  const iterator = stream[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const expiry = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), Math.max(0, at - Date.now()));
  });
  const finish = async (): Promise<IteratorResult<ExecutionResult>> => {
    clearTimeout(timer);
    await iterator.return?.();
    return { value: undefined, done: true };
  };
  return {
    async next() {
      if (expired) return finish();
      const next = await Promise.race([iterator.next(), expiry]);
      if (next === 'expired') {
        expired = true;
        void iterator.return?.();
        return { value: { errors: [error()] }, done: false };
      }
      if (next.done) clearTimeout(timer);
      return next;
    },
    return: finish,
    async throw(e: unknown) {
      clearTimeout(timer);
      if (iterator.throw) return iterator.throw(e);
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

export function accessPlugin(): Plugin<GraphQLContext> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const operation = getOperationAST(args.document, args.operationName)?.operation;
      const error = refusal((args.contextValue as GraphQLContext).caller, operation, Date.now());
      if (error) setResultAndStopExecution({ errors: [error] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const caller = (args.contextValue as GraphQLContext).caller;
      const error = refusal(caller, 'subscription', Date.now());
      if (error) {
        setResultAndStopExecution({ errors: [error] });
        return;
      }
      const expiresAt = caller.expiresAt;
      if (expiresAt === undefined) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!(Symbol.asyncIterator in result)) return;
          setResult(
            endAt(result, expiresAt, () => new GraphQLError('The access token expired during the subscription', { extensions: { code: 'UNAUTHENTICATED' } })),
          );
        },
      };
    },
  };
}
