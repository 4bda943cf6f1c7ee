/**
 * An async iterator whose queue keeps only the newest unread value per key. A consumer that
 * reads slowly (or not at all) costs at most one pending value per key, never an unbounded
 * queue, and a producer never blocks or throws because of it: the producer is a shared watch
 * loop or a shared execution that other consumers depend on.
 *
 * Values pushed under `undefined` are never coalesced (each is kept): with `maxUnkeyed`, once
 * that many wait unread the next one is replaced by the value `onOverflow` returns, and the
 * stream ends after it.
 */
export class LatestPerKeyQueue<T> implements AsyncIterableIterator<T> {
  /** Unread values in arrival order; a newer value of the same key replaces the older in place. */
  private readonly queue: { key: unknown; value: T }[] = [];
  private readonly pending = new Map<unknown, { key: unknown; value: T }>();
  private waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private unreadUnkeyed = 0;

  /** `onReturn` runs once when the consumer leaves before the end. */
  constructor(
    private readonly onReturn: () => void = () => {},
    private readonly bound: { maxUnkeyed: number; onOverflow: () => T } | undefined = undefined,
  ) {}

  get isEnded(): boolean {
    return this.ended;
  }

  push(value: T, key?: unknown): void {
    if (this.ended) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value, done: false });
      return;
    }
    const unread = key === undefined ? undefined : this.pending.get(key);
    if (unread) {
      unread.value = value;
      return;
    }
    if (key === undefined && this.bound && this.unreadUnkeyed >= this.bound.maxUnkeyed) {
      // Unread values stay readable; the overflow's value comes after them, then the end.
      this.queue.push({ key: undefined, value: this.bound.onOverflow() });
      this.end();
      return;
    }
    const entry = { key, value };
    this.queue.push(entry);
    if (key !== undefined) this.pending.set(key, entry);
    else this.unreadUnkeyed++;
  }

  /** Ends the stream after the unread values; with an error, the consumer gets it once after them. */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.failure = { error };
    if (this.waiting) {
      const { resolve, reject } = this.waiting;
      this.waiting = undefined;
      const failure = this.takeFailure();
      if (failure) reject(failure.error);
      else resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    const entry = this.queue.shift();
    if (entry) {
      if (entry.key === undefined) this.unreadUnkeyed--;
      else if (this.pending.get(entry.key) === entry) this.pending.delete(entry.key);
      return Promise.resolve({ value: entry.value, done: false });
    }
    if (this.ended) {
      const failure = this.takeFailure();
      return failure ? Promise.reject(failure.error) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    const wasEnded = this.ended;
    this.queue.length = 0;
    this.pending.clear();
    this.unreadUnkeyed = 0;
    this.failure = undefined;
    this.end();
    if (!wasEnded) this.onReturn();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The failure is reported once, then the stream is simply done. */
  private takeFailure(): { error: unknown } | undefined {
    const failure = this.failure;
    this.failure = undefined;
    return failure;
  }
}
