import type { PrefillChunk } from '../../common/profiles/index.ts';
import type { DecodeRequest, KvHandoff } from './engine-api.ts';
import type { PendingPull, Sequence } from './sequence.ts';

/**
 * The two parts of an engine core that differ between engines. Everything else (block pool,
 * prefix cache and block hashes, KV events, scheduler, handoff holds, stop rules, usage and
 * status) is the core's and shared. The simulated engine plugs in sim-parts.ts (roofline
 * prices, seeded tokens, link-model pulls); the reference engine plugs in real forward passes
 * over its KV pool and TCP pulls (workers/reference/engine/).
 */
export interface CoreParts {
  readonly executor: StepExecutor;
  readonly transfer: KvTransfer;
}

/**
 * One forward pass as the scheduler planned it: `sequences[i]` computes `tokens[i]` tokens,
 * `tokens[sequences[i].numComputed ..]`, into blocks already allocated (numComputed is not yet
 * advanced when the executor sees it). The shape fields are the roofline's view of the batch:
 * prefill chunks (new tokens, context tokens) and decoding sequences with their summed context.
 */
export interface ForwardPass {
  readonly sequences: readonly Sequence[];
  readonly tokens: readonly number[];
  readonly prefill: readonly PrefillChunk[];
  readonly decodeSequences: number;
  readonly decodeContextTokens: number;
}

export interface StepTiming {
  /** What the pass costs the modelled (or real) hardware, seconds. Reported, never waited on. */
  readonly modelSeconds: number;
  /**
   * Clock ms the driver waits before delivering the pass's outputs: the modelled duration for a
   * simulated pass, 0 for one whose computation already took its real time.
   */
  readonly durationMs: number;
}

/** What a step computes and what it costs. */
export interface StepExecutor {
  /** Runs (or prices) one pass. Synchronous: called inside EngineCore.step. */
  forward(pass: ForwardPass): StepTiming;
  /**
   * The next token of `seq`, whose pass just computed its last known token. Called once per
   * such sequence, in batch order, right after `forward`; `seq.numOutput` is the index of the
   * token to produce. The core applies the stop rules to whatever this returns.
   */
  sample(seq: Sequence): number;
}

/** How a decode engine gets a prompt's KV from a prefill engine, and what a handoff carries. */
export interface KvTransfer {
  /**
   * The pull a decode request's handoff asks for, checked. Returns null when the handoff cannot
   * be pulled and the request should recompute its prompt here (loadFailurePolicy "recompute");
   * throws TandemError kv_transfer_failed when it cannot under policy "fail", and
   * invalid_request when the handoff is malformed. Called at submission, synchronously.
   */
  plan(request: DecodeRequest, promptLength: number): PendingPull | null;
  /** The handoff a finished prefill returns, given its engine-neutral fields (adds transport details). */
  describe(handoff: KvHandoff): KvHandoff;
}
