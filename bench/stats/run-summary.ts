import { z } from 'zod';

const percentiles = z.strictObject({
  count: z.number().int().nonnegative(),
  mean: z.number(),
  min: z.number(),
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  max: z.number(),
});

/**
 * What one run measured, the same for the live generator and the cluster simulator. A file
 * format (snake_case, units in the names), so the schema is the definition and reports parse
 * with it. Latencies are milliseconds; null means "nothing to measure" (no completed request, no
 * usage reported, or a figure this instrument cannot see).
 */
export const runSummarySchema = z.strictObject({
  /** From the run's start to the end of its last request, seconds. */
  duration_s: z.number().nonnegative(),
  requests: z.strictObject({
    /** Requests sent (every one ends completed or failed). */
    sent: z.number().int().nonnegative(),
    completed: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    /** Failed requests by reason (`http_503`, `timeout`, `connection`, `stream_error`, ...). */
    failures: z.record(z.string(), z.number().int().nonnegative()),
  }),
  /** Completed requests per second of duration. */
  request_rate: z.number().nonnegative(),
  /** Prompt and output tokens of completed requests. */
  prompt_tokens: z.number().nonnegative(),
  output_tokens: z.number().nonnegative(),
  output_tokens_per_s: z.number().nonnegative(),
  /** Time to first token, from sending the request. */
  ttft_ms: percentiles.nullable(),
  /** Every gap between successive streamed chunks (one token each unless the server batches), from a log histogram (within 0.27%). */
  itl_ms: percentiles.nullable(),
  /** Per request: (last token - first token) / (output tokens - 1), its mean inter-token latency. */
  tpot_ms: percentiles.nullable(),
  /** From sending to the last byte. */
  e2e_ms: percentiles.nullable(),
  /** How late requests were sent after they were due (the driver's own lag; 0 in the simulator, null in a closed loop). */
  send_lag_ms: percentiles.nullable(),
  prefix_cache: z.strictObject({
    /** Sum of usage cached_tokens / sum of prompt tokens over completed requests that reported it. */
    hit_rate: z.number().min(0).max(1).nullable(),
    /** Each distinct prefix computed once, at `block_size` granularity, over completed requests. */
    upper_bound: z.number().min(0).max(1).nullable(),
    block_size: z.number().int().positive(),
    /** Completed requests whose usage carried prompt_tokens_details.cached_tokens. */
    reported_by: z.number().int().nonnegative(),
  }),
  /** Busiest worker's busy time over the mean busy time; null when unknown (live runs). */
  load_imbalance: z.number().nonnegative().nullable(),
  /** Bytes of KV moved between workers; null when unknown. */
  kv_transfer_bytes: z.number().nonnegative().nullable(),
  slo: z.strictObject({
    ttft_ms: z.number().positive(),
    itl_ms: z.number().positive(),
    /** How ITL is judged per request. */
    itl_rule: z.literal('tpot'),
    /** Requests meeting both targets over requests sent (failed requests miss); null when none was sent. */
    attainment: z.number().min(0).max(1).nullable(),
    /** Requests meeting both targets per second of duration. */
    goodput_rps: z.number().nonnegative(),
  }),
});

export type RunSummary = z.output<typeof runSummarySchema>;
export type { Percentiles } from './percentiles.ts';
