import type { TandemError } from '../common/errors.ts';
import type { FinishReason, SamplingOptions, TokenLogprob } from '../common/sampling.ts';

export type { FinishReason, SamplingOptions, TokenLogprob } from '../common/sampling.ts';

/**
 * The seam between the HTTP frontend and everything behind it. The frontend parses, validates
 * and tokenizes an OpenAI request into a TokenizedRequest, hands it to a ServingCore, and turns
 * the GenerationEvents it yields into JSON or SSE. The core (routing, disaggregation, worker
 * backends, load accounting) never sees HTTP; the frontend never sees workers.
 */

/**
 * The client's OpenAI request as it came: what an HTTP engine (vLLM, SGLang) gets, with only
 * what Tandem must add (the served model name, usage options, kv_transfer_params).
 */
export interface OpenAIPassThrough {
  readonly endpoint: 'chat' | 'completion';
  /** The client's body, verbatim. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly stream: boolean;
  /** The client asked for the include_usage chunk (else one Tandem asks for is not shown). */
  readonly includeUsage: boolean;
}

export interface TokenizedRequest {
  /** The X-Request-Id the client sent, or one the frontend generated. */
  readonly requestId: string;
  /** The served model name the client asked for (already checked to exist), or the one served. */
  readonly model: string;
  /**
   * The prompt's token ids, for routing; for a token-level engine also what it runs. A chat with
   * a non-text part (an image) holds the text before it only: routing uses that prefix.
   */
  readonly promptTokenIds: readonly number[];
  readonly sampling: SamplingOptions;
  /** Affinity key for the `session` policy: a session header or the body's `user`. */
  readonly sessionKey: string | undefined;
  /** Absolute deadline, Unix epoch milliseconds. */
  readonly deadlineUnixMs: number;
  /** Set by the OpenAI frontend: the request as an HTTP engine takes it. */
  readonly openai?: OpenAIPassThrough | undefined;
  /**
   * Why Tandem's own (token-level) engines cannot run it (a field they do not honour, named by
   * the error's `param`); the core answers 400 if routing picks one. Undefined: they can.
   */
  readonly tokenLevelRefusal?: TandemError | undefined;
}

export interface Usage {
  readonly promptTokens: number;
  /** Prompt tokens served from a prefix cache (OpenAI's prompt_tokens_details.cached_tokens). */
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
}

export type GenerationEvent =
  /** Tokens sampled since the last event, in order; `logprobs` one per token when the request asked for them. */
  | {
      readonly kind: 'tokens';
      readonly tokenIds: readonly number[];
      readonly logprobs?: readonly TokenLogprob[] | undefined;
    }
  /**
   * An HTTP engine's own output, verbatim, for the client as it is: SSE data payloads (a streamed
   * request) or the one JSON body (not streamed), and the completion tokens they carry as far as
   * Tandem counts them (exact once the final `done` gives the usage).
   */
  | { readonly kind: 'output'; readonly data: readonly string[]; readonly tokens: number }
  /**
   * The last event of a successful generation. `mode` says how it was served (for the metrics'
   * `mode` label); omit it and the frontend records `none`.
   */
  | {
      readonly kind: 'done';
      readonly finishReason: FinishReason;
      readonly usage: Usage;
      readonly mode?: ServingMode;
      readonly route?: RouteSummary;
    };

export type ServingMode = 'aggregated' | 'disaggregated';

/** Where a request ran, for its log line. Cores that route set it on `done`; it is optional. */
export interface RouteSummary {
  /** The routing tenants that served it, in order: [worker] aggregated, [prefill, decode] disaggregated. */
  readonly workers: readonly string[];
  /** Prompt tokens the router expected the first of them to hold already (the KV overlap it routed on), tokens. */
  readonly overlapTokens: number;
  /** Time it waited in the admission queue for a worker with room, ms (0: placed at once); absent when the core does not queue. */
  readonly queuedMs?: number;
}

/** Where a failed request ran, for its log line: what a `done` would have said. */
export interface FailedRun {
  readonly mode: ServingMode;
  readonly route: RouteSummary;
}

const FAILED_RUN = Symbol('tandem.failedRun');

/**
 * Marks a failure thrown by a core with where the request ran (the innermost mark wins: a
 * failure that passes through several layers keeps the worker it happened on). Returns `error`.
 */
export function markFailedRun<E extends Error>(error: E, run: FailedRun): E {
  const marked = error as E & { [FAILED_RUN]?: FailedRun };
  marked[FAILED_RUN] ??= run;
  return error;
}

/** Where the request that failed with `error` ran, if the core said. */
export function failedRunOf(error: unknown): FailedRun | undefined {
  return error instanceof Error ? (error as Error & { [FAILED_RUN]?: FailedRun })[FAILED_RUN] : undefined;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, or what is serving (e.g. "2 prefill, 2 decode healthy"). */
  readonly detail: string;
}

export interface ServingCore {
  /** Model names this core serves (for /v1/models and the unknown-model check). */
  models(): readonly string[];
  /**
   * Runs a request. Yields token events, then exactly one `done`, unless it throws a
   * TandemError (before the first token: the frontend answers with its status; after: the
   * stream ends with an error event). A failure on a worker carries where it ran
   * (`markFailedRun`), for the request's log line. Aborting `signal` cancels the work on every worker
   * involved and releases what they hold; the generation then ends promptly, either by throwing
   * or with a `done` whose finishReason is 'abort' (preferred: the frontend, which aborts when a
   * stop string matches, reads cachedPromptTokens from its usage).
   */
  generate(request: TokenizedRequest, signal: AbortSignal): AsyncIterable<GenerationEvent>;
  /**
   * The refusal (rate_limited / unavailable, with Retry-After) `generate` would throw at once
   * for lack of capacity if called now, or undefined. Asked before tokenizing, so a refusal
   * under overload costs no tokenizer work; `generate` still decides for itself.
   */
  refusal?(): TandemError | undefined;
  /** The routing decision this request would get, with every candidate's terms; sends nothing. */
  explain(request: TokenizedRequest): unknown;
  readiness(): Readiness;
  /** JSON for /debug/workers: each worker's role, profile, health, load, index and event state. */
  workers(): unknown;
}
