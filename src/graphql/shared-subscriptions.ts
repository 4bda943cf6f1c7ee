/**
 * Identical subscriptions share one execution. A dashboard opened by 1,000 people follows the
 * same scans with the same document: without this, every change of a scan is resolved and
 * executed once per subscriber (and every new subscriber reads its scans' first state upstream).
 * With it, the first subscriber's stream is executed once per change and its results go to
 * every subscriber of the same operation; one who joins later starts from the latest result,
 * which is the current state as the vCenter's watch loop last saw it.
 *
 * "Identical" is the same parsed document (yoga's parser cache hands out one DocumentNode per
 * query text), operation name and variables. The context carries nothing per caller today; when
 * per-user credentials arrive, the caller's identity must join the key.
 */
import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

type SubscribeResult = ExecutionResult | AsyncIterable<ExecutionResult>;

/**
 * One subscriber's stream: results queue until it pulls them. Registered with the shared stream
 * as soon as the subscriber joins, so nothing between joining and the first pull is lost.
 */
class Channel implements AsyncIterableIterator<ExecutionResult> {
  private readonly queue: ExecutionResult[] = [];
  private waiting: ((r: IteratorResult<ExecutionResult>) => void) | undefined;
  private failWaiting: ((e: unknown) => void) | undefined;
  private ended = false;
  private failure: unknown;

  constructor(private readonly onReturn: () => void) {}

  push(result: ExecutionResult): void {
    if (this.ended) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = this.failWaiting = undefined;
      resolve({ value: result, done: false });
    } else this.queue.push(result);
  }

  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    if (this.waiting) {
      const [resolve, reject] = [this.waiting, this.failWaiting!];
      this.waiting = this.failWaiting = undefined;
      if (error !== undefined) reject(error);
      else resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const value = this.queue.shift();
    if (value) return Promise.resolve({ value, done: false });
    if (this.ended) {
      const failure = this.failure;
      this.failure = undefined; // reported once, then done
      return failure !== undefined ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    const wasEnded = this.ended;
    this.queue.length = 0;
    this.end();
    if (!wasEnded) this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

interface SharedStream {
  /** The first subscriber's subscribe call: a stream, or the error result every joiner gets too. */
  ready: Promise<SubscribeResult>;
  channels: Set<Channel>;
  latest?: ExecutionResult;
  iterator?: AsyncIterator<ExecutionResult>;
  /** Set once the stream has ended by itself (completed, or failed with `error`). */
  ended?: { error?: unknown };
}

function isStream(result: SubscribeResult): result is AsyncIterable<ExecutionResult> {
  return typeof (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator] === 'function';
}

export function sharedSubscriptions(): Plugin {
  const streams = new Map<string, SharedStream>();
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 1;

  const keyOf = (document: DocumentNode, operationName: string | null | undefined, variables: unknown): string => {
    let id = documentIds.get(document);
    if (id === undefined) documentIds.set(document, (id = nextDocumentId++));
    return `${id}\u0000${operationName ?? ''}\u0000${JSON.stringify(variables ?? {})}`;
  };

  /** Runs the shared stream, handing each result to every channel, until it ends or nobody listens. */
  const pump = async (key: string, shared: SharedStream, stream: AsyncIterable<ExecutionResult>): Promise<void> => {
    const iterator = stream[Symbol.asyncIterator]();
    shared.iterator = iterator;
    let failure: unknown;
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        shared.latest = next.value;
        for (const channel of shared.channels) channel.push(next.value);
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
    const channel = new Channel(() => {
      shared.channels.delete(channel);
      if (shared.channels.size === 0 && !shared.ended && streams.get(key) === shared) {
        // The last subscriber left before the end: stop the execution (and the scans' follow).
        streams.delete(key);
        void shared.iterator?.return?.();
      }
    });
    if (shared.latest) channel.push(shared.latest);
    if (shared.ended) channel.end(shared.ended.error);
    else shared.channels.add(channel);
    return channel;
  };

  return {
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const key = keyOf(args.document, args.operationName, args.variableValues);
      setSubscribeFn(async (subscribeArgs) => {
        let shared = streams.get(key);
        if (!shared) {
          // Not bound to this caller's connection: others will share it (each leaves through its own channel).
          const { signal: _callerSignal, ...shareable } = subscribeArgs as typeof subscribeArgs & { signal?: AbortSignal };
          const created: SharedStream = { ready: Promise.resolve(subscribeFn(shareable) as Promise<SubscribeResult>), channels: new Set() };
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
