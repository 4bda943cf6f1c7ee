import { GraphQLError } from 'graphql';
import { UpstreamError } from '../vsphere/index.ts';

/**
 * The error codes clients see in `extensions.code`. Upstream failures keep the code the
 * upstream client gave them; everything unexpected is masked as INTERNAL_SERVER_ERROR.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'VCENTER_UNAVAILABLE'
  | 'VIM_API_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'CANCELLED'
  | 'UPSTREAM_ERROR'
  | 'TLS_ERROR'
  | 'INTERNAL_SERVER_ERROR';

/**
 * graphql-js suggests names ("Did you mean "nameContains"?", "Did you mean the enum value
 * "CONNECTED"?"): how a schema is mapped without introspection. They are removed from
 * every error a client sees.
 */
export function hideSuggestions(message: string): string {
  return message.replace(/ ?Did you mean [^?]*\?/g, '');
}

export function badInput(message: string, field?: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', ...(field ? { field } : {}) } });
}

export function notFound(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'NOT_FOUND', ...extensions } });
}

/**
 * graphql-js ships CommonJS and ESM builds, and the executor may load the other one than
 * this module does, so GraphQLError is recognised by shape rather than by instanceof.
 */
export function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof Error && error.name === 'GraphQLError' && 'extensions' in error;
}

/**
 * The one place where any error becomes what a client sees. GraphQL errors we raised pass
 * through; upstream errors keep their typed code and the vCenter's name (their messages are
 * built by the upstream client and carry no secrets); anything else is masked, and the
 * caller logs it in full for operators.
 */
export function toClientError(
  error: unknown,
  location: { path?: ReadonlyArray<string | number>; nodes?: GraphQLError['nodes'] } = {},
): { error: GraphQLError; unexpected: boolean } {
  const original = isGraphQLError(error) && error.originalError ? error.originalError : error;
  if (original instanceof UpstreamError) {
    return {
      error: new GraphQLError(original.message, {
        nodes: location.nodes ?? (isGraphQLError(error) ? error.nodes : undefined),
        path: location.path ?? (isGraphQLError(error) ? error.path : undefined),
        extensions: {
          code: original.code,
          vcenter: original.vcenter,
          ...(original.status ? { upstreamStatus: original.status } : {}),
          ...(original.fault ? { upstreamFault: original.fault } : {}),
        },
      }),
      unexpected: false,
    };
  }
  if (isGraphQLError(original)) {
    // Ours (BAD_USER_INPUT, NOT_FOUND...) or graphql-js's own (validation); graphql-js may
    // have wrapped ours to add the path.
    const outer = isGraphQLError(error) ? error : original;
    const path = location.path ?? outer.path;
    // graphql-js raises variable coercion errors without a code, before any field runs;
    // graphql-jit's come without any extensions at all.
    const extensions =
      original.extensions?.['code'] === undefined && path === undefined
        ? { ...original.extensions, code: 'BAD_USER_INPUT', http: { status: 400 } }
        : original.extensions;
    return {
      error: new GraphQLError(hideSuggestions(original.message), { nodes: location.nodes ?? outer.nodes, path, extensions }),
      unexpected: false,
    };
  }
  return {
    error: new GraphQLError('Unexpected error.', {
      nodes: location.nodes ?? (isGraphQLError(error) ? error.nodes : undefined),
      path: location.path ?? (isGraphQLError(error) ? error.path : undefined),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    }),
    unexpected: true,
  };
}

/** Codes of errors the client caused: worth a debug line, not an operator's attention. */
const CLIENT_MISTAKES = new Set([
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'QUERY_TOO_DEEP',
  'QUERY_TOO_COMPLEX',
  'TOO_MANY_ALIASES',
  'TOO_MANY_TOKENS',
  'TOO_MANY_DIRECTIVES',
  'PERSISTED_QUERY_NOT_FOUND',
]);

/**
 * The level for an error yoga reports: a client's mistake is debug (one `nodes` call with 500
 * bad IDs must not write 500 error lines), an upstream failure warn (the vCenter's, reported
 * with its code), anything else error.
 */
export function logLevelOf(error: unknown): 'debug' | 'warn' | 'error' {
  if (!isGraphQLError(error)) return 'error';
  const original = error.originalError;
  if (original instanceof UpstreamError) return 'warn';
  const code = (isGraphQLError(original) ? original : error).extensions?.['code'];
  if (typeof code !== 'string') return original && !isGraphQLError(original) ? 'error' : 'debug';
  return CLIENT_MISTAKES.has(code) ? 'debug' : code === 'INTERNAL_SERVER_ERROR' ? 'error' : 'warn';
}
