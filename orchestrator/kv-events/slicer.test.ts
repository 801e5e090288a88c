import { describe, expect, it } from 'vitest';
import { createSlicer } from './slicer.ts';

/** A fake loop: `now` is set by hand, deferred turns run when `turn()` is called. */
function fakeLoop() {
  const pending: (() => void)[] = [];
  const loop = {
    t: 0,
    now: () => loop.t,
    defer: (run: () => void) => void pending.push(run),
    /** Runs the turns deferred so far (one turn of the event loop), then lets promises settle. */
    async turn() {
      for (const run of pending.splice(0)) run();
      await Promise.resolve();
    },
  };
  return loop;
}

describe('slicer', () => {
  it('lets work run without awaiting until the slice is used, then yields to the loop', async () => {
    const loop = fakeLoop();
    const slicer = createSlicer({ sliceMs: 10, now: loop.now, defer: loop.defer });
    expect(slicer.pace()).toBeUndefined();
    loop.t = 9;
    expect(slicer.pace()).toBeUndefined();
    loop.t = 10;
    let resumed = false;
    void slicer.pace()!.then(() => (resumed = true));
    await Promise.resolve();
    expect(resumed).toBe(false);
    await loop.turn();
    expect(resumed).toBe(true);
    // A fresh slice starts with the turn.
    loop.t = 15;
    expect(slicer.pace()).toBeUndefined();
    expect(slicer.yields).toBe(1);
  });

  it('starts a fresh slice once the loop has turned, even after idle time', async () => {
    const loop = fakeLoop();
    const slicer = createSlicer({ sliceMs: 10, now: loop.now, defer: loop.defer });
    expect(slicer.pace()).toBeUndefined();
    await loop.turn();
    loop.t = 100;
    expect(slicer.pace()).toBeUndefined();
  });

  it('resumes one waiter per turn, in the order they asked, so workers share one budget', async () => {
    const loop = fakeLoop();
    const slicer = createSlicer({ sliceMs: 10, now: loop.now, defer: loop.defer });
    slicer.pace();
    loop.t = 20;
    const order: string[] = [];
    void slicer.pace()!.then(() => order.push('a'));
    // b must queue behind a, not start its own slice.
    void slicer.pace()!.then(() => order.push('b'));
    await loop.turn();
    expect(order).toEqual(['a']);
    await loop.turn();
    expect(order).toEqual(['a', 'b']);
  });
});
