/**
 * When to restart a process that exited on its own: after `baseMs`, doubling with each crash in
 * a row up to `maxMs`. A process that ran at least `resetMs` before it crashed counts as a first
 * crash again. Pure.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  readonly resetMs: number;
}

/** `crashes`: crashes in a row before this one. Returns the delay and the new count. */
export function nextRestart(
  policy: BackoffPolicy,
  crashes: number,
  ranForMs: number,
): { delayMs: number; crashes: number } {
  const inRow = ranForMs >= policy.resetMs ? 0 : crashes;
  return { delayMs: Math.min(policy.maxMs, policy.baseMs * 2 ** inRow), crashes: inRow + 1 };
}
