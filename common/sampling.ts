/**
 * How a generation is sampled and how it ends, as the orchestrator and Tandem's engines both
 * describe it (the OpenAI/vLLM sampling fields, in token ids). One definition of each field's
 * units, range and default: the engine API takes `SamplingParams`; the orchestrator's
 * `SamplingOptions` is the same with every core field resolved.
 */

/** Most alternatives per position a request may ask logprobs for (vLLM's default max_logprobs). */
export const MAX_LOGPROBS = 20;

/** Why a generation ended: a stop (EOS or a stop id), max_tokens, or cancelled. */
export type FinishReason = 'stop' | 'length' | 'abort';

/** Sampling fields as a request may carry them; absent ones take the default stated. */
export interface SamplingParams {
  /** Most tokens to generate, including the first; >= 1. */
  readonly maxTokens: number;
  /** 0 is greedy (the default). */
  readonly temperature?: number;
  /** In (0, 1]; default 1. */
  readonly topP?: number;
  /** Sampling seed. Without one, greedy requests derive their tokens from the prompt, others from the request id. */
  readonly seed?: number | bigint | undefined;
  /** Generation stops after emitting any of these (the token is part of the output). */
  readonly stopTokenIds?: readonly number[];
  /** Keep generating past the model's end-of-sequence tokens. */
  readonly ignoreEos?: boolean;
  /** No stop (EOS or stop id) before this many tokens; default 0. */
  readonly minTokens?: number;
  // Below: distribution shaping Tandem's own engines honour (backends that cannot must refuse a
  // request setting them, never drop them).
  /** Sample among the k most likely tokens; 0 (default) or -1 = all. */
  readonly topK?: number;
  /** In [0, 1]; drop tokens below min_p times the best one's probability; default 0 (off). */
  readonly minP?: number;
  /** OpenAI's penalties on output tokens, in [-2, 2]; default 0. */
  readonly presencePenalty?: number;
  readonly frequencyPenalty?: number;
  /** vLLM's penalty on prompt and output tokens, > 0; default 1 (off). */
  readonly repetitionPenalty?: number;
  /** Report each token's logprob and this many alternatives (0 to MAX_LOGPROBS); unset = no logprobs. */
  readonly logprobs?: number | undefined;
}

/**
 * `SamplingParams` as the orchestrator's frontend resolves them: the core fields always set
 * (to the defaults above when the client left them out), a seed only as a JSON number.
 */
export interface SamplingOptions extends SamplingParams {
  readonly temperature: number;
  readonly topP: number;
  readonly seed: number | undefined;
  readonly stopTokenIds: readonly number[];
  readonly ignoreEos: boolean;
  readonly minTokens: number;
}

/**
 * A sampled token's log-probability (natural log) and the most likely alternatives at its
 * position, best first, as the model scored them before the sampling parameters (vLLM's
 * raw_logprobs). The simulated engine's are drawn from its synthetic distribution, plausible in
 * shape, not a real model's.
 */
export interface TokenLogprob {
  readonly logprob: number;
  readonly top: readonly { readonly tokenId: number; readonly logprob: number }[];
}

/** What freeing the blocks held for a remote decode found (gRPC ReleaseKv). */
export interface ReleaseResult {
  /** False when nothing was held under that id (already released or expired), or a backend cannot tell. */
  readonly found: boolean;
  readonly releasedBlocks: number;
}
