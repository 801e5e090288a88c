import { TandemError } from '../../common/errors.ts';
import { hitRateUpperBound } from '../stats/hit-rate-bound.ts';
import { drainSource } from './drain.ts';
import { createWorkload, getWorkloadDefinition, WORKLOADS, workloadNames } from './registry.ts';

/** `tandem bench workloads`: every workload and its parameters with their defaults. */
export function describeWorkloads(name?: string): string {
  const names = name ? [name] : workloadNames();
  const blocks = names.map((n) => {
    const definition = getWorkloadDefinition(n);
    if (!definition.ok) throw definition.error;
    const docs = definition.value.paramDocs;
    const shown = docs.map((d) => ({
      ...d,
      value: d.defaultValue === undefined ? '(unset)' : JSON.stringify(d.defaultValue),
    }));
    const nameWidth = Math.max(...shown.map((d) => d.name.length));
    const valueWidth = Math.max(...shown.map((d) => d.value.length));
    const params = shown.map((d) => `    ${d.name.padEnd(nameWidth)}  ${d.value.padEnd(valueWidth)}  ${d.description}`);
    return [`${n}: ${definition.value.description}`, ...params].join('\n');
  });
  const known = Object.keys(WORKLOADS).length;
  return `${blocks.join('\n\n')}\n${name ? '' : `\n${known} workloads; set parameters with -p key=value.\n`}`;
}

/**
 * Draws `count` requests (completions fed back after a fixed 1 s, every request succeeding with
 * its max_tokens) and describes them: what a run of this workload will send.
 */
export function sampleWorkload(name: string, params: Record<string, unknown>, seed: string, count: number): string {
  const workload = createWorkload(name, params, seed);
  if (!workload.ok) throw workload.error;
  if (!(count >= 1)) throw new TandemError('invalid_request', '--sample needs a count >= 1');
  const started = performance.now();
  const done = drainSource(workload.value.open(), { maxRequests: count });
  const ms = performance.now() - started;
  if (done.length === 0) return `${name}: no requests\n`;
  const isl = done.map((d) => d.request.promptTokenIds.length);
  const osl = done.map((d) => d.request.maxOutputTokens);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const last = done.at(-1)!.request.arrivalMs;
  const shapes = done.map((d) => ({
    promptTokens: d.request.promptTokenIds.length,
    sharedPrefixTokens: d.request.sharedPrefixTokens,
  }));
  const lines = [
    `${name} (seed ${seed}): ${done.length} requests drawn in ${ms.toFixed(0)} ms`,
    `  sessions        ${new Set(done.map((d) => d.request.sessionKey)).size}`,
    `  prompt tokens   mean ${mean(isl).toFixed(0)}, min ${Math.min(...isl)}, max ${Math.max(...isl)}`,
    `  max_tokens      mean ${mean(osl).toFixed(0)}, min ${Math.min(...osl)}, max ${Math.max(...osl)}`,
    `  arrivals        over ${(last / 1000).toFixed(1)} s (${last > 0 ? ((done.length - 1) / (last / 1000)).toFixed(2) : '-'} req/s)`,
    `  hit-rate bound  ${pct(hitRateUpperBound(shapes, 1))} per token, ${pct(hitRateUpperBound(shapes, 16))} at 16-token blocks`,
  ];
  return `${lines.join('\n')}\n`;
}

function pct(value: number | null): string {
  return value === null ? '-' : `${(value * 100).toFixed(1)}%`;
}
