import { createVirtualClock, type VirtualClock } from '../../../common/clock.ts';
import { engineProfile } from '../../../common/profiles/index.ts';
import type { GenerateRequest, TokenChunk } from '../engine-api.ts';
import type { SimEngineOptions } from '../options.ts';
import { createSimEngine, type SimEngine } from '../sim-engine.ts';

/**
 * What the simulated engine's tests drive it with: a virtual clock, prompts of distinct token
 * ids, timers fired in order, and each chunk recorded with the virtual time it came at.
 */

/** `length` distinct token ids, `offset + 1` upwards: prompts with different offsets share no block. */
export const prompt = (length: number, offset = 0) => Array.from({ length }, (_, i) => offset + i + 1);

/** The roofline profile `setup()`'s engines run (h100-sxm, qwen3-8b, tp 1). */
export const profile = engineProfile('h100-sxm', 'qwen3-8b');

/** A simulated engine on a fresh virtual clock at 0 ms, with `profile` unless `options` say otherwise. */
export function setup(options: SimEngineOptions = {}): { clock: VirtualClock; engine: SimEngine } {
  const clock = createVirtualClock();
  const engine = createSimEngine({ gpu: 'h100-sxm', model: 'qwen3-8b', ...options }, { clock });
  return { clock, engine };
}

/**
 * Fires timers (`clock.runTimers`) up to `untilMs`, by default 400 s: past any request here,
 * short of a handoff hold's expiry.
 */
export function run(clock: VirtualClock, untilMs = 400_000): void {
  clock.runTimers(untilMs);
}

export interface Recorded {
  /** Every chunk in order, with the virtual time (ms) it was delivered at. */
  readonly chunks: { atMs: number; chunk: TokenChunk }[];
  readonly tokens: () => number[];
  readonly last: () => TokenChunk;
}

/** Starts `request` on `engine`, recording its chunks as they come (call `run` to make them come). */
export function record(
  engine: SimEngine,
  clock: VirtualClock,
  request: GenerateRequest,
  signal?: AbortSignal,
): Recorded {
  const chunks: { atMs: number; chunk: TokenChunk }[] = [];
  engine.generate(request, { onChunk: (chunk) => chunks.push({ atMs: clock.now(), chunk }), signal });
  return {
    chunks,
    tokens: () => chunks.flatMap((c) => c.chunk.tokenIds),
    last: () => chunks[chunks.length - 1]!.chunk,
  };
}
