import type { PerfModel } from './perf-model.ts';
import { promptMixMoments, promptMixQuantile, type PromptMix } from './prompt-mix.ts';

/** The prefill work of the disaggregated requests, as one replica sees it. */
export interface PrefillService {
  /** Mean seconds one prompt's prefill occupies a replica. */
  readonly meanSeconds: number;
  /** Squared coefficient of variation of that time, Var[S] / E[S]^2 (0 for identical prompts). */
  readonly scv: number;
  /** Seconds of the prefill of a prompt at the `quantile` of the prompt lengths. */
  readonly tailSeconds: number;
  /** Mean uncached tokens per prompt. */
  readonly meanUncachedTokens: number;
}

/** How hard one prefill replica may be driven for its TTFT quantile to stay within the budget. */
export interface PrefillOperatingPoint {
  /** Mean seconds one prompt's prefill occupies a replica. */
  readonly serviceSeconds: number;
  /** Seconds of the prefill of a long prompt (at the TTFT quantile of prompt lengths). */
  readonly tailServiceSeconds: number;
  readonly scv: number;
  /** Seconds of the TTFT target left for queueing + prefill (after the transfer and first decode step). */
  readonly budgetSeconds: number;
  /** Share of requests whose TTFT is planned to fit the budget, 0-1. */
  readonly quantile: number;
  /** Replicas sharing the arrivals the point was computed for. */
  readonly servers: number;
  /** Utilisation planned for, (0, 1]. */
  readonly utilization: number;
  /** Seconds of queueing at `quantile` at that utilisation. */
  readonly waitSeconds: number;
  /** Requests/s one replica serves at that utilisation. */
  readonly requestsPerSecond: number;
  /** Uncached prompt tokens/s one replica serves at that utilisation. */
  readonly tokensPerSecond: number;
  /** `quantile`: the TTFT quantile fits; `mean`: only the mean fits (long prompts miss even idle); `none`: even the mean misses. */
  readonly target: 'quantile' | 'mean' | 'none';
}

/** Share of requests whose TTFT the prefill pool is sized to keep within the target, when none is given. */
export const DEFAULT_TTFT_QUANTILE = 0.9;

/** Utilisation planned for when even an idle replica misses the TTFT target: size for throughput. */
export const UNREACHABLE_TTFT_UTILIZATION = 0.5;

/**
 * The prefill time of the prompts in `mix` on one replica: mean, squared coefficient of
 * variation, and the time at the `quantile` of prompt lengths. A prompt of x tokens leaves
 * x (1 - hit) uncached on x hit cached.
 */
export function prefillService(perf: PerfModel, mix: PromptMix, hitRate: number, quantile: number): PrefillService {
  const seconds = (isl: number) => perf.prefillSeconds(Math.max(1, isl * (1 - hitRate)), Math.max(0, isl * hitRate));
  const { mean, secondMoment } = promptMixMoments(mix, seconds);
  const scv = mean > 0 ? Math.max(0, secondMoment / (mean * mean) - 1) : 0;
  const tailSeconds = Math.max(mean, seconds(promptMixQuantile(mix, quantile)));
  const meanUncachedTokens = promptMixMoments(mix, (isl) => Math.max(1, isl * (1 - hitRate))).mean;
  return { meanSeconds: mean, scv, tailSeconds, meanUncachedTokens };
}

/**
 * Probability that an arrival waits in an M/M/c queue with c servers at utilisation rho
 * (Erlang C), through the Erlang B recursion B(k) = a B(k-1) / (k + a B(k-1)), a = c rho.
 * For c = 1 it is rho.
 */
export function erlangC(servers: number, rho: number): number {
  if (!(rho > 0)) return 0;
  if (rho >= 1) return 1;
  const a = servers * rho;
  let b = 1;
  for (let k = 1; k <= servers; k++) b = (a * b) / (k + a * b);
  return b / (1 - rho * (1 - b));
}

/**
 * Seconds of queueing at the `quantile` of an M/G/c queue (c = `servers` replicas sharing the
 * arrivals) at utilisation rho (0 <= rho < 1), mean service S and service SCV c2. The
 * Allen-Cunneen approximation gives the mean wait, Wq = C(c, rho) S (1 + c2) / (2 c (1 - rho))
 * (exact for M/G/1: Pollaczek-Khinchine); an arrival waits with probability C(c, rho), and then
 * for an exponential time of mean Wq / C (exact for M/M/c), so
 * P(W > t) = C exp(-t C / Wq) and the quantile is (Wq / C) ln(C / (1 - quantile)), or 0 when
 * C <= 1 - quantile. Increasing in rho.
 */
export function waitQuantileSeconds(
  rho: number,
  meanServiceS: number,
  scv: number,
  quantile: number,
  servers = 1,
): number {
  if (!(rho > 0)) return 0;
  if (rho >= 1) return Infinity;
  const waitProbability = erlangC(servers, rho);
  const conditionalMean = (meanServiceS * (1 + scv)) / (2 * servers * (1 - rho));
  return conditionalMean * Math.max(0, Math.log(waitProbability / (1 - quantile)));
}

/** Mean M/G/c wait (Allen-Cunneen; Pollaczek-Khinchine for c = 1), seconds. */
const meanWaitSeconds = (rho: number, meanServiceS: number, scv: number, servers: number) =>
  rho >= 1 ? Infinity : (erlangC(servers, rho) * meanServiceS * (1 + scv)) / (2 * servers * (1 - rho));

/**
 * A prefill pool of `servers` replicas as an M/G/c queue (Poisson arrivals, prompt lengths as
 * observed, the router sending each prompt to a free replica): the highest utilisation
 * rho <= `maxUtilization` at which the TTFT `quantile` fits the budget, planned as wait at the
 * quantile (waitQuantileSeconds) + the prefill of a prompt at the quantile of prompt lengths.
 * Adding two quantiles overstates the quantile of their sum, a margin on the safe side. When a
 * long prompt alone misses the budget, the mean TTFT (mean wait + mean prefill) is planned
 * instead; when even that misses, sized for throughput at UNREACHABLE_TTFT_UTILIZATION.
 * `requestsPerSecond` is per replica.
 */
export function prefillOperatingPoint(
  service: PrefillService,
  budgetSeconds: number,
  maxUtilization: number,
  quantile: number,
  servers = 1,
): PrefillOperatingPoint {
  const S = Math.max(1e-9, service.meanSeconds);
  const fits = (slack: number, wait: (rho: number) => number): number => {
    if (wait(maxUtilization) <= slack) return maxUtilization;
    let low = 0;
    let high = maxUtilization;
    for (let i = 0; i < 60; i++) {
      const mid = (low + high) / 2;
      if (wait(mid) <= slack) low = mid;
      else high = mid;
    }
    return low;
  };
  let target: PrefillOperatingPoint['target'];
  let utilization: number;
  if (service.tailSeconds < budgetSeconds) {
    target = 'quantile';
    utilization = fits(budgetSeconds - service.tailSeconds, (rho) =>
      waitQuantileSeconds(rho, S, service.scv, quantile, servers),
    );
  } else if (S < budgetSeconds) {
    target = 'mean';
    utilization = fits(budgetSeconds - S, (rho) => meanWaitSeconds(rho, S, service.scv, servers));
  } else {
    target = 'none';
    utilization = Math.min(maxUtilization, UNREACHABLE_TTFT_UTILIZATION);
  }
  // A utilisation of 0 would mean infinite replicas; keep a floor that still sizes a finite pool.
  utilization = Math.max(utilization, 1e-3);
  const waitSeconds =
    target === 'mean'
      ? meanWaitSeconds(utilization, S, service.scv, servers)
      : waitQuantileSeconds(utilization, S, service.scv, quantile, servers);
  const requestsPerSecond = utilization / S;
  return {
    serviceSeconds: S,
    tailServiceSeconds: service.tailSeconds,
    scv: service.scv,
    budgetSeconds,
    quantile,
    servers,
    utilization,
    waitSeconds,
    requestsPerSecond,
    tokensPerSecond: requestsPerSecond * service.meanUncachedTokens,
    target,
  };
}

/** The replicas a prefill pool needs for `rate`, and the operating point it runs at. */
export interface PrefillPoolSize {
  /** Fractional replicas: c - 1 + the share of the step from c - 1 to c replicas' capacity that `rate` uses. */
  readonly demand: number;
  /** `rate` / demand: requests/s per replica at that size. */
  readonly requestsPerReplica: number;
  /** The operating point of the smallest integer pool that serves `rate`. */
  readonly point: PrefillOperatingPoint;
}

/** Most replicas one pool is searched over; beyond it the last size's per-replica rate is extrapolated. */
const MAX_SEARCH_REPLICAS = 1024;

/**
 * Sizes a pool for `rate` requests/s: the capacity of c replicas is c x the per-replica rate of
 * prefillOperatingPoint(..., c), which grows faster than c (a shared queue over more replicas
 * waits less); the smallest c whose capacity covers `rate` is found, and the demand interpolated
 * between c - 1 and c, so that demand is monotone in the rate and ceil(demand) = c.
 */
export function prefillPoolSize(
  service: PrefillService,
  budgetSeconds: number,
  maxUtilization: number,
  quantile: number,
  rate: number,
): PrefillPoolSize {
  let previousCapacity = 0;
  let point = prefillOperatingPoint(service, budgetSeconds, maxUtilization, quantile, 1);
  if (!(rate > 0)) return { demand: 0, requestsPerReplica: point.requestsPerSecond, point };
  for (let c = 1; c <= MAX_SEARCH_REPLICAS; c++) {
    point = prefillOperatingPoint(service, budgetSeconds, maxUtilization, quantile, c);
    const capacity = c * point.requestsPerSecond;
    if (capacity >= rate) {
      const demand = c - 1 + (rate - previousCapacity) / (capacity - previousCapacity);
      return { demand, requestsPerReplica: rate / demand, point };
    }
    previousCapacity = capacity;
  }
  const demand = rate / point.requestsPerSecond;
  return { demand, requestsPerReplica: point.requestsPerSecond, point };
}
