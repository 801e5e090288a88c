import type { Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import type { Observation } from '../types.ts';
import { parsePrometheusText } from '../../common/prometheus-text.ts';
import { observationFromScrapes, type PoolAttribution, type Scrape } from './scrape-diff.ts';
import type { ObservationSource } from './source.ts';

export interface ScrapeSourceOptions {
  /** The orchestrator's /metrics URL. */
  readonly url: string;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly pools: readonly PoolAttribution[];
  readonly slo: { readonly ttftS: number; readonly itlS: number };
}

/**
 * Scrapes the orchestrator's /metrics text on every collect and diffs it against the previous
 * scrape. The first collect only takes the baseline and answers undefined.
 */
export function createScrapeSource(options: ScrapeSourceOptions): ObservationSource {
  let previous: Scrape | undefined;
  return {
    async collect(signal) {
      const text = await fetchText(options.url, options.timeoutMs, signal);
      const parsed = parsePrometheusText(text);
      if (!parsed.ok) throw new TandemError('upstream_error', `${options.url}: ${parsed.error.message}`);
      const current: Scrape = { atMs: options.clock.now(), samples: parsed.value };
      const before = previous;
      previous = current;
      if (!before || current.atMs <= before.atMs) return undefined;
      const observation: Observation = observationFromScrapes(before, current, options.pools, options.slo);
      return observation;
    },
  };
}

/** GET with a timeout; non-2xx and network failures reject with a TandemError naming the URL. */
export async function fetchText(url: string, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { signal: combined, headers: { accept: 'text/plain, application/json' } });
  } catch (error) {
    throw new TandemError('upstream_error', `cannot reach ${url}: ${(error as Error).message}`, { cause: error });
  }
  const body = await response.text();
  if (!response.ok)
    throw new TandemError('upstream_error', `${url} answered ${response.status}: ${body.slice(0, 200)}`);
  return body;
}
