/**
 * Who an upstream call is for, and when nobody wants its answer any more. A GraphQL operation
 * runs inside a call scope; every upstream call made on its behalf, however deep (DataLoader
 * batches run in the async context of their first load), reads the scope here instead of
 * taking a parameter through every signature.
 *
 * - `signal`: aborts when the operation's deadline passes or its client goes away. A call
 *   still queued for a connection slot then never goes out; one in flight is aborted.
 * - `owner`: the fair-share key (the caller): queued calls are served round robin per owner.
 *
 * Work shared by several callers (logins, the task watch loop, cached bootstrap reads) must
 * not die with whichever caller happened to start it: it runs `detached`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CallScope {
  readonly signal: AbortSignal;
  readonly owner: string;
}

const storage = new AsyncLocalStorage<CallScope>();

export function runInCallScope<T>(scope: CallScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The scope of the operation this code runs for, if any. */
export function currentCallScope(): CallScope | undefined {
  return storage.getStore();
}

/** Runs `fn` (and everything it starts) outside any caller's scope: nobody's leaving cancels it. */
export function detached<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** Why a scope was aborted: the operation's deadline (a timeout) or its client leaving. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
  constructor(readonly deadlineMs: number) {
    super(`The operation did not complete within ${deadlineMs} ms`);
  }
}
