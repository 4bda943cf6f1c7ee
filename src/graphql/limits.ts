/**
 * Limits that keep one client from hurting everyone: query shape (graphql-armor), an
 * overall deadline per operation, and the HTTP-level checks in gateway.ts. Each rejection
 * carries its own extensions.code.
 */
import { setMaxListeners } from 'node:events';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { DocumentNode, GraphQLError, GraphQLSchema, SelectionSetNode, ValidationRule } from 'graphql';
import { GraphQLError as GraphQLErrorClass, Kind } from 'graphql';
import { operationCost } from './cost.ts';
import { hideSuggestions } from './errors.ts';
import type { Plugin } from 'graphql-yoga';
import { DeadlineExceeded, runInCallScope } from '../vsphere/index.ts';
import type { CallScope } from '../vsphere/index.ts';

export interface RequestLimits {
  /**
   * Deepest selection nesting, introspection included, fragments counted where they are
   * spread. The fleet query needs 9; GraphiQL's introspection query (graphql-js
   * getIntrospectionQuery) needs 15.
   */
  maxDepth: number;
  /**
   * Upper bound on the fields a query can return: every field costs 1 and a connection's
   * page size (`first`, literal or variable; 100 when absent) multiplies what it contains,
   * so 1,000 clusters × 100 hosts × a dozen fields fits and unbounded nesting does not.
   */
  maxCost: number;
  maxAliases: number;
  maxTokens: number;
  /** Directives in an operation, those on fragment spreads included. */
  maxDirectives: number;
  /** Request body bytes; also the largest WebSocket message. */
  maxBodyBytes: number;
  /**
   * A body over maxBodyBytes up to this size is read and discarded so the client gets its 413
   * (a client still writing when the server closes sees EPIPE, not the answer); larger ones
   * are answered at once and the connection closed.
   */
  maxDiscardedBodyBytes: number;
  /** Wall-clock bound on one query or mutation; subscriptions are not bounded. */
  deadlineMs: number;
  /** Open client connections (HTTP and WebSocket): beyond it, 503 TOO_MANY_CONNECTIONS / WebSocket close 1013. */
  maxConnections: number;
  /** Operations (of any kind) running at once on one WebSocket. */
  maxOperationsPerSocket: number;
  /** Subscriptions open at once on one WebSocket. */
  maxSubscriptionsPerSocket: number;
  /** Subscriptions open at once per caller, over SSE and WebSocket together. */
  maxSubscriptionsPerCaller: number;
  /** Bytes queued for a WebSocket client above which the gateway stops reading and executing for it. */
  maxSocketBufferBytes: number;
  /** A WebSocket that stays above maxSocketBufferBytes this long (its client does not read) is closed. */
  socketStallMs: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  maxDepth: 15,
  maxCost: 2_000_000,
  maxAliases: 30,
  maxTokens: 3_000,
  maxDirectives: 30,
  maxBodyBytes: 256 * 1024,
  maxDiscardedBodyBytes: 16 * 1024 * 1024,
  deadlineMs: 30_000,
  maxConnections: 1_000,
  maxOperationsPerSocket: 1_000,
  maxSubscriptionsPerSocket: 500,
  maxSubscriptionsPerCaller: 10_000,
  maxSocketBufferBytes: 4 * 1024 * 1024,
  socketStallMs: 30_000,
};

/** Gives armor's rejections a typed code instead of a bare "Syntax Error". */
const tag =
  (code: string) =>
  (_ctx: unknown, error: GraphQLError): void => {
    const extensions = error.extensions as Record<string, unknown>;
    extensions['code'] = code;
    // Rejected before execution: the client's fault, so HTTP 400 rather than yoga's 500.
    extensions['http'] = { status: 400 };
  };

/** A rejection made before anything runs: the client's fault, HTTP 400. */
export function limitError(code: string, message: string): GraphQLError {
  return new GraphQLErrorClass(message, { extensions: { code, http: { status: 400 } } });
}

export function armorPlugin(limits: RequestLimits): Plugin {
  return EnvelopArmorPlugin({
    // Introspection is not exempt: `__schema { types { fields { type { ofType ...` nests freely.
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: false, flattenFragments: true, onReject: [tag('QUERY_TOO_DEEP')] },
    // Cost needs the variables' values: costPlugin, at execution.
    costLimit: { enabled: false },
    maxAliases: { n: limits.maxAliases, onReject: [tag('TOO_MANY_ALIASES')] },
    maxTokens: { n: limits.maxTokens, onReject: [tag('TOO_MANY_TOKENS')] },
    // armor forgets the directives of every spread of a fragment after the first: maxDirectivesRule.
    maxDirectives: { enabled: false },
    // Only field suggestions, and only those of the form `Did you mean "x"?`: hideSuggestionsPlugin.
    blockFieldSuggestion: { enabled: false },
  }) as Plugin;
}

/** Removes every kind of suggestion (fields, enum values, input fields, arguments) from validation errors. */
export const hideSuggestionsPlugin: Plugin = {
  onValidate: () =>
    function onValidateEnd({ valid, result, setResult }) {
      if (valid) return;
      // In place: the errors may come from the other graphql-js build, which instanceof rejects.
      for (const error of result) error.message = hideSuggestions(error.message);
      setResult([...result]);
    },
};

/** Counts every directive of an operation: on fields, inline fragments, spreads and (once per spread) inside fragments. */
export function maxDirectivesPlugin(max: number): Plugin {
  const rule: ValidationRule = (context) => ({
    OperationDefinition(operation) {
      const perFragment = new Map<string, number>();
      const count = (node: { directives?: readonly unknown[]; selectionSet?: SelectionSetNode }): number => {
        let n = node.directives?.length ?? 0;
        for (const selection of node.selectionSet?.selections ?? []) {
          n += count(selection);
          if (selection.kind === Kind.FRAGMENT_SPREAD) {
            const name = selection.name.value;
            if (!perFragment.has(name)) {
              perFragment.set(name, 0); // cycles fail validation; this only stops the recursion
              const fragment = context.getFragment(name);
              perFragment.set(name, fragment ? count(fragment) : 0);
            }
            n += perFragment.get(name)!;
          }
        }
        return n;
      };
      const found = count(operation);
      // Thrown, as armor's rules do, so that it ends validation with HTTP 400.
      if (found > max) throw limitError('TOO_MANY_DIRECTIVES', `Directives limit of ${max} exceeded, found ${found}.`);
    },
  });
  return { onValidate: ({ addValidationRule }) => addValidationRule(rule) };
}

/**
 * Refuses an operation whose cost (src/graphql/cost.ts) exceeds the limit. At execution, not
 * validation, because only then are the variables known.
 */
export function costPlugin(maxCost: number): Plugin {
  // yoga's parse cache hands the same DocumentNode to every request with the same text: its
  // cost is computed once, unless its operations take variables (then it depends on them).
  const withoutVariables = new WeakMap<DocumentNode, Map<string, number>>();
  const costOf = (args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null }) => {
    const { document } = args;
    if (document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && (d.variableDefinitions?.length ?? 0) > 0)) {
      return operationCost(args.schema, document, args.operationName, args.variableValues);
    }
    let costs = withoutVariables.get(document);
    if (!costs) withoutVariables.set(document, (costs = new Map()));
    const key = args.operationName ?? '';
    let cost = costs.get(key);
    if (cost === undefined) costs.set(key, (cost = operationCost(args.schema, document, args.operationName, undefined)));
    return cost;
  };
  const check = (args: { schema: GraphQLSchema; document: DocumentNode; operationName?: string | null; variableValues?: Record<string, unknown> | null }) => {
    const cost = costOf(args);
    return cost > maxCost ? { errors: [limitError('QUERY_TOO_COMPLEX', `Query cost limit of ${maxCost} exceeded, found ${cost}.`)] } : undefined;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = check(args);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}

/**
 * Open subscriptions per caller, over every transport; beyond the cap, TOO_MANY_SUBSCRIPTIONS.
 * Counted when the subscription is asked for (a subscriber joining a shared execution never
 * calls subscribe itself), released when its stream ends or if it never starts.
 */
export function subscriptionCapPlugin(maxPerCaller: number): Plugin {
  const open = new Map<string, number>();
  const add = (key: string, delta: number) => {
    const n = (open.get(key) ?? 0) + delta;
    if (n > 0) open.set(key, n);
    else open.delete(key);
  };
  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn, setResultAndStopExecution }) {
      const key = (args.contextValue as ScopeContext).caller?.key ?? '';
      if ((open.get(key) ?? 0) >= maxPerCaller) {
        setResultAndStopExecution({
          errors: [new GraphQLErrorClass(`At most ${maxPerCaller} subscriptions may be open per caller`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', http: { status: 429 } } })],
        });
        return;
      }
      add(key, 1);
      let counted = true;
      const release = () => {
        if (counted) add(key, -1);
        counted = false;
      };
      setSubscribeFn((async (subscribeArgs: Parameters<typeof subscribeFn>[0]) => {
        try {
          return await subscribeFn(subscribeArgs);
        } catch (error) {
          release();
          throw error;
        }
      }) as typeof subscribeFn);
      return {
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in Object(result))) return release();
          return { onEnd: release };
        },
      };
    },
  };
}

/** What the call-scope plugin reads from the GraphQL context. */
interface ScopeContext {
  /** HTTP and SSE: yoga's Fetch request, whose signal aborts when the client disconnects. */
  request?: Request;
  /** WebSocket: aborts when the client completes the operation or the socket closes. */
  operationSignal?: AbortSignal;
  caller?: { key: string };
}

/**
 * Runs each query and mutation inside a call scope (src/vsphere/call-scope.ts) whose signal
 * aborts at the deadline, when the client goes away, and once the result is produced. Upstream
 * calls made for the operation then stop: queued ones never go out, sent ones are aborted.
 * Past the deadline the client gets UPSTREAM_TIMEOUT at once; the abort makes the rest wind
 * down instead of holding connection slots. Subscriptions are not scoped: their upstream work
 * (the task watch loop) is shared by every subscriber.
 */
export function callScopePlugin(deadlineMs: number): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(((args: Parameters<typeof executeFn>[0]) => {
        const context = args.contextValue as ScopeContext;
        const scope = new OperationScope(context, context.caller?.key ?? '');
        const running = runInCallScope(scope, () => executeFn(args));
        // Answered synchronously (no resolver awaited anything): nothing left to bound or abort.
        if (!isPromiseLike(running)) {
          scope.finish();
          return running;
        }
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            scope.abort(new DeadlineExceeded(deadlineMs));
            resolve({
              data: null,
              errors: [new GraphQLErrorClass(`The operation did not complete within ${deadlineMs} ms`, { extensions: { code: 'UPSTREAM_TIMEOUT' } })],
            });
          }, deadlineMs);
          const settle = () => {
            clearTimeout(timer);
            scope.finish();
          };
          running.then(
            (result) => {
              settle();
              resolve(result);
            },
            (error: unknown) => {
              settle();
              reject(error);
            },
          );
        });
      }) as typeof executeFn);
    },
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** One reason for every finished operation: made once, its stack is nobody's business. */
const OPERATION_FINISHED = new Error('the operation finished');

/**
 * An operation's call scope whose AbortController (and the listener on the client's signal)
 * is only made when an upstream call first reads `signal`: most operations answered from
 * memory never do, and those objects were a large share of their cost.
 */
class OperationScope implements CallScope {
  private controller: AbortController | undefined;
  private reason: unknown;
  private client: AbortSignal | undefined;
  private readonly clientGone = () => this.abort(new Error('the client went away'));

  constructor(
    private readonly context: ScopeContext,
    readonly owner: string,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      // Every upstream call of the operation listens on this one signal (its queue place and its
      // request): a fleet query has hundreds at once, which is not a listener leak.
      setMaxListeners(0, this.controller.signal);
      if (this.reason !== undefined) this.controller.abort(this.reason);
      else {
        // The client's signal is read here, not earlier: yoga makes a Request's signal on first access.
        const client = this.context.request?.signal ?? this.context.operationSignal;
        if (client?.aborted) this.abort(new Error('the client went away'));
        else if (client) {
          this.client = client;
          client.addEventListener('abort', this.clientGone, { once: true });
        }
      }
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.client?.removeEventListener('abort', this.clientGone);
    this.client = undefined;
    this.controller?.abort(reason);
  }

  /** Whatever is still running (siblings of a field whose error nulled the result) has no reader. */
  finish(): void {
    this.abort(OPERATION_FINISHED);
  }
}
