import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { GraphQLError } from 'graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createSchema, createYoga } from 'graphql-yoga';
import type { Plugin, YogaInitialContext, YogaServerInstance } from 'graphql-yoga';
import { anonymousCaller } from '../auth/caller.ts';
import type { Caller } from '../auth/caller.ts';
import type { Logger } from '../log.ts';
import type { InventoryMirrors } from '../mirror/index.ts';
import type { ScanService } from '../scans/service.ts';
import type { GraphQLContext, Upstreams } from './context.ts';
import { accessPlugin } from './access.ts';
import { loggerAuditSink } from './audit.ts';
import type { AuditSink } from './audit.ts';
import { toClientError } from './errors.ts';
import { inventoryReader, staleDataWarnings } from './live-inventory.ts';
import { createLoaders } from './loaders.ts';
import { DEFAULT_LIMITS, armorPlugin, deadlinePlugin } from './limits.ts';
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

export interface GatewayYogaOptions {
  upstreams: Upstreams;
  scans: ScanService;
  logger: Logger;
  graphiql?: boolean;
  limits?: RequestLimits;
  audit?: AuditSink;
  /** Inventory mirrors: service-account callers' inventory queries read them. */
  mirrors?: InventoryMirrors;
  /** Run only the operations of this manifest (for the callers it applies to). */
  trustedDocuments?: TrustedDocuments;
}

/** Yoga with the caller that src/http/access.ts (HTTP) or the WebSocket server decided, as server context. */
export type GatewayYoga = YogaServerInstance<{ caller?: Caller }, GraphQLContext>;

export function createGatewayYoga({ upstreams, scans, logger, graphiql = true, limits = DEFAULT_LIMITS, audit = loggerAuditSink(logger), mirrors, trustedDocuments }: GatewayYogaOptions): GatewayYoga {
  return createYoga<{ caller?: Caller }, GraphQLContext>({
    schema: createSchema<GraphQLContext>({ typeDefs: loadTypeDefs(), resolvers: resolvers as never }),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // CORS is decided before yoga (src/http/access.ts): an allowlist, nothing cross-origin by default.
    cors: false,
    // GraphiQL subscribes over SSE, which yoga serves on the same endpoint.
    graphiql: graphiql ? { title: 'vSphere GraphQL gateway', defaultQuery: EXAMPLE_QUERY, subscriptionsProtocol: 'SSE' } : false,
    // GraphiQL's scripts served by the gateway itself, not a CDN: it works on closed networks.
    renderGraphiQL,
    logging: {
      debug: (...a) => logger.debug(String(a[0]), { args: a.slice(1) }),
      info: (...a) => logger.info(String(a[0]), { args: a.slice(1) }),
      warn: (...a) => logger.warn(String(a[0]), { args: a.slice(1) }),
      error: (...a) => logger.error(String(a[0]), { args: a.slice(1) }),
    },
    maskedErrors: {
      maskError(error) {
        const { error: clientError, unexpected } = toClientError(error);
        if (unexpected) {
          const original = (error as GraphQLError).originalError ?? error;
          logger.error('unexpected error while executing a GraphQL operation', { error: original, path: clientError.path });
        }
        return clientError;
      },
    },
    context: (initial: YogaInitialContext & { caller?: Caller }): Omit<GraphQLContext, never> => {
      const partialErrors: GraphQLError[] = [];
      const caller = initial.caller ?? anonymousCaller();
      const callerUpstreams = upstreams.forCaller(caller);
      const callerScans = callerUpstreams === upstreams ? scans : scans.forCaller((vcenter) => callerUpstreams.get(vcenter));
      const inventory = inventoryReader(mirrors, caller);
      return {
        caller,
        upstreams: callerUpstreams,
        loaders: createLoaders(callerUpstreams, callerScans, inventory),
        scans: callerScans,
        ...(mirrors ? { mirrors } : {}),
        ...(inventory ? { inventory } : {}),
        logger,
        audit,
        partialErrors,
        reportPartialFailure(error, path, vcenter) {
          const { error: clientError, unexpected } = toClientError(error, { path });
          if (unexpected) logger.error('unexpected error reading a vCenter', { vcenter, error });
          else logger.warn('vCenter failed; answering with the others', { vcenter, code: clientError.extensions['code'] });
          partialErrors.push(clientError);
        },
      };
    },
    plugins: [...(trustedDocuments ? [trustedDocumentsPlugin(trustedDocuments)] : []), accessPlugin(), armorPlugin(limits), deadlinePlugin(limits.deadlineMs), partialResults, staleDataWarnings, sharedSubscriptions()],
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
