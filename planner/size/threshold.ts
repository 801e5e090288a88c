import { transferSeconds, type LinkProfile } from '../../common/profiles/index.ts';
import type { PerfModel } from './perf-model.ts';

/** The largest threshold ever recommended, tokens (beyond any supported context: never disaggregate). */
export const MAX_THRESHOLD_TOKENS = 131_072;

export interface ThresholdRecommendation {
  /** Disaggregate when the uncached prompt tokens exceed this; a multiple of the block size. */
  readonly tokens: number;
  /** At the threshold: seconds one request's KV transfer adds to its TTFT. */
  readonly transferSeconds: number;
  /** At the threshold: sequence-seconds of delay a local prefill inflicts on the decode batch. */
  readonly interferenceSeconds: number;
  readonly reason: string;
}

/**
 * The effective ISL above which moving the KV costs less than prefilling locally costs the
 * decode batch. Prefilling x uncached tokens inside a decode pass of `batch` sequences stretches
 * that pass by mixed(x) - step, delaying each of the batch's sequences by that much:
 * interference(x) = batch * (mixed(x) - step) sequence-seconds. Disaggregating instead delays
 * only the request itself by transfer(x) = setup + x * kvBytesPerToken / (bandwidth * efficiency)
 * (the decode worker pulls the blocks it lacks: the uncached ones). While the mixed pass is still
 * memory-bound, extra prefill tokens are nearly free and local wins; past the knee, interference
 * grows by batch x (compute per token) and overtakes the transfer. Scans block multiples.
 *
 * This is the dispatcher's placement rule (orchestrator/disagg/placement.ts) with both queues
 * empty: local = prefill + stall_weight x stall x batch, remote = prefill + transfer (+ handoff);
 * `stallWeight` is the same `disaggregation.stall_weight`, so the split the planner sizes the
 * pools for is the one the dispatcher makes when the queues are short.
 */
export function recommendThreshold(
  decode: PerfModel,
  link: LinkProfile,
  handoffOverheadS: number,
  batch: number,
  contextTokens: number,
  hitRate: number,
  blockSize: number,
  /** TTFT-seconds per sequence-second of stall (disaggregation.stall_weight): the dispatcher's placement rule at empty queues. */
  stallWeight = 1,
): ThresholdRecommendation {
  const step = decode.decodeStepSeconds(batch, contextTokens);
  const cost = (x: number) => {
    const cached = hitRate > 0 && hitRate < 1 ? (x * hitRate) / (1 - hitRate) : 0; // the prefix that came with x uncached tokens
    return {
      transfer: handoffOverheadS + transferSeconds(link, x * decode.kvBytesPerToken),
      interference: stallWeight * batch * Math.max(0, decode.mixedStepSeconds(batch, contextTokens, x, cached) - step),
    };
  };
  for (let x = blockSize; x <= MAX_THRESHOLD_TOKENS; x += blockSize) {
    const { transfer, interference } = cost(x);
    if (interference > transfer) {
      const tokens = x - blockSize;
      const at = cost(Math.max(blockSize, tokens));
      return {
        tokens,
        transferSeconds: at.transfer,
        interferenceSeconds: at.interference,
        reason:
          `threshold ${tokens} tokens: above it a local prefill delays the decode batch of ${batch} by more than the KV transfer over ${link.name} delays the request ` +
          `(at ${x} tokens: ${ms(interference)} of interference vs ${ms(transfer)} of transfer)`,
      };
    }
  }
  const { transfer, interference } = cost(MAX_THRESHOLD_TOKENS);
  return {
    tokens: MAX_THRESHOLD_TOKENS,
    transferSeconds: transfer,
    interferenceSeconds: interference,
    reason: `threshold ${MAX_THRESHOLD_TOKENS} tokens (never disaggregate): the KV transfer over ${link.name} costs more than local prefill's interference at every prompt length`,
  };
}

const ms = (seconds: number) => `${(seconds * 1000).toFixed(2)} ms`;
