import { transferSeconds, type LinkProfile } from '../../common/profiles/index.ts';
import type { LoadForecast, PoolRole } from '../types.ts';
import { fitToBudget } from './budget.ts';
import { decodeOperatingPoint, type DecodeOperatingPoint } from './decode.ts';
import type { PerfModel } from './perf-model.ts';
import { DEFAULT_TTFT_QUANTILE, prefillPoolSize, prefillService } from './prefill.ts';
import { promptsAbove } from './prompt-mix.ts';
import { splitAtThreshold, type LoadSplit } from './split.ts';
import { recommendThreshold, type ThresholdRecommendation } from './threshold.ts';

/** A pool as sizing sees it: a role, its replica's performance, its bounds. */
export interface PoolSpec {
  readonly name: string;
  readonly role: PoolRole;
  readonly gpu: string;
  readonly model: string;
  readonly tp: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly perf: PerfModel;
}

export interface SizingInput {
  readonly load: LoadForecast;
  /** Targets, seconds. */
  readonly slo: { readonly ttftS: number; readonly itlS: number };
  /** Share of requests (0-1) whose TTFT the prefill pool is sized to keep within slo.ttftS; default DEFAULT_TTFT_QUANTILE. */
  readonly ttftQuantile?: number | undefined;
  /** At least one prefill and one decode pool. */
  readonly pools: readonly PoolSpec[];
  readonly link: LinkProfile;
  /** Seconds a disaggregated request pays beyond the link's transfer time (extra hop, handshake). */
  readonly handoffOverheadS: number;
  /** disaggregation.stall_weight: prices the decode batch's stall in the threshold; default 1. */
  readonly stallWeight?: number | undefined;
  /** Most GPUs the pools may hold together; 0 = no limit. */
  readonly gpuBudget: number;
  /** Tokens per KV block; the threshold is a multiple of it. */
  readonly blockSize: number;
  readonly maxPrefillUtilization: number;
  readonly maxKvUsage: number;
}

export interface PoolSizing {
  readonly name: string;
  readonly role: PoolRole;
  /** Fractional replicas the load needs on this pool. */
  readonly demand: number;
  /** Integer replicas: ceil(demand) within min/max, then the GPU budget. */
  readonly recommended: number;
  /** Requests/s one replica serves at the planned operating point. */
  readonly requestsPerReplica: number;
}

export interface Sizing {
  readonly pools: readonly PoolSizing[];
  readonly threshold: ThresholdRecommendation;
  readonly split: LoadSplit;
  readonly decodePoint: DecodeOperatingPoint;
  readonly reasons: readonly string[];
}

/** Demand within this of an integer counts as that integer (floating-point noise, not load). */
const EPSILON = 1e-6;

/**
 * Sizes every pool for the forecast load; pure. In order:
 * 1. decode operating point per decode pool: the largest batch meeting the ITL target at context
 *    isl + osl/2, capped by KV memory; one replica completes batch / (osl x step) requests/s;
 * 2. the disaggregation threshold from the preferred decode pool's batch (threshold.ts);
 * 3. the split of requests at that threshold (split.ts): the remote part is prefilled by the
 *    prefill pools, the local part inside decode passes;
 * 4. prefill demand: remote requests/s over what one replica serves with the TTFT quantile
 *    within the target (prefill.ts: M/G/c over the remote prompts' lengths from the ISL
 *    histogram, effective ISL = isl x (1 - hit));
 * 5. decode demand: requests/s over one replica's Little's-law rate, plus the replica-seconds/s
 *    that local prefills add to decode passes;
 * 6. pools of one role share their role's load, the most efficient per GPU filled first up to
 *    its maximum (mixed GPU kinds are each priced by their own profile);
 * 7. replicas = ceil(demand) within min/max, then the GPU budget (budget.ts).
 */
export function sizePools(input: SizingInput): Sizing {
  const { load, slo, link } = input;
  const reasons: string[] = [];
  const hit = clamp01(load.prefixHitRate);
  const rate = Math.max(0, load.requestRate);
  const isl = Math.max(0, load.islMean);
  const osl = Math.max(1, load.oslMean);
  const prefillPools = input.pools.filter((pool) => pool.role === 'prefill');
  const decodePools = input.pools.filter((pool) => pool.role === 'decode');
  if (prefillPools.length === 0 || decodePools.length === 0)
    throw new Error('sizePools needs at least one prefill and one decode pool');

  reasons.push(
    `load: ${fmt(rate)} req/s, ISL ${fmt(isl)} (effective ${fmt(isl * (1 - hit))} at ${pct(hit)} prefix hits), OSL ${fmt(osl)} tokens`,
  );

  // 1. Decode operating points.
  const decodePoints = new Map(
    decodePools.map((pool) => [pool.name, decodeOperatingPoint(pool.perf, isl, osl, slo.itlS, input.maxKvUsage)]),
  );
  const decodeOrder = [...decodePools].sort(
    (a, b) =>
      perGpu(decodePoints.get(b.name)!.requestsPerSecond, b) - perGpu(decodePoints.get(a.name)!.requestsPerSecond, a),
  );
  const primaryDecode = decodeOrder[0]!;
  const decodePoint = decodePoints.get(primaryDecode.name)!;

  // 2-3. Threshold and split.
  const threshold = recommendThreshold(
    primaryDecode.perf,
    link,
    input.handoffOverheadS,
    decodePoint.batch,
    decodePoint.contextTokens,
    hit,
    input.blockSize,
    input.stallWeight ?? 1,
  );
  reasons.push(threshold.reason);
  const split = splitAtThreshold(isl, hit, threshold.tokens, load.isl);
  const remoteRate = rate * split.remoteShare;
  const localRate = rate - remoteRate;
  reasons.push(
    `split: ${pct(split.remoteShare)} of requests disaggregated (${fmt(remoteRate)} req/s, mean ISL ${fmt(split.remoteIslMean)}), ${fmt(localRate)} req/s prefilled on decode workers`,
  );

  // 4. Prefill pools.
  const quantile = input.ttftQuantile ?? DEFAULT_TTFT_QUANTILE;
  const remoteEffective = split.remoteIslMean * (1 - hit);
  const remotePrompts = promptsAbove(hit >= 1 ? Infinity : threshold.tokens / (1 - hit), load.isl, split.remoteIslMean);
  const prefillCapacity = new Map(
    prefillPools.map((pool) => {
      const transfer = input.handoffOverheadS + transferSeconds(link, remoteEffective * pool.perf.kvBytesPerToken);
      const budget = slo.ttftS - transfer - decodePoint.stepSeconds;
      return [
        pool.name,
        prefillPoolSize(
          prefillService(pool.perf, remotePrompts, hit, quantile),
          budget,
          input.maxPrefillUtilization,
          quantile,
          remoteRate,
        ),
      ] as const;
    }),
  );
  const prefillDemand = fillRole(
    prefillPools,
    remoteRate,
    (pool) => prefillCapacity.get(pool.name)!.requestsPerReplica,
    (pool) => {
      const { point } = prefillCapacity.get(pool.name)!;
      const head = `${pool.name} (${pool.perf.label}): one prefill of ${fmt(remoteEffective)} uncached tokens takes ${ms(point.serviceSeconds)} on average (SCV ${fmt(point.scv)}), ${ms(point.tailServiceSeconds)} at the p${fmtQ(quantile)} prompt`;
      const rate = `${pct(point.utilization)} utilisation = ${fmt(point.requestsPerSecond)} req/s (${fmt(point.tokensPerSecond)} tok/s) per replica`;
      if (point.target === 'quantile')
        return `${head}; M/G/${point.servers} keeps TTFT p${fmtQ(quantile)} within ${ms(point.budgetSeconds)} of TTFT budget (wait ${ms(point.waitSeconds)}) at ${rate}`;
      if (point.target === 'mean')
        return `${head}; the p${fmtQ(quantile)} prompt alone misses the ${ms(point.budgetSeconds)} of TTFT budget, so the mean TTFT is planned (M/G/${point.servers} mean wait ${ms(point.waitSeconds)}) at ${rate}`;
      return `${head}, more than the ${ms(point.budgetSeconds)} of TTFT budget left after transfer and first step: TTFT target unreachable, sized for throughput at ${rate}`;
    },
    reasons,
  );

  // 5. Decode pools: Little's law plus local prefill interference.
  const localEffective = split.localIslMean * (1 - hit);
  const localCached = split.localIslMean * hit;
  const decodeDemand = fillRole(
    decodeOrder,
    rate,
    (pool) => {
      const point = decodePoints.get(pool.name)!;
      // Replica-seconds one request needs: its share of decode passes plus its local prefill's stretch.
      const decodeSeconds = 1 / point.requestsPerSecond;
      const extra =
        localRate > 0
          ? (localRate / rate) *
            Math.max(
              0,
              pool.perf.mixedStepSeconds(point.batch, point.contextTokens, localEffective, localCached) -
                point.stepSeconds,
            )
          : 0;
      return 1 / (decodeSeconds + extra);
    },
    (pool) => {
      const point = decodePoints.get(pool.name)!;
      const limit = {
        itl: 'the ITL target',
        'kv-memory': 'KV memory',
        'itl-unreachable': 'nothing: even batch 1 misses the ITL target',
        'kv-too-small': 'KV memory too small for one sequence',
      }[point.limitedBy];
      return `${pool.name} (${pool.perf.label}): batch ${point.batch} at context ${fmt(point.contextTokens)} steps in ${ms(point.stepSeconds)} (limited by ${limit}); Little's law: ${point.batch} / (${fmt(osl)} x ${ms(point.stepSeconds)}) = ${fmt(point.requestsPerSecond)} req/s per replica`;
    },
    reasons,
  );

  // 7. Integers, bounds, budget.
  const ordered = input.pools.map((pool) => {
    const demand = (pool.role === 'prefill' ? prefillDemand : decodeDemand).get(pool.name)!;
    return {
      pool,
      demand: demand.demand,
      perReplica: demand.perReplica,
      replicas: clamp(Math.ceil(demand.demand - EPSILON), pool.minReplicas, pool.maxReplicas),
    };
  });
  const fit = fitToBudget(
    ordered.map(({ pool, demand, replicas }) => ({
      name: pool.name,
      tp: pool.tp,
      minReplicas: pool.minReplicas,
      replicas,
      demand,
    })),
    input.gpuBudget,
  );
  if (fit.reason) reasons.push(fit.reason);
  const pools = ordered.map(({ pool, demand, perReplica }, i) => ({
    name: pool.name,
    role: pool.role,
    demand,
    recommended: fit.replicas[i]!,
    requestsPerReplica: perReplica,
  }));
  for (const pool of pools)
    reasons.push(`${pool.name}: demand ${pool.demand.toFixed(2)} replicas -> ${pool.recommended}`);
  return { pools, threshold, split, decodePoint, reasons };
}

/**
 * Spreads `rate` over the pools in the given order: each takes what its maximum allows, the rest
 * flows on. A pool past the load's end gets demand 0 (its minimum keeps it).
 */
function fillRole(
  pools: readonly PoolSpec[],
  rate: number,
  perReplica: (pool: PoolSpec) => number,
  describe: (pool: PoolSpec) => string,
  reasons: string[],
): Map<string, { demand: number; perReplica: number }> {
  const out = new Map<string, { demand: number; perReplica: number }>();
  const ordered = [...pools].sort((a, b) => perGpu(perReplica(b), b) - perGpu(perReplica(a), a));
  let left = rate;
  ordered.forEach((pool, index) => {
    const capacity = perReplica(pool);
    reasons.push(describe(pool));
    const needed = capacity > 0 ? left / capacity : left > 0 ? Infinity : 0;
    const taken = Math.min(needed, pool.maxReplicas);
    // The last pool keeps any overflow in its demand, so the report shows what was not covered.
    const last = index === ordered.length - 1;
    out.set(pool.name, { demand: last && Number.isFinite(needed) ? needed : taken, perReplica: capacity });
    left = Math.max(0, left - taken * capacity);
  });
  if (left > EPSILON)
    reasons.push(`${pools[0]!.role} pools are all at their maximum: ${fmt(left)} req/s beyond their capacity`);
  return out;
}

const perGpu = (requestsPerSecond: number, pool: PoolSpec) => requestsPerSecond / pool.tp;
const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));
const clamp01 = (value: number) => clamp(Number.isFinite(value) ? value : 0, 0, 1);
const fmt = (value: number) =>
  Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : Number(value.toPrecision(3)).toString();
const pct = (value: number) => `${(value * 100).toFixed(0)}%`;
const fmtQ = (quantile: number) => Number((quantile * 100).toPrecision(3)).toString();
const ms = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;
