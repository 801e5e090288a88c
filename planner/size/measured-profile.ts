import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import { readTextFile } from '../../common/read-text-file.ts';
import type { PerfModel } from './perf-model.ts';

/**
 * Measured timings of one pool's replica, from a JSON file:
 *
 * ```json
 * { "prefill": [{ "tokens": 1024, "seconds": 0.045 }, ...],
 *   "decode": [{ "batch": 1, "context_tokens": 1024, "step_seconds": 0.0071 }, ...],
 *   "kv_capacity_tokens": 480000 }
 * ```
 *
 * `prefill` times one uncached prompt of `tokens` alone; `decode` times one step of `batch`
 * sequences of `context_tokens` each. Between points the model interpolates linearly; beyond the
 * largest point it extrapolates along the last segment; below the smallest it holds the first
 * value (a conservative floor). `kv_capacity_tokens` is optional (the roofline's figure otherwise).
 */
export interface MeasuredProfile {
  readonly prefill: readonly { readonly tokens: number; readonly seconds: number }[];
  readonly decode: readonly { readonly batch: number; readonly contextTokens: number; readonly stepSeconds: number }[];
  readonly kvCapacityTokens: number | undefined;
}

export function parseMeasuredProfile(raw: unknown, where: string): Result<MeasuredProfile> {
  const bad = (path: string, what: string) =>
    fail(new TandemError('invalid_request', `${where}: ${path} ${what}`, { param: path }));
  if (!isRecord(raw)) return bad('(root)', 'must be a JSON object');
  const known = ['prefill', 'decode', 'kv_capacity_tokens'];
  for (const key of Object.keys(raw))
    if (!known.includes(key)) return bad(key, `is not a known key (known: ${known.join(', ')})`);
  if (!Array.isArray(raw.prefill) || raw.prefill.length === 0) return bad('prefill', 'must be a non-empty array');
  if (!Array.isArray(raw.decode) || raw.decode.length === 0) return bad('decode', 'must be a non-empty array');
  const prefill: { tokens: number; seconds: number }[] = [];
  for (const [index, row] of raw.prefill.entries()) {
    if (!isRecord(row) || !positive(row.tokens) || !positive(row.seconds))
      return bad(`prefill.${index}`, 'needs positive numbers "tokens" and "seconds"');
    prefill.push({ tokens: row.tokens, seconds: row.seconds });
  }
  const decode: { batch: number; contextTokens: number; stepSeconds: number }[] = [];
  for (const [index, row] of raw.decode.entries()) {
    if (!isRecord(row) || !positive(row.batch) || !positive(row.context_tokens) || !positive(row.step_seconds))
      return bad(`decode.${index}`, 'needs positive numbers "batch", "context_tokens" and "step_seconds"');
    decode.push({ batch: row.batch, contextTokens: row.context_tokens, stepSeconds: row.step_seconds });
  }
  const capacity = raw.kv_capacity_tokens;
  if (capacity !== undefined && !positive(capacity)) return bad('kv_capacity_tokens', 'must be a positive number');
  prefill.sort((a, b) => a.tokens - b.tokens);
  decode.sort((a, b) => a.contextTokens - b.contextTokens || a.batch - b.batch);
  return ok({ prefill, decode, kvCapacityTokens: capacity });
}

/** Reads and parses a measured-profile file; errors name the file and the field. */
export function loadMeasuredProfile(file: string): Result<MeasuredProfile> {
  const text = readTextFile(file, 'profile file');
  if (!text.ok) return text;
  try {
    return parseMeasuredProfile(JSON.parse(text.value), `profile file ${file}`);
  } catch (error) {
    return fail(
      new TandemError('invalid_request', `profile file ${file} is not valid JSON: ${(error as Error).message}`, {
        cause: error,
      }),
    );
  }
}

/**
 * A PerfModel from measurements. `base` supplies what a timing table cannot (GPUs per replica,
 * KV bytes per token, and the KV capacity when the file gives none). A pass mixing decode and
 * prefill costs the slower of the two, as in the roofline (memory-bound decode and
 * compute-bound prefill overlap).
 */
export function createMeasuredPerf(profile: MeasuredProfile, base: PerfModel, label: string): PerfModel {
  const prefillPoints = profile.prefill.map((row) => [row.tokens, row.seconds] as const);
  const contexts = [...new Set(profile.decode.map((row) => row.contextTokens))];
  const rows = contexts.map((context) =>
    profile.decode.filter((row) => row.contextTokens === context).map((row) => [row.batch, row.stepSeconds] as const),
  );
  const decodeStep = (batch: number, context: number): number => {
    if (batch <= 0) return 0;
    const at = (i: number) => interpolate(rows[i]!, batch);
    if (contexts.length === 1) return at(0);
    const curve = contexts.map((c, i) => [c, at(i)] as const);
    return Math.max(0, interpolate(curve, context));
  };
  const prefill = (newTokens: number) => (newTokens <= 0 ? 0 : interpolate(prefillPoints, newTokens));
  return {
    label: `${label} (measured)`,
    gpusPerReplica: base.gpusPerReplica,
    kvBytesPerToken: base.kvBytesPerToken,
    kvCapacityTokens: profile.kvCapacityTokens ?? base.kvCapacityTokens,
    prefillSeconds: (newTokens) => prefill(newTokens),
    decodeStepSeconds: decodeStep,
    mixedStepSeconds: (batch, context, prefillTokens) => Math.max(decodeStep(batch, context), prefill(prefillTokens)),
  };
}

/** Piecewise-linear through `points` (sorted by x): floor below the first, last slope beyond the end. */
function interpolate(points: readonly (readonly [number, number])[], x: number): number {
  const first = points[0]!;
  if (points.length === 1 || x <= first[0]) return first[1];
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i]!;
    const [x0, y0] = points[i - 1]!;
    if (x <= x1 || i === points.length - 1) return x1 === x0 ? y1 : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  }
  return first[1];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}
