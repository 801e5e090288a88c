import { afterAll, afterEach } from 'vitest';

/** Something a test started and must stop: a server to close, a directory to remove. */
export type Cleanup = () => Promise<void> | void;

/**
 * A list a test file pushes its cleanups onto, run last-in first-out (what started last stops
 * first: an orchestrator before the workers behind it), each awaited, after each test (`'each'`)
 * or once after the file's tests (`'all'`). With `'each'`, what a `beforeAll` pushed still runs
 * after the file. Call it at the top of a test file.
 */
export function cleanupsAfter(when: 'each' | 'all'): Cleanup[] {
  const cleanups: Cleanup[] = [];
  const runAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  if (when === 'each') afterEach(runAll);
  afterAll(runAll);
  return cleanups;
}
