import { hitRateUpperBound } from './hit-rate-bound.ts';
import { createLogHistogram } from './log-histogram.ts';
import { percentilesOf } from './percentiles.ts';
import type { RunSummary } from './run-summary.ts';

/**
 * One finished request, as a driver saw it. Times are milliseconds since the run's start (the
 * workload's arrival origin). A failed request may have streamed some tokens.
 */
export interface RequestRecord {
  readonly id: string;
  readonly ok: boolean;
  /** Why it failed, as a short class (`http_503`, `timeout`, ...); ignored when ok. */
  readonly failure?: string | undefined;
  /** When the workload wanted it sent (open loop); undefined when arrivals were not followed (closed loop). */
  readonly arrivalMs?: number | undefined;
  readonly sentMs: number;
  readonly firstTokenMs?: number | undefined;
  readonly lastTokenMs?: number | undefined;
  readonly endMs: number;
  readonly promptTokens: number;
  /** From the workload: the prefix shared with earlier requests (for the hit-rate bound). */
  readonly sharedPrefixTokens: number;
  /** usage.prompt_tokens_details.cached_tokens, when the server reported it. */
  readonly cachedPromptTokens?: number | undefined;
  readonly outputTokens: number;
  /** Gaps between successive streamed chunks, ms (counted for completed requests only); or use `recordItl`. */
  readonly itlGapsMs?: ArrayLike<number> | undefined;
}

export interface SloTargets {
  /** Time-to-first-token target, ms. */
  readonly ttftMs: number;
  /** Inter-token target, ms, judged against each request's mean inter-token latency (TPOT). */
  readonly itlMs: number;
}

export interface RunRecorderOptions {
  readonly slo: SloTargets;
  /** The engines' KV block size, for the hit-rate bound (default 16, vLLM's and Tandem's). */
  readonly blockSize?: number;
}

export interface RunTotals {
  readonly sent: number;
  readonly completed: number;
  readonly failed: number;
}

export interface FinishOptions {
  /** Run length; default: the last request's end. */
  readonly durationMs?: number;
  /** Each worker's busy time (any unit), for the load imbalance. */
  readonly workerBusy?: readonly number[];
  readonly kvTransferBytes?: number;
}

/** Collects outcomes and builds the RunSummary; one per run. */
export interface RunRecorder {
  record(outcome: RequestRecord): void;
  /** Adds `count` inter-token gaps of `gapMs` (for drivers that know gaps in runs, like a simulator's decode steps). */
  recordItl(gapMs: number, count?: number): void;
  totals(): RunTotals;
  /** Median TTFT so far (ms), for progress lines; null before the first token. */
  ttftMedianMs(): number | null;
  finish(options?: FinishOptions): RunSummary;
}

export function createRunRecorder(options: RunRecorderOptions): RunRecorder {
  const blockSize = options.blockSize ?? 16;
  const { slo } = options;
  const ttft: number[] = [];
  const tpot: number[] = [];
  const e2e: number[] = [];
  const lag: number[] = [];
  const itl = createLogHistogram();
  const failures: Record<string, number> = {};
  const completedShapes: { promptTokens: number; sharedPrefixTokens: number }[] = [];
  let sent = 0;
  let completed = 0;
  let lastEndMs = 0;
  let promptTokens = 0;
  let outputTokens = 0;
  let cachedTokens = 0;
  let cachedOfPrompt = 0;
  let reportedBy = 0;
  let good = 0;

  return {
    record(outcome) {
      sent++;
      lastEndMs = Math.max(lastEndMs, outcome.endMs);
      if (outcome.arrivalMs !== undefined) lag.push(Math.max(0, outcome.sentMs - outcome.arrivalMs));
      if (!outcome.ok) {
        const reason = outcome.failure ?? 'unknown';
        failures[reason] = (failures[reason] ?? 0) + 1;
        return;
      }
      completed++;
      if (outcome.itlGapsMs) for (let i = 0; i < outcome.itlGapsMs.length; i++) itl.add(outcome.itlGapsMs[i]!);
      promptTokens += outcome.promptTokens;
      outputTokens += outcome.outputTokens;
      completedShapes.push({ promptTokens: outcome.promptTokens, sharedPrefixTokens: outcome.sharedPrefixTokens });
      if (outcome.cachedPromptTokens !== undefined) {
        reportedBy++;
        cachedTokens += outcome.cachedPromptTokens;
        cachedOfPrompt += outcome.promptTokens;
      }
      e2e.push(outcome.endMs - outcome.sentMs);
      const first = outcome.firstTokenMs;
      let requestTtft: number | undefined;
      let requestTpot: number | undefined;
      if (first !== undefined) {
        requestTtft = first - outcome.sentMs;
        ttft.push(requestTtft);
        if (outcome.outputTokens > 1) {
          requestTpot = ((outcome.lastTokenMs ?? outcome.endMs) - first) / (outcome.outputTokens - 1);
          tpot.push(requestTpot);
        }
      }
      if (
        requestTtft !== undefined &&
        requestTtft <= slo.ttftMs &&
        (requestTpot === undefined || requestTpot <= slo.itlMs)
      )
        good++;
    },
    recordItl(gapMs, count = 1) {
      itl.add(gapMs, count);
    },
    totals: () => ({ sent, completed, failed: sent - completed }),
    ttftMedianMs: () => percentilesOf(ttft)?.p50 ?? null,
    finish(finish = {}) {
      const durationMs = finish.durationMs ?? lastEndMs;
      const durationS = durationMs / 1000;
      const perS = (n: number) => (durationS > 0 ? n / durationS : 0);
      return {
        duration_s: durationS,
        requests: { sent, completed, failed: sent - completed, failures: { ...failures } },
        request_rate: perS(completed),
        prompt_tokens: promptTokens,
        output_tokens: outputTokens,
        output_tokens_per_s: perS(outputTokens),
        ttft_ms: percentilesOf(ttft),
        itl_ms: itl.summary(),
        tpot_ms: percentilesOf(tpot),
        e2e_ms: percentilesOf(e2e),
        send_lag_ms: percentilesOf(lag),
        prefix_cache: {
          hit_rate: cachedOfPrompt > 0 ? Math.min(1, cachedTokens / cachedOfPrompt) : null,
          upper_bound: hitRateUpperBound(completedShapes, blockSize),
          block_size: blockSize,
          reported_by: reportedBy,
        },
        load_imbalance: loadImbalance(finish.workerBusy),
        kv_transfer_bytes: finish.kvTransferBytes ?? null,
        slo: {
          ttft_ms: slo.ttftMs,
          itl_ms: slo.itlMs,
          itl_rule: 'tpot',
          attainment: sent > 0 ? good / sent : null,
          goodput_rps: perS(good),
        },
      };
    },
  };
}

/** Busiest over mean busy time (1 = perfectly even); null when unknown or nobody was busy. */
export function loadImbalance(busy: readonly number[] | undefined): number | null {
  if (!busy || busy.length === 0) return null;
  let sum = 0;
  let max = 0;
  for (const value of busy) {
    sum += value;
    max = Math.max(max, value);
  }
  return sum > 0 ? max / (sum / busy.length) : null;
}
