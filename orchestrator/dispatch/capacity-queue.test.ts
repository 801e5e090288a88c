import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { createCapacityQueue } from './capacity-queue.ts';

const settle = () => new Promise((resolve) => setImmediate(resolve));

function queue(
  overrides: { maxQueued?: number | (() => number); timeoutMs?: number; ttftMs?: () => number | undefined } = {},
) {
  const clock = createVirtualClock();
  const depths: number[] = [];
  const q = createCapacityQueue({
    maxQueued: overrides.maxQueued ?? 2,
    timeoutMs: overrides.timeoutMs ?? 1000,
    ...(overrides.ttftMs ? { ttftMs: overrides.ttftMs } : {}),
    clock,
    pollMs: 100,
    onDepth: (n) => depths.push(n),
  });
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

  it('passes a turn to the waiter behind a ticket, so a waiter whose worker is full blocks nobody', async () => {
    const { q } = queue({ maxQueued: 3 });
    const signal = new AbortController().signal;
    const [a, b, c] = [q.ticket(), q.ticket(), q.ticket()];
    const ta = track(q.waitTurn(a, signal));
    const tb = track(q.waitTurn(b, signal));
    const tc = track(q.waitTurn(c, signal));
    q.wake();
    await settle();
    expect([ta.done, tb.done, tc.done]).toEqual([true, false, false]);
    // a still found no room: back in its place, and the turn goes to b, not to a again.
    const ta2 = track(q.waitTurn(a, signal));
    q.wake(a);
    await settle();
    expect([ta2.done, tb.done, tc.done]).toEqual([false, true, false]);
    // Past the last waiter there is nobody to pass to.
    q.wake(c);
    await settle();
    expect([ta2.done, tc.done]).toEqual([false, false]);
    expect(q.length).toBe(2);
  });

  it('passes one turn on at most maxPasses times', async () => {
    const clock = createVirtualClock();
    const q = createCapacityQueue({ maxQueued: 10, timeoutMs: 1000, clock, maxPasses: 2 });
    const signal = new AbortController().signal;
    const tickets = Array.from({ length: 4 }, () => q.ticket());
    const states = tickets.map((t) => track(q.waitTurn(t, signal)));
    q.wake(); // tickets[0]'s turn; then it and each next one find no room and pass it on
    await settle();
    q.wake(tickets[0]);
    await settle();
    q.wake(tickets[1]);
    await settle();
    q.wake(tickets[2]); // a third pass: refused
    await settle();
    expect(states.map((s) => s.done)).toEqual([true, true, true, false]);
    q.wake(); // a plain wake starts a new turn: the first waiter in line (none re-entered) is tickets[3]
    await settle();
    expect(states[3]!.done).toBe(true);
    expect(q.length).toBe(0);
  });

  it('refuses with rate_limited and Retry-After when full, but not a waiter coming back', async () => {
    const { q } = queue({ maxQueued: 1, timeoutMs: 3000 });
    const signal = new AbortController().signal;
    const first = q.ticket();
    track(q.waitTurn(first, signal));
    const refused = await q.waitTurn(q.ticket(), signal).catch((e: TandemError) => e);
    // No drain rate known yet: Retry-After is the longest a request may wait.
    expect(refused).toMatchObject({ code: 'rate_limited', retryAfterS: 3 });
    expect((refused as TandemError).message).toContain(
      '1 requests are already waiting (the most this server queues is 1)',
    );
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
    expect(error).toMatchObject({ code: 'unavailable', retryAfterS: 1 });
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
    await expect(q.waitTurn(q.ticket(), new AbortController().signal)).rejects.toMatchObject({
      message: 'shutting down',
    });
  });

  it('reads a bound given as a function at each arrival (a fleet that grows queues more)', async () => {
    let bound = 1;
    const { q } = queue({ maxQueued: () => bound });
    const signal = new AbortController().signal;
    track(q.waitTurn(q.ticket(), signal));
    await expect(q.waitTurn(q.ticket(), signal)).rejects.toMatchObject({ code: 'rate_limited' });
    bound = 2;
    const second = track(q.waitTurn(q.ticket(), signal));
    await settle();
    expect(second.error).toBeUndefined();
    expect(q.length).toBe(2);
  });

  it('refuses at once an arrival whose expected wait at the measured drain rate exceeds the timeout, with Retry-After = the drain time', async () => {
    const { q, clock } = queue({ maxQueued: 1000, timeoutMs: 2000 });
    const signal = new AbortController().signal;
    // 10 queued requests found a worker over one second: the line drains at 10 per second.
    for (let i = 0; i < 10; i++) {
      const ticket = q.ticket();
      const waiting = track(q.waitTurn(ticket, signal));
      q.wake();
      await settle();
      expect(waiting.done).toBe(true);
      q.placed();
      await clock.advanceAsync(100);
    }
    // 20 may wait (the 20th starts after 20 / 10 per second = 2 s); the 21st would wait longer than the timeout.
    expect(q.refusal()).toBeUndefined(); // nobody waits: an arrival tries the workers first
    const tickets = Array.from({ length: 20 }, () => q.ticket());
    const waiting = tickets.map((t, i) => {
      if (i > 0) expect(q.refusal()).toBeUndefined();
      return track(q.waitTurn(t, signal));
    });
    await settle();
    expect(waiting.every((w) => w.error === undefined)).toBe(true);
    expect(q.drainSeconds()).toBeCloseTo(2, 5);
    // The frontend asks before tokenizing, and gets the refusal the arrival would get.
    expect(q.refusal()).toMatchObject({ code: 'rate_limited', retryAfterS: 2 });
    expect(q.length).toBe(20);
    const refused = await q.waitTurn(q.ticket(), signal).catch((e: TandemError) => e);
    expect(refused).toMatchObject({ code: 'rate_limited', retryAfterS: 2 });
    expect((refused as TandemError).message).toContain(
      'the 20 requests waiting take about 2.0 s to start at the current rate of 10 per second',
    );
    // A turn that placed nobody is not a departure: the rate stays what was measured.
    q.wake();
    await settle();
    expect(q.drainSeconds()).toBeCloseTo(1.9, 5);
  });

  it('holds an arrival only as long as twice what the fleet takes to a first token, not the whole timeout', async () => {
    let ttftMs: number | undefined;
    const { q, clock } = queue({ maxQueued: 1000, timeoutMs: 2000, ttftMs: () => ttftMs });
    const signal = new AbortController().signal;
    // 10 requests found a worker at once over one second (nobody queued): the rate is known anyway.
    for (let i = 0; i < 10; i++) {
      q.placed();
      await clock.advanceAsync(100);
    }
    const first = track(q.waitTurn(q.ticket(), signal)); // an empty line is always joined
    await settle();
    expect(first.error).toBeUndefined();
    // No TTFT known: the budget is the timeout, and a second may wait (2 / 10 per second = 0.2 s < 2 s).
    expect(q.refusal()).toBeUndefined();
    // The fleet answers in 50 ms: the budget is 100 ms, so the same arrival is refused at once, saying why in true numbers.
    ttftMs = 50;
    expect(q.refusal()).toMatchObject({ code: 'rate_limited', retryAfterS: 1 });
    const refused = await q.waitTurn(q.ticket(), signal).catch((e: TandemError) => e);
    expect((refused as TandemError).message).toBe(
      'every worker is saturated and the 1 requests waiting take about 100 ms to start at the current rate of 10 per second, longer than a request may wait now (100 ms: 2 x the 50 ms the workers take to a first token); retry later',
    );
    expect(q.length).toBe(1);
    // A slow fleet (TTFT 1.5 s) does not stretch the wait past the timeout: the cap is named.
    ttftMs = 1500;
    for (let i = 0; i < 19; i++) track(q.waitTurn(q.ticket(), signal));
    await settle();
    expect(q.length).toBe(20);
    expect(q.refusal()?.message).toContain('longer than a request may wait now (2000 ms: the queue timeout)');
  });

  it('lets a waiter wait its budget as it was when it joined, then gives up with 503 saying so', async () => {
    let ttftMs: number | undefined = 50;
    const { q, clock } = queue({ maxQueued: 10, timeoutMs: 2000, ttftMs: () => ttftMs });
    const waiting = track(q.waitTurn(q.ticket(), new AbortController().signal));
    await settle();
    ttftMs = 900; // a slower fleet later does not stretch a wait already begun
    await clock.advanceAsync(99);
    expect(waiting.error).toBeUndefined();
    await clock.advanceAsync(2);
    // No drain rate known: Retry-After is the queue timeout.
    expect(waiting.error).toMatchObject({ code: 'unavailable', retryAfterS: 2 });
    expect(waiting.error?.message).toBe(
      'every worker stayed saturated for the 100 ms it could wait (2 x the 50 ms the workers take to a first token); retry later',
    );
    expect(q.length).toBe(0);
  });
});
