/** LatestPerKeyQueue: what a slow reader of scan events holds, and how its stream ends. */
import { describe, expect, it } from 'vitest';
import { LatestPerKeyQueue } from '../src/scans/latest-queue.ts';

async function drain<T>(queue: LatestPerKeyQueue<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of queue) out.push(value);
  return out;
}

describe('LatestPerKeyQueue', () => {
  it('keeps the newest unread value per key, in first-arrival order, and every unkeyed value', async () => {
    const queue = new LatestPerKeyQueue<string>();
    for (let i = 0; i < 5_000; i++) queue.push(`a${i}`, 'a');
    queue.push('b0', 'b');
    queue.push('x');
    queue.push('y');
    queue.push('a-final', 'a');
    queue.end();
    expect(await drain(queue)).toEqual(['a-final', 'b0', 'x', 'y']);
  });

  it('hands a value straight to a waiting reader, and queues anew after a read', async () => {
    const queue = new LatestPerKeyQueue<number>();
    const first = queue.next();
    queue.push(1, 'k');
    expect(await first).toEqual({ value: 1, done: false });
    queue.push(2, 'k');
    queue.push(3, 'k');
    expect(await queue.next()).toEqual({ value: 3, done: false });
    queue.push(4, 'k');
    expect(await queue.next()).toEqual({ value: 4, done: false });
  });

  it('delivers the unread values before an error, then the error once, then done', async () => {
    const queue = new LatestPerKeyQueue<number>();
    queue.push(1, 'k');
    queue.end(new Error('vCenter unreachable'));
    queue.push(2, 'k'); // after the end: dropped
    expect(await queue.next()).toEqual({ value: 1, done: false });
    await expect(queue.next()).rejects.toThrow('vCenter unreachable');
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  it('calls onReturn once when the reader leaves before the end, never after the end', async () => {
    let returns = 0;
    const left = new LatestPerKeyQueue<number>(() => returns++);
    const pending = left.next();
    await left.return();
    await left.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(returns).toBe(1);

    const ended = new LatestPerKeyQueue<number>(() => returns++);
    ended.end();
    await ended.return();
    expect(returns).toBe(1);
  });

  it('with a bound on unread unkeyed values, ends with the overflow value after the values it kept', async () => {
    let overflows = 0;
    const queue = new LatestPerKeyQueue<number>(() => {}, { maxUnkeyed: 3, onOverflow: () => -++overflows });
    for (let i = 1; i <= 3; i++) queue.push(i);
    queue.push(10, 'k'); // keyed values do not count against the bound
    expect(await queue.next()).toEqual({ value: 1, done: false });
    queue.push(4); // one was read: room for one more
    queue.push(5); // over the bound: replaced by the overflow value, then the end
    queue.push(6); // after the end: dropped
    expect(await drain(queue)).toEqual([2, 3, 10, 4, -1]);
    expect(overflows).toBe(1);
  });
});
