/**
 * Identical subscriptions share one execution. A dashboard opened by 1,000 people follows the
 * same scans with the same document: without this, every change of a scan is resolved and
 * executed once per subscriber (and every new subscriber reads its scans' first state upstream).
 * With it, one execution runs per change and its results go to every subscriber of the same
 * operation.
 *
 * Two kinds of results. A *state* (a scan as it is now) names its event key through
 * `ctx.onSubscriptionEvent`: one who joins later first gets the latest result of every key
 * (every followed scan, finished ones included), then the changes, and a slow subscriber's
 * unread states of one key collapse into the newest. An *event* (a host changed: hostsChanged)
 * names no key: each one reaches every subscriber that was there when it happened, none is
 * dropped or merged, and a later joiner gets none from before it joined.
 *
 * "Identical" is the same caller (`ctx.caller.key`: one caller's results never reach another),
 * the same parsed document (yoga's parser cache hands out one DocumentNode per query text),
 * operation name and variables, where lists of strings count as sets (the subscriptions of
 * this schema take ID lists whose order and repeats do not matter).
 *
 * The shared execution runs on a context of its own (`createContext`), never on the first
 * subscriber's: it outlives that subscriber, and its resolvers renew the loaders per event.
 */
import { GraphQLError } from 'graphql';
import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LatestPerKeyQueue } from '../scans/latest-queue.ts';
import { createContext } from './context.ts';
import type { GraphQLContext } from './context.ts';

type SubscribeResult = ExecutionResult | AsyncIterable<ExecutionResult>;

/**
 * One subscriber's stream, registered with the shared stream as soon as the subscriber joins
 * so nothing between joining and the first pull is lost. Unread results of the same event key
 * collapse into the newest: a subscriber that does not read holds one result per key. Unkeyed
 * results (events) are each kept, up to MAX_UNREAD_EVENTS.
 */
type Channel = LatestPerKeyQueue<ExecutionResult>;

/**
 * Unread events one subscriber may hold before its stream ends with SUBSCRIBER_TOO_SLOW: a
 * reader that far behind is not following any more, and the shared execution must not wait
 * for it nor hold an unbounded queue for it.
 */
export const MAX_UNREAD_EVENTS = 10_000;

interface SharedStream {
  /** The first subscriber's subscribe call: a stream, or the error result every joiner gets too. */
  ready: Promise<SubscribeResult>;
  channels: Set<Channel>;
  /** The newest result per event key, least recently updated first: a late joiner's start. */
  latest: Map<unknown, ExecutionResult>;
  /** The key the resolver named for the result being executed now. */
  currentKey?: unknown;
  iterator?: AsyncIterator<ExecutionResult>;
  /** Set once the stream has ended by itself (completed, or failed with `error`). */
  ended?: { error?: unknown };
}

function isStream(result: SubscribeResult): result is AsyncIterable<ExecutionResult> {
  return typeof (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator] === 'function';
}

/** A stable text of variables: object keys sorted, string lists as sorted sets. */
export function canonicalVariables(value: unknown): string {
  const normalize = (v: unknown): unknown => {
    if (Array.isArray(v)) {
      if (v.length > 0 && v.every((x) => typeof x === 'string')) return [...new Set(v as string[])].sort();
      return v.map(normalize);
    }
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, normalize((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(normalize(value ?? {}));
}

export function sharedSubscriptions(): Plugin {
  const streams = new Map<string, SharedStream>();
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 1;

  const keyOf = (callerKey: string, document: DocumentNode, operationName: string | null | undefined, variables: unknown): string => {
    let id = documentIds.get(document);
    if (id === undefined) documentIds.set(document, (id = nextDocumentId++));
    return JSON.stringify([callerKey, id, operationName ?? '', canonicalVariables(variables)]);
  };

  /** Runs the shared stream, handing each result to every channel, until it ends or nobody listens. */
  const pump = async (key: string, shared: SharedStream, stream: AsyncIterable<ExecutionResult>): Promise<void> => {
    const iterator = stream[Symbol.asyncIterator]();
    shared.iterator = iterator;
    let failure: unknown;
    try {
      for (;;) {
        shared.currentKey = undefined;
        // Results come one at a time: the key named during this next() belongs to its result.
        const next = await iterator.next();
        if (next.done) break;
        const eventKey = shared.currentKey;
        if (eventKey !== undefined) {
          shared.latest.delete(eventKey);
          shared.latest.set(eventKey, next.value);
        }
        for (const channel of shared.channels) channel.push(next.value, eventKey);
      }
    } catch (error) {
      failure = error;
    } finally {
      if (streams.get(key) === shared) streams.delete(key);
      shared.ended = { error: failure };
      for (const channel of shared.channels) channel.end(failure);
      shared.channels.clear();
    }
  };

  const join = (key: string, shared: SharedStream): Channel => {
    const leave = () => {
      shared.channels.delete(channel);
      if (shared.channels.size === 0 && !shared.ended && streams.get(key) === shared) {
        // The last subscriber left before the end: stop the execution (and the scans' follow).
        streams.delete(key);
        void shared.iterator?.return?.();
      }
    };
    const channel: Channel = new LatestPerKeyQueue<ExecutionResult>(leave, {
      maxUnkeyed: MAX_UNREAD_EVENTS,
      // The subscriber learns why its stream ends, as a GraphQL error, after what it has not read.
      onOverflow: () => {
        leave();
        return {
          errors: [
            new GraphQLError(`More than ${MAX_UNREAD_EVENTS} events waited unread for this subscriber: the subscription ends`, {
              extensions: { code: 'SUBSCRIBER_TOO_SLOW' },
            }),
          ],
        };
      },
    });
    for (const [eventKey, result] of shared.latest) channel.push(result, eventKey);
    if (shared.ended) channel.end(shared.ended.error);
    else shared.channels.add(channel);
    return channel;
  };

  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const first = args.contextValue as unknown as GraphQLContext;
      const key = keyOf(first.caller.key, args.document, args.operationName, args.variableValues);
      setSubscribeFn(async (subscribeArgs) => {
        let shared = streams.get(key);
        if (!shared) {
          // Not bound to this caller's connection: others will share it (each leaves through its own channel).
          const { signal: _callerSignal, ...shareable } = subscribeArgs as typeof subscribeArgs & { signal?: AbortSignal };
          const created = { channels: new Set(), latest: new Map() } as unknown as SharedStream;
          const contextValue: GraphQLContext = {
            ...createContext(first, first.caller),
            onSubscriptionEvent: (eventKey) => (created.currentKey = eventKey),
          };
          created.ready = Promise.resolve(subscribeFn({ ...shareable, contextValue }) as Promise<SubscribeResult>);
          shared = created;
          streams.set(key, created);
          created.ready.then(
            (result) => {
              if (isStream(result)) void pump(key, created, result);
              else if (streams.get(key) === created) streams.delete(key); // errors are not shared with later callers
            },
            () => {
              if (streams.get(key) === created) streams.delete(key);
            },
          );
        }
        const result = await shared.ready;
        return isStream(result) ? join(key, shared) : result;
      });
    },
  };
}
