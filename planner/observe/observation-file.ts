import { z } from 'zod';
import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import { readTextFile } from '../../common/read-text-file.ts';
import type { Distribution, Observation } from '../types.ts';

const histogram = z.strictObject({
  /** Upper bounds, ascending; "+Inf" allowed last. */
  le: z.array(z.union([z.number(), z.literal('+Inf')])).min(1),
  /** Cumulative counts, one per bound. */
  counts: z.array(z.number().nonnegative()).min(1),
});

const pool = z.strictObject({
  replicas: z.number().int().nonnegative(),
  inflight_requests: z.number().nonnegative().default(0),
  queued_prefill_tokens: z.number().nonnegative().default(0),
  active_kv_blocks: z.number().nonnegative().default(0),
});

/** One pushed observation, snake_case with units in the names (the --observations file). */
export const observationJson = z.strictObject({
  /** End of the interval, clock ms; default: when it is read. */
  at_ms: z.number().nonnegative().optional(),
  interval_s: z.number().positive().optional(),
  request_rate: z.number().nonnegative(),
  isl_mean: z.number().nonnegative(),
  osl_mean: z.number().nonnegative(),
  prefix_hit_rate: z.number().min(0).max(1).default(0),
  ttft_p50_s: z.number().nonnegative().optional(),
  ttft_p90_s: z.number().nonnegative().optional(),
  itl_p50_s: z.number().nonnegative().optional(),
  itl_p90_s: z.number().nonnegative().optional(),
  ttft_attainment: z.number().min(0).max(1).optional(),
  itl_attainment: z.number().min(0).max(1).optional(),
  queue_depth: z.number().nonnegative().optional(),
  isl_histogram: histogram.optional(),
  osl_histogram: histogram.optional(),
  pools: z.record(z.string(), pool).optional(),
});

/**
 * Parses a pushed observation (or an array of them, oldest first, spaced `intervalS` apart when
 * they carry no at_ms). Errors name the field. `nowMs` stamps the last one when it has no at_ms.
 */
export function parseObservations(
  raw: unknown,
  nowMs: number,
  intervalS: number,
  where = 'observations',
): Result<Observation[]> {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0)
    return fail(new TandemError('invalid_request', `${where}: an empty array holds no observation`));
  const out: Observation[] = [];
  for (const [index, item] of list.entries()) {
    const parsed = observationJson.safeParse(item);
    const prefix = Array.isArray(raw) ? `${index}.` : '';
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = `${prefix}${issue.path.join('.')}`;
      const detail =
        issue.code === 'unrecognized_keys'
          ? `unknown key ${issue.keys.join(', ')} (known: ${Object.keys(observationJson.shape).join(', ')})`
          : issue.message;
      return fail(new TandemError('invalid_request', `${where}: ${path || '(root)'}: ${detail}`, { param: path }));
    }
    const value = parsed.data;
    const histograms: Record<'isl' | 'osl', Distribution | undefined> = { isl: undefined, osl: undefined };
    for (const key of ['isl', 'osl'] as const) {
      const h = value[`${key}_histogram`];
      if (!h) continue;
      const bounds = h.le.map((bound) => (bound === '+Inf' ? Infinity : bound));
      if (bounds.length !== h.counts.length)
        return fail(
          new TandemError('invalid_request', `${where}: ${prefix}${key}_histogram: le and counts differ in length`),
        );
      if (
        bounds.some((bound, i) => i > 0 && bound <= bounds[i - 1]!) ||
        h.counts.some((count, i) => i > 0 && count < h.counts[i - 1]!)
      ) {
        return fail(
          new TandemError(
            'invalid_request',
            `${where}: ${prefix}${key}_histogram: bounds must ascend and counts be cumulative`,
          ),
        );
      }
      histograms[key] = { bounds, counts: h.counts };
    }
    const interval = value.interval_s ?? intervalS;
    out.push({
      atMs: value.at_ms ?? nowMs - (list.length - 1 - index) * interval * 1000,
      intervalS: interval,
      requestRate: value.request_rate,
      islMean: value.isl_mean,
      oslMean: value.osl_mean,
      prefixHitRate: value.prefix_hit_rate,
      isl: histograms.isl,
      osl: histograms.osl,
      ttftP50S: value.ttft_p50_s,
      ttftP90S: value.ttft_p90_s,
      itlP50S: value.itl_p50_s,
      itlP90S: value.itl_p90_s,
      ttftAttainment: value.ttft_attainment,
      itlAttainment: value.itl_attainment,
      queueDepth: value.queue_depth,
      pools: value.pools
        ? Object.fromEntries(
            Object.entries(value.pools).map(([name, p]) => [
              name,
              {
                replicas: p.replicas,
                inflightRequests: p.inflight_requests,
                queuedPrefillTokens: p.queued_prefill_tokens,
                activeKvBlocks: p.active_kv_blocks,
              },
            ]),
          )
        : undefined,
    });
  }
  return ok(out);
}

/** Reads an observations file (JSON); errors name the file. */
export function loadObservationsFile(file: string, nowMs: number, intervalS: number): Result<Observation[]> {
  const text = readTextFile(file, 'observations file');
  if (!text.ok) return text;
  let raw: unknown;
  try {
    raw = JSON.parse(text.value);
  } catch (error) {
    return fail(
      new TandemError('invalid_request', `observations file ${file} is not valid JSON: ${(error as Error).message}`, {
        cause: error,
      }),
    );
  }
  return parseObservations(raw, nowMs, intervalS, `observations file ${file}`);
}
