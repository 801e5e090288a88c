import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { drained } from './drained.ts';

const settled = async (promise: Promise<void>) => {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('drained', () => {
  it('settles on drain, not before, and unhooks both listeners', async () => {
    const writable = new EventEmitter();
    const waiting = drained(writable);
    expect(await settled(waiting)).toBe(false);
    writable.emit('drain');
    expect(await settled(waiting)).toBe(true);
    expect(writable.listenerCount('drain') + writable.listenerCount('close')).toBe(0);
  });

  it("settles on the closer's close, unhooking the writable too", async () => {
    const writable = new EventEmitter();
    const closer = new EventEmitter();
    const waiting = drained(writable, closer);
    writable.emit('close'); // the writable's own close is not the closer's
    expect(await settled(waiting)).toBe(false);
    closer.emit('close');
    expect(await settled(waiting)).toBe(true);
    expect(writable.listenerCount('drain') + closer.listenerCount('close')).toBe(0);
  });
});
