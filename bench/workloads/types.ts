import type { Result } from '../../common/errors.ts';
import type { Rng } from '../../common/rng.ts';

/**
 * One request a workload asks a driver (the live generator or the cluster simulator) to send.
 * Plain data. `promptTokenIds` may share storage with other requests' prompts (a user's repeated
 * prompt, a conversation's earlier turns): consumers must never write to it.
 */
export interface BenchRequest {
  /** Unique within one stream. */
  readonly id: string;
  /** When the request is due, milliseconds since the run's start. Non-decreasing in take order for open-loop streams. */
  readonly arrivalMs: number;
  /** Token ids in [0, 151936) (Qwen3's vocabulary; workloads draw only non-special ids below 151643). */
  readonly promptTokenIds: Uint32Array;
  /** max_tokens to ask for (>= 1). */
  readonly maxOutputTokens: number;
  /** The user, conversation or agent this request belongs to (OpenAI `user`, the session policy's key). */
  readonly sessionKey: string;
  /**
   * Tokens: the longest prefix this prompt shares with the prompt of any request taken earlier
   * from the same stream. A cache that kept everything would serve exactly these tokens, so the
   * sum over a run bounds the prefix-cache hit rate from above (bench/stats/hit-rate-bound.ts).
   */
  readonly sharedPrefixTokens: number;
}

/** What a driver reports when a request finishes, so feedback-driven workloads can continue. */
export interface CompletionReport {
  /** When it finished, milliseconds since the run's start (same origin as arrivalMs). */
  readonly atMs: number;
  /** Whether it completed; a failed turn ends its conversation. */
  readonly ok: boolean;
  /** Output tokens the server produced (usage.completion_tokens), 0 when it failed before any. */
  readonly outputTokens: number;
}

/**
 * A seeded stream of requests. Pull-based, so a driver on the wall clock and a simulator on a
 * virtual clock consume it the same way:
 *
 *   due = source.nextArrivalMs()   // undefined: nothing available until a completion is reported
 *   request = source.take()        // the request `due` described
 *   source.complete(request.id, report)   // may release follow-ups (next turn, next tool call)
 *
 * The sequence is a pure function of (workload, params, seed, the completion reports in order).
 */
export interface RequestSource {
  /** Arrival time (ms) of the earliest request available now, or undefined when none is. */
  nextArrivalMs(): number | undefined;
  /** Removes and returns the earliest available request (undefined when none is available). */
  take(): BenchRequest | undefined;
  /** Reports that a taken request finished. Unknown or repeated ids are ignored. */
  complete(id: string, report: CompletionReport): void;
  /** True once no request will ever become available again (finite streams only). */
  ended(): boolean;
}

/** A workload type: parameter schema, defaults, and a stream factory. One file per workload. */
export interface WorkloadDefinition {
  /** One line for `tandem bench workloads` and reports. */
  readonly description: string;
  /** Every parameter with its default (undefined when required or optional) and its doc. */
  readonly paramDocs: readonly ParamDoc[];
  /** Validates raw parameters (flags, a result file) into the full, defaulted set. */
  parseParams(raw: Readonly<Record<string, unknown>>): Result<Readonly<Record<string, unknown>>>;
  /** Reads and checks whatever the params point at (the trace file); called once per workload. */
  prepare(params: Readonly<Record<string, unknown>>): Result<unknown>;
  /** A fresh stream; every call with the same inputs yields the same stream. */
  open(params: Readonly<Record<string, unknown>>, prepared: unknown, rng: Rng): RequestSource;
}

export interface ParamDoc {
  readonly name: string;
  readonly defaultValue: unknown;
  readonly description: string;
}

/** A workload with its parameters and seed fixed: what a run records and reopens. */
export interface Workload {
  readonly name: string;
  readonly description: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly seed: string;
  /** A fresh stream from the start; deterministic. */
  open(): RequestSource;
}
