import {
  DEFAULT_ROOFLINE,
  forwardSeconds,
  kvBytesPerToken,
  kvCapacityTokens,
  type EngineProfile,
  type RooflineParams,
} from '../../common/profiles/index.ts';

/**
 * How fast one replica of a pool works: the figures sizing needs, in seconds and tokens. The
 * roofline implementation prices a GPU x model profile exactly as the simulated engine does;
 * measured-profile.ts prices one from a table of measurements.
 */
export interface PerfModel {
  /** e.g. "h100-sxm x qwen3-8b, tp 1 (roofline)". */
  readonly label: string;
  /** GPUs one replica holds. */
  readonly gpusPerReplica: number;
  /** KV cache one replica holds, tokens. */
  readonly kvCapacityTokens: number;
  /** Bytes of K and V per token, what a KV transfer moves. */
  readonly kvBytesPerToken: number;
  /** Seconds to prefill `newTokens` on top of `contextTokens` already cached, alone on a replica. */
  prefillSeconds(newTokens: number, contextTokens: number): number;
  /** Seconds of one decode step for `batch` sequences of `meanContextTokens` each. */
  decodeStepSeconds(batch: number, meanContextTokens: number): number;
  /** Seconds of one pass that decodes `batch` sequences and also prefills `prefillTokens` new tokens. */
  mixedStepSeconds(
    batch: number,
    meanContextTokens: number,
    prefillTokens: number,
    prefillContextTokens: number,
  ): number;
}

export function createRooflinePerf(profile: EngineProfile, params: RooflineParams = DEFAULT_ROOFLINE): PerfModel {
  return {
    label: `${profile.gpu.name} x ${profile.model.name}, tp ${profile.tp} (roofline)`,
    gpusPerReplica: profile.tp,
    kvCapacityTokens: kvCapacityTokens(profile, params),
    kvBytesPerToken: kvBytesPerToken(profile.model),
    prefillSeconds: (newTokens, contextTokens) =>
      forwardSeconds(
        profile,
        { prefill: [{ newTokens, contextTokens }], decodeSequences: 0, decodeContextTokens: 0 },
        params,
      ),
    decodeStepSeconds: (batch, meanContextTokens) =>
      forwardSeconds(
        profile,
        { prefill: [], decodeSequences: batch, decodeContextTokens: batch * meanContextTokens },
        params,
      ),
    mixedStepSeconds: (batch, meanContextTokens, prefillTokens, prefillContextTokens) =>
      forwardSeconds(
        profile,
        {
          prefill: prefillTokens > 0 ? [{ newTokens: prefillTokens, contextTokens: prefillContextTokens }] : [],
          decodeSequences: batch,
          decodeContextTokens: batch * meanContextTokens,
        },
        params,
      ),
  };
}
