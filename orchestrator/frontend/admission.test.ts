import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { createRng } from '../../common/rng.ts';
import { createAdmissionQueue } from './admission.ts';

function setup(maxInflight: number, maxQueued: number) {
  const clock = createVirtualClock();
  const depths: number[] = [];
  const queue = createAdmissionQueue({
    maxInflight,
    maxQueued,
    queueTimeoutMs: 1000,
    retryAfterS: 3,
    clock,
    onQueueDepth: (d) => depths.push(d),
  });
  return { clock, queue, depths };
}

const never = new AbortController().signal;

describe('admission queue', () => {
  it('admits up to the in-flight bound, then queues in arrival order', async () => {
    const { queue } = setup(2, 10);
    const a = await queue.acquire(never);
    await queue.acquire(never);
    const order: string[] = [];
    const c = queue.acquire(never).then((release) => (order.push('c'), release));
    const d = queue.acquire(never).then((release) => (order.push('d'), release));
    expect(queue.queued).toBe(2);
    a();
    (await c)();
    await d;
    expect(order).toEqual(['c', 'd']);
    expect(queue.inflight).toBe(2);
    expect(queue.queued).toBe(0);
  });

  it('refuses with rate_limited and Retry-After when the queue is full', async () => {
    const { queue } = setup(1, 1);
    await queue.acquire(never);
    void queue.acquire(never);
    const error = await queue.acquire(never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TandemError);
    expect((error as TandemError).code).toBe('rate_limited');
    expect((error as TandemError).retryAfterS).toBe(3);
  });

  it('gives up with unavailable after the queue timeout', async () => {
    const { queue, clock, depths } = setup(1, 5);
    await queue.acquire(never);
    const waiting = queue.acquire(never).catch((e: unknown) => e);
    clock.advance(999);
    expect(queue.queued).toBe(1);
    clock.advance(1);
    const error = (await waiting) as TandemError;
    expect(error.code).toBe('unavailable');
    expect(error.retryAfterS).toBe(3);
    expect(queue.queued).toBe(0);
    expect(depths).toEqual([1, 0]);
  });

  it('drops a waiter whose client went away, and the slot goes to the next one', async () => {
    const { queue } = setup(1, 5);
    const first = await queue.acquire(never);
    const gone = new AbortController();
    const leaving = queue.acquire(gone.signal).catch((e: unknown) => e);
    const staying = queue.acquire(never);
    gone.abort(new TandemError('cancelled', 'client went away'));
    expect(((await leaving) as TandemError).code).toBe('cancelled');
    expect(queue.queued).toBe(1); // the one that left no longer counts against the bound
    first();
    await staying;
    expect(queue.inflight).toBe(1);
  });

  it('ignores a second release of the same slot', async () => {
    const { queue } = setup(1, 5);
    const release = await queue.acquire(never);
    release();
    release();
    expect(queue.inflight).toBe(0);
  });
  it('keeps the bound and the arrival order under random arrivals, departures and releases', async () => {
    const rng = createRng(7);
    const { queue, clock } = setup(3, 4);
    const held: (() => void)[] = [];
    const admitted: number[] = [];
    const waiting: { id: number; leave: AbortController }[] = [];
    let next = 0;
    for (let step = 0; step < 2000; step++) {
      const roll = rng.int(10);
      if (roll < 4) {
        const id = next++;
        const leave = new AbortController();
        const before = { running: queue.inflight, queued: queue.queued };
        const outcome = queue.acquire(leave.signal).then(
          (release) => (admitted.push(id), held.push(release)),
          (error: TandemError) => error.code,
        );
        if (before.running < 3 && before.queued === 0) expect(queue.inflight).toBe(before.running + 1);
        else if (before.queued >= 4) expect(await outcome).toBe('rate_limited');
        else waiting.push({ id, leave });
      } else if (roll < 7 && held.length > 0) {
        held.splice(rng.int(held.length), 1)[0]?.();
      } else if (roll < 8 && waiting.length > 0) {
        waiting.splice(rng.int(waiting.length), 1)[0]?.leave.abort(new TandemError('cancelled', 'gone'));
      } else {
        clock.advance(rng.int(400));
      }
      await Promise.resolve();
      await Promise.resolve();
      expect(queue.inflight).toBeLessThanOrEqual(3);
      expect(queue.queued).toBeLessThanOrEqual(4);
      if (queue.queued > 0) expect(queue.inflight).toBe(3);
      for (let k = waiting.length - 1; k >= 0; k--) if (admitted.includes(waiting[k]?.id ?? -1)) waiting.splice(k, 1);
    }
    const queuedAdmissions = admitted.filter((id, k) => k > 0 && id < (admitted[k - 1] ?? 0));
    expect(queuedAdmissions).toEqual([]); // admitted in arrival order
  });
});
