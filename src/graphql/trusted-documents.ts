/**
 * Trusted documents (persisted operations): the gateway runs only operations listed in a
 * manifest that the front end's build generated (GraphQL codegen's client preset with
 * `persistedDocuments: true` writes `{ "<hash>": "<document>" }`). Clients send the hash in
 * `extensions.persistedQuery.sha256Hash` instead of the document; an unknown hash, or a document
 * sent as text by a caller the mode applies to, is refused before parsing.
 * Applies to HTTP, SSE and (through the same function) graphql-ws. Errors come from yoga's
 * createGraphQLError so that graphql-ws (which checks `instanceof GraphQLError`) sees its own class.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { Plugin } from 'graphql-yoga';
import { hasRole } from '../auth/caller.ts';
import type { Caller } from '../auth/caller.ts';
import { describeIssues, text } from '../config-kit.ts';

/**
 * `all`: every caller; `viewers`: callers without the gateway's operator role (front-end users),
 * while operators (platform scripts, GraphiQL) may still send any document.
 */
export type TrustedDocumentsEnforcement = 'all' | 'viewers';

export interface TrustedDocuments {
  /** Hash (as the manifest spells it) → document text. */
  documents: ReadonlyMap<string, string>;
  enforce: TrustedDocumentsEnforcement;
}

const MANIFEST = z
  .record(z.string(), text(), { error: 'must be a JSON object of hash → document' })
  .refine((manifest) => Object.keys(manifest).length > 0, { error: 'lists no document' });

/** Reads a codegen persisted-documents manifest; throws with every reason when it is unusable. */
export function loadTrustedDocuments(manifestPath: string, enforce: TrustedDocumentsEnforcement): TrustedDocuments {
  let text: string;
  try {
    text = readFileSync(manifestPath, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${manifestPath} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new Error(`${manifestPath} is not JSON (${(error as Error).message})`);
  }
  const parsed = MANIFEST.safeParse(manifest);
  if (!parsed.success) throw new Error(describeIssues(manifestPath, MANIFEST, manifest, parsed.error.issues).join('; '));
  return { documents: new Map(Object.entries(parsed.data)), enforce };
}

interface Params {
  query?: string | null | undefined;
  extensions?: Record<string, unknown> | null | undefined;
}

function persistedHash(params: Params): unknown {
  const persisted = params.extensions?.['persistedQuery'] as { sha256Hash?: unknown } | undefined;
  return persisted?.sha256Hash;
}

/**
 * The document to run for these request parameters: the manifest's for a hash, the text as
 * sent where the mode allows it; otherwise a typed error.
 */
export function trustedQuery(trusted: TrustedDocuments, params: Params, caller: Caller | undefined): { query: string | undefined } | { error: GraphQLError } {
  const hash = persistedHash(params);
  if (hash !== undefined) {
    const query = typeof hash === 'string' ? trusted.documents.get(hash) : undefined;
    if (query === undefined) {
      return { error: createGraphQLError('Unknown persisted document', { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } }) };
    }
    return { query };
  }
  const enforced = trusted.enforce === 'all' || !caller || !hasRole(caller, 'operator');
  if (enforced) {
    return {
      error: createGraphQLError('This gateway runs trusted documents only: send the hash of a persisted document in extensions.persistedQuery.sha256Hash', {
        extensions: { code: 'PERSISTED_QUERY_ONLY', http: { status: 403 } },
      }),
    };
  }
  return { query: params.query ?? undefined };
}

/** The HTTP/SSE side: swaps the hash for the manifest's document, or answers with the refusal. */
export function trustedDocumentsPlugin(trusted: TrustedDocuments): Plugin<{}, { caller?: Caller }> {
  return {
    onParams({ params, setParams, context }) {
      const outcome = trustedQuery(trusted, params, (context as { caller?: Caller }).caller);
      if ('error' in outcome) throw outcome.error;
      setParams({ ...params, query: outcome.query });
    },
  };
}
