import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { createCapacityQueue } from './capacity-queue.ts';

const settle = () => new Promise((resolve) => setImmediate(resolve));

function queue(overrides: { maxQueued?: number; timeoutMs?: number } = {}) {
  const clock = createVirtualClock();
  const depths: number[] = [];
  const q = createCapacityQueue({ maxQueued: overrides.maxQueued ?? 2, timeoutMs: overrides.timeoutMs ?? 1000, retryAfterS: 3, clock, pollMs: 100, onDepth: (n) => depths.push(n) });
  return { clock, q, depths };
}

function track(promise: Promise<void>) {
  const state: { done: boolean; error: TandemError | undefined } = { done: false, error: undefined };
  promise.then(
    () => (state.done = true),
    (error: TandemError) => (state.error = error),
  );
  return state;
}

describe('the admission queue', () => {
  it('gives turns in arrival order, and a re-entering waiter keeps its place', async () => {
    const { q } = queue({ maxQueued: 3 });
    const signal = new AbortController().signal;
    const [a, b, c] = [q.ticket(), q.ticket(), q.ticket()];
    const ta = track(q.waitTurn(a, signal));
    const tb = track(q.waitTurn(b, signal));
    q.wake();
    await settle();
    expect([ta.done, tb.done]).toEqual([true, false]);
    const tc = track(q.waitTurn(c, signal));
    // a found no room: back in line, ahead of b and c.
    const ta2 = track(q.waitTurn(a, signal));
    q.wake();
    await settle();
    expect([ta2.done, tb.done, tc.done]).toEqual([true, false, false]);
    q.wake();
    q.wake();
    await settle();
    expect([tb.done, tc.done]).toEqual([true, true]);
  });

  it('refuses with rate_limited and Retry-After when full, but not a waiter coming back', async () => {
    const { q } = queue({ maxQueued: 1 });
    const signal = new AbortController().signal;
    const first = q.ticket();
    track(q.waitTurn(first, signal));
    const refused = await q.waitTurn(q.ticket(), signal).catch((e: TandemError) => e);
    expect(refused).toMatchObject({ code: 'rate_limited', retryAfterS: 3 });
    q.wake();
    await settle();
    const back = track(q.waitTurn(first, signal));
    await settle();
    expect(back.error).toBeUndefined();
  });

  it('gives up with unavailable once a request has waited timeoutMs since it first queued', async () => {
    const { q, clock } = queue({ timeoutMs: 1000 });
    const signal = new AbortController().signal;
    const ticket = q.ticket();
    // Like the dispatcher: every turn finds no room, so it waits again at its old place.
    let turns = 0;
    let failedAtMs: number | undefined;
    let error: TandemError | undefined;
    void (async () => {
      for (;;) {
        try {
          await q.waitTurn(ticket, signal);
          turns++;
        } catch (e) {
          error = e as TandemError;
          failedAtMs = clock.now();
          return;
        }
      }
    })();
    await clock.advanceAsync(999);
    expect(error).toBeUndefined();
    expect(turns).toBe(9); // one poll every 100 ms
    await clock.advanceAsync(2);
    expect(error).toMatchObject({ code: 'unavailable', retryAfterS: 3 });
    expect(failedAtMs).toBe(1000);
    expect(q.length).toBe(0);
  });

  it('lets an aborted waiter leave with its reason, and polls the head while anyone waits', async () => {
    const { q, clock, depths } = queue();
    const abort = new AbortController();
    const leaving = track(q.waitTurn(q.ticket(), abort.signal));
    const staying = track(q.waitTurn(q.ticket(), new AbortController().signal));
    abort.abort(new TandemError('cancelled', 'client left'));
    await settle();
    expect(leaving.error?.message).toBe('client left');
    await clock.advanceAsync(100);
    expect(staying.done).toBe(true);
    expect(depths).toEqual([1, 2, 1, 0]);
  });

  it('refuses every waiter and newcomer once closed', async () => {
    const { q } = queue();
    const waiting = track(q.waitTurn(q.ticket(), new AbortController().signal));
    q.close(new TandemError('unavailable', 'shutting down'));
    await settle();
    expect(waiting.error?.message).toBe('shutting down');
    await expect(q.waitTurn(q.ticket(), new AbortController().signal)).rejects.toMatchObject({ message: 'shutting down' });
  });
});
