import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { GraphQLError, getOperationAST } from 'graphql';
import type { DocumentNode, ValidationRule } from 'graphql';
import { createRequire } from 'node:module';
import { createSchema, createYoga } from 'graphql-yoga';
import type { GraphiQLOptions, Plugin, YogaInitialContext, YogaServerInstance } from 'graphql-yoga';
import { anonymousCaller } from '../auth/caller.ts';
import type { Caller } from '../auth/caller.ts';
import type { Logger } from '../log.ts';
import type { InventoryMirrors } from '../mirror/index.ts';
import { currentOperation, newOperation, requestIdFrom } from '../operation-context.ts';
import type { ScanService } from '../scans/service.ts';
import { createContext } from './context.ts';
import type { GraphQLContext, Upstreams } from './context.ts';
import { accessPlugin } from './access.ts';
import { loggerAuditSink } from './audit.ts';
import type { AuditSink } from './audit.ts';
import { logLevelOf, toClientError } from './errors.ts';
import { staleDataWarnings } from './live-inventory.ts';
import { DEFAULT_LIMITS, armorPlugin, callScopePlugin, costPlugin, hideSuggestionsPlugin, maxDirectivesPlugin, subscriptionCapPlugin } from './limits.ts';
import type { RequestLimits } from './limits.ts';
import { resolvers } from './resolvers/index.ts';
import { sharedSubscriptions } from './shared-subscriptions.ts';
import { trustedDocumentsPlugin } from './trusted-documents.ts';
import type { TrustedDocuments } from './trusted-documents.ts';

const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

/** The SDL, one file per domain under schema/, concatenated in file-name order. */
export function loadTypeDefs(dir = SCHEMA_DIR): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}

/** Appends the errors of vCenters that failed under multi-vCenter fields to the response. */
const partialResults: Plugin<GraphQLContext> = {
  onExecute() {
    return {
      onExecuteDone({ args, result, setResult }) {
        const partial = (args.contextValue as GraphQLContext).partialErrors;
        if (partial.length === 0 || Symbol.asyncIterator in result) return;
        setResult({ ...result, errors: [...(result.errors ?? []), ...partial] });
      },
    };
  },
};

/** Introspection off (production): `__schema` and `__type` are refused before execution; `__typename` stays. */
const refuseIntrospection: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value === '__schema' || node.name.value === '__type') {
      context.reportError(
        new GraphQLError('Introspection is disabled on this gateway', { nodes: node, extensions: { code: 'INTROSPECTION_DISABLED' } }),
      );
    }
  },
});

const noIntrospection: Plugin = {
  onValidate({ addValidationRule }) {
    addValidationRule(refuseIntrospection);
  },
};

/**
 * graphql-jit for queries and mutations, for measuring (`npm run bench -- --jit`); not a
 * dependency: `npm install --no-save @envelop/graphql-jit` first. Not the default: its errors
 * carry no `locations` and its variable errors read differently from graphql-js's; it turns an
 * error thrown while subscribing into an unexpected one, so subscriptions keep graphql-js.
 */
function compiledQueries(): Plugin<GraphQLContext> {
  let jit: { useGraphQlJit: (options: object, pluginOptions: { enableIf: (args: { document: DocumentNode; operationName?: string | null }) => boolean }) => unknown };
  try {
    jit = createRequire(import.meta.url)('@envelop/graphql-jit');
  } catch (error) {
    throw new Error(`jit: true needs @envelop/graphql-jit (npm install --no-save @envelop/graphql-jit): ${String(error)}`);
  }
  return jit.useGraphQlJit({}, { enableIf: (args) => getOperationAST(args.document, args.operationName)?.operation !== 'subscription' }) as Plugin<GraphQLContext>;
}

export interface GatewayYogaOptions {
  upstreams: Upstreams;
  scans: ScanService;
  logger: Logger;
  limits?: RequestLimits;
  audit?: AuditSink;
  /** Inventory mirrors: service-account callers' inventory queries read them. */
  mirrors?: InventoryMirrors;
  /** GraphiQL on: introspection allowed (off: refused with INTROSPECTION_DISABLED). */
  graphiql?: boolean;
  /** Appended to the gateway's own plugins (observability). */
  plugins?: Plugin<GraphQLContext>[];
  /** Run only the operations of this manifest (for the callers it applies to). */
  trustedDocuments?: TrustedDocuments;
  /** Execute queries and mutations with graphql-jit instead of graphql-js (default false; see compiledQueries). */
  jit?: boolean;
}

/** Yoga with the caller that src/http/access.ts (HTTP) or the WebSocket server decided, as server context. */
export type GatewayYoga = YogaServerInstance<{ caller?: Caller }, GraphQLContext>;

export function createGatewayYoga({
  upstreams,
  scans,
  logger: rootLogger,
  graphiql = true,
  limits = DEFAULT_LIMITS,
  audit = loggerAuditSink(rootLogger),
  mirrors,
  plugins = [],
  trustedDocuments,
  jit = false,
}: GatewayYogaOptions): GatewayYoga {
  return createYoga<{ caller?: Caller }, GraphQLContext>({
    schema: createSchema<GraphQLContext>({ typeDefs: loadTypeDefs(), resolvers: resolvers as never }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // CORS is decided before yoga (src/http/access.ts): an allowlist, nothing cross-origin by default.
    cors: false,
    // The GraphiQL page is served by the HTTP layer (src/http/graphiql-page.ts), compressed and cached.
    graphiql: false,
    logging: {
      debug: (...a) => rootLogger.debug(String(a[0]), { args: a.slice(1) }),
      info: (...a) => rootLogger.info(String(a[0]), { args: a.slice(1) }),
      warn: (...a) => rootLogger.warn(String(a[0]), { args: a.slice(1) }),
      error: (...a) => rootLogger[logLevelOf(a[0])](String(a[0]), { args: a.slice(1) }),
    },
    maskedErrors: {
      maskError(error) {
        const { error: clientError, unexpected } = toClientError(error);
        if (unexpected) {
          const original = (error as GraphQLError).originalError ?? error;
          rootLogger.error('unexpected error while executing a GraphQL operation', { error: original, path: clientError.path });
        }
        return clientError;
      },
    },
    context: (initial: YogaInitialContext & { caller?: Caller; req?: { headers: Record<string, string | string[] | undefined> } }): GraphQLContext => {
      // HTTP requests bring their record; a WebSocket operation starts one here.
      const operation = currentOperation() ?? newOperation(requestIdFrom(initial.req?.headers['x-request-id']), 'ws');
      const logger = rootLogger.child({ requestId: operation.requestId });
      return createContext({ upstreams, scans, logger, audit, operation, ...(mirrors ? { mirrors } : {}) }, initial.caller ?? anonymousCaller());
    },
    plugins: [
      // First: the gateway's own execute wrappers below (call scope, observability) wrap the executor it sets.
      ...(jit ? [compiledQueries()] : []),
      ...(trustedDocuments ? [trustedDocumentsPlugin(trustedDocuments)] : []),
      accessPlugin(),
      armorPlugin(limits),
      maxDirectivesPlugin(limits.maxDirectives),
      hideSuggestionsPlugin,
      costPlugin(limits.maxCost),
      subscriptionCapPlugin(limits.maxSubscriptionsPerCaller),
      callScopePlugin(limits.deadlineMs),
      partialResults,
      staleDataWarnings,
      sharedSubscriptions(),
      ...(graphiql ? [] : [noIntrospection]),
      ...plugins,
    ],
  });
}

export const EXAMPLE_QUERY = /* GraphQL */ `# Every cluster of every vCenter, its hosts and the images they run.
query Fleet {
  vcenters { name about { version build apiVersion } }
  clusters(first: 20) {
    totalCount
    nodes {
      name
      vcenter { name }
      hosts {
        nodes { name connectionState inMaintenanceMode product { version build } }
      }
      installedImages {
        status
        uniformImage
        imageCategories {
          mostWidelyUsedImage {
            softwareInfo { baseImage { version displayVersion } addOn { name version } }
            hosts { name }
          }
        }
      }
    }
  }
}
`;

/**
 * GraphiQL: subscriptions over SSE on the same endpoint, and every request as a POST (a GET
 * carries the document in its URL: a subscription to hundreds of scans outgrows the header limit).
 */
export const GRAPHIQL_OPTIONS: GraphiQLOptions = {
  title: 'vSphere GraphQL gateway',
  defaultQuery: EXAMPLE_QUERY,
  subscriptionsProtocol: 'SSE',
  method: 'POST',
  useGETForQueries: false,
  // A bearer token typed into the Headers editor stays in the tab, never in the browser's storage.
  shouldPersistHeaders: false,
};
