/**
 * What one generation used, as it crosses from an engine to the orchestrator (the gRPC Usage
 * message's fields, tandem.v1.Usage): tokens, and the KV a disaggregated decode pulled.
 */
export interface UsageCounts {
  readonly promptTokens: number;
  /** Prompt tokens served from the engine's own prefix cache (neither computed nor pulled). */
  readonly cachedPromptTokens: number;
  /** Generated tokens, including a first token given to a decode. */
  readonly completionTokens: number;
  /** Prompt tokens, blocks and bytes pulled from a prefill engine. */
  readonly transferredPromptTokens: number;
  readonly transferredBlocks: number;
  readonly transferredBytes: number;
  /** The pull could not happen and the prompt was recomputed here. */
  readonly kvRecomputed: boolean;
}

/**
 * The counts alone, copied from anything that carries them and more (an engine's usage with
 * its preemptions, a decoded protobuf message with its type name).
 */
export function usageCounts(usage: UsageCounts): UsageCounts {
  return {
    promptTokens: usage.promptTokens,
    cachedPromptTokens: usage.cachedPromptTokens,
    completionTokens: usage.completionTokens,
    transferredPromptTokens: usage.transferredPromptTokens,
    transferredBlocks: usage.transferredBlocks,
    transferredBytes: usage.transferredBytes,
    kvRecomputed: usage.kvRecomputed,
  };
}
