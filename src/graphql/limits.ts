/**
 * Limits that keep one client from hurting everyone: query shape (graphql-armor), an
 * overall deadline per operation, and the HTTP-level checks in gateway.ts. Each rejection
 * carries its own extensions.code.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError } from 'graphql';
import { GraphQLError as GraphQLErrorClass } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface RequestLimits {
  /** Deepest selection nesting. The fleet query needs 9. */
  maxDepth: number;
  /**
   * Upper bound on the fields a query can return: every field costs 1 and a connection's
   * `first` multiplies what it contains (graphql-armor's cost with a depth factor of 1), so
   * 1,000 clusters × 100 hosts × a dozen fields fits and unbounded nesting does not.
   */
  maxCost: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  /** Request body bytes. */
  maxBodyBytes: number;
  /** Wall-clock bound on one query or mutation; subscriptions are not bounded. */
  deadlineMs: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  maxDepth: 14,
  maxCost: 2_000_000,
  maxAliases: 30,
  maxTokens: 3_000,
  maxDirectives: 30,
  maxBodyBytes: 256 * 1024,
  deadlineMs: 30_000,
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

export function armorPlugin(limits: RequestLimits): Plugin {
  return EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, onReject: [tag('QUERY_TOO_DEEP')] },
    costLimit: { maxCost: limits.maxCost, objectCost: 1, scalarCost: 1, depthCostFactor: 1, onReject: [tag('QUERY_TOO_COMPLEX')] },
    maxAliases: { n: limits.maxAliases, onReject: [tag('TOO_MANY_ALIASES')] },
    maxTokens: { n: limits.maxTokens, onReject: [tag('TOO_MANY_TOKENS')] },
    maxDirectives: { n: limits.maxDirectives, onReject: [tag('TOO_MANY_DIRECTIVES')] },
    // Field suggestions in errors are how a schema is mapped without introspection.
    blockFieldSuggestion: { enabled: true },
  }) as Plugin;
}

/**
 * Ends a query or mutation that runs past the deadline with UPSTREAM_TIMEOUT. Upstream calls
 * have their own timeouts; this bounds the sum (retries, queues behind the concurrency cap).
 * The work still running upstream finishes in the background and is discarded.
 */
export function deadlinePlugin(deadlineMs: number): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(((args: Parameters<typeof executeFn>[0]) => {
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise((resolve) => {
          timer = setTimeout(
            () => {
              // The work still running upstream is discarded: stop what can stop (paged reads).
              (args.contextValue as { operation?: AbortController }).operation?.abort();
              resolve({
                data: null,
                errors: [
                  new GraphQLErrorClass(`The operation did not complete within ${deadlineMs} ms`, {
                    extensions: { code: 'UPSTREAM_TIMEOUT' },
                  }),
                ],
              });
            },
            deadlineMs,
          );
        });
        return Promise.race([Promise.resolve(executeFn(args)), expired]).finally(() => clearTimeout(timer));
      }) as typeof executeFn);
    },
  };
}
