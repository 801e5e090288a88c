import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { createMonotonicClock, createVirtualClock } from './clock.ts';

describe('virtual clock', () => {
  it('fires timers in time order, then insertion order, each at its due time', () => {
    const clock = createVirtualClock(100);
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(10, () => fired.push(`a@${clock.now()}`));
    clock.setTimer(30, () => fired.push(`c@${clock.now()}`));
    clock.advance(29);
    expect(fired).toEqual(['a@110']);
    clock.advance(1);
    expect(fired).toEqual(['a@110', 'b@130', 'c@130']);
    expect(clock.now()).toBe(130);
  });

  it('fires timers set by timers when they fall inside the advance', () => {
    const clock = createVirtualClock();
    const fired: number[] = [];
    clock.setTimer(5, () => clock.setTimer(5, () => fired.push(clock.now())));
    clock.advance(20);
    expect(fired).toEqual([10]);
    expect(clock.now()).toBe(20);
  });

  it('runs timers, and the timers they set, until none is due by the limit, time staying at the last', () => {
    const clock = createVirtualClock();
    const fired: number[] = [];
    const every100 = () => {
      fired.push(clock.now());
      if (clock.now() < 1000) clock.setTimer(100, every100);
    };
    clock.setTimer(100, every100);
    clock.runTimers(450);
    expect(fired).toEqual([100, 200, 300, 400]);
    expect(clock.now()).toBe(400);
    clock.runTimers();
    expect(fired.at(-1)).toBe(1000);
    expect(clock.now()).toBe(1000);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('does not fire a cancelled timer and reports what is pending', () => {
    const clock = createVirtualClock();
    const cancel = clock.setTimer(5, () => {
      throw new Error('should not fire');
    });
    clock.setTimer(7, () => undefined);
    expect(clock.pendingTimers()).toBe(2);
    cancel();
    expect(clock.pendingTimers()).toBe(1);
    expect(clock.nextTimerAt()).toBe(7);
    clock.advance(10);
    expect(clock.nextTimerAt()).toBeUndefined();
  });

  it('ignores cancelling a timer that already fired', () => {
    const clock = createVirtualClock();
    const cancel = clock.setTimer(1, () => undefined);
    clock.advance(1);
    cancel();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('fires what is left in (time, insertion) order however many timers are cancelled, wherever they sit', () => {
    const clock = createVirtualClock();
    const fired: number[] = [];
    const expected: { at: number; id: number }[] = [];
    const cancels: (() => void)[] = [];
    // A fixed pseudo-random mix of due times (many ties); every third timer is cancelled right
    // after the next one is set, and every seventh once all are set.
    let x = 12345;
    const draw = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 50;
    const cancelled = (id: number) => id % 3 === 0 || id % 7 === 2;
    for (let id = 0; id < 300; id++) {
      const at = draw();
      cancels.push(clock.setTimer(at, () => fired.push(id)));
      if (id % 3 === 1) cancels[id - 1]!();
      if (!cancelled(id)) expected.push({ at, id });
    }
    for (let id = 2; id < 300; id += 7) cancels[id]!();
    expect(clock.pendingTimers()).toBe(expected.length);
    expected.sort((a, b) => a.at - b.at || a.id - b.id);
    clock.advance(50);
    expect(fired).toEqual(expected.map((t) => t.id));
    expect(clock.pendingTimers()).toBe(0);
  });

  it('resumes awaiting code on advanceAsync, and sleep rejects when aborted', async () => {
    const clock = createVirtualClock();
    const steps: number[] = [];
    const task = (async () => {
      await clock.sleep(10);
      steps.push(clock.now());
      await clock.sleep(10);
      steps.push(clock.now());
    })();
    await clock.advanceAsync(25);
    await task;
    expect(steps).toEqual([10, 20]);

    const controller = new AbortController();
    const sleeping = clock.sleep(100, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('the monotonic clock', () => {
  it('reads performance.now(), never goes backwards, and sleeps and aborts like the real clock', async () => {
    const clock = createMonotonicClock();
    const before = performance.now();
    const first = clock.now();
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThan(Date.now()); // since process start, not the epoch
    await clock.sleep(5);
    expect(clock.now()).toBeGreaterThan(first);
    const abort = new AbortController();
    const sleeping = clock.sleep(60_000, abort.signal);
    abort.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
  });
});
