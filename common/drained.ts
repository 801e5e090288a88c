/** What `drained` listens to: a writable's 'drain', and 'close' from it or its owner. */
export interface DrainEvents {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/**
 * Resolves once `writable` emits 'drain' (it can take more) or `closer` emits 'close' (nobody is
 * left to write to), whichever comes first, and unhooks both listeners then. Never rejects: a
 * writer waiting on backpressure checks for itself whether the peer is gone.
 */
export function drained(writable: DrainEvents, closer: DrainEvents = writable): Promise<void> {
  return new Promise((resolve) => {
    const settle = () => {
      writable.off('drain', settle);
      closer.off('close', settle);
      resolve();
    };
    writable.on('drain', settle);
    closer.on('close', settle);
  });
}
