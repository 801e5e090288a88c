import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type ConfigInput } from '../common/config/index.ts';
import { DEFAULT_LATENCIES, type SimOptions } from '../bench/sim/options.ts';
import { runSimulation, type SimResult } from '../bench/sim/run-sim.ts';

/** Options for a small, fast simulated run (Qwen3-8B on H100s), with overrides. */
export function simOptions(overrides: Partial<Omit<SimOptions, 'config'>> & { config?: ConfigInput } = {}): SimOptions {
  // An aggregated fleet unless a test asks for a disaggregation mode (the config's default is auto).
  const given = overrides.config ?? {};
  const config = parseConfig({ ...given, disaggregation: { mode: 'never', ...given.disaggregation } });
  if (!config.ok) throw config.error;
  return {
    workload: 'mixed-isl',
    params: {},
    seed: '1',
    qps: 8,
    durationS: 20,
    workers: 4,
    gpu: 'h100-sxm',
    model: 'qwen3-8b',
    tp: 1,
    prefillWorkers: 0,
    planner: false,
    latency: DEFAULT_LATENCIES,
    slo: { ttftMs: 1000, itlMs: 50 },
    ...overrides,
    config: config.value,
  };
}

export const simulateSmall = (overrides: Parameters<typeof simOptions>[0] = {}): Promise<SimResult> =>
  runSimulation(simOptions(overrides));

/** A trace file holding the given requests (token ids, output tokens, arrival ms); removed by `cleanup`. */
export function traceFile(
  requests: readonly { arrivalMs: number; prompt: readonly number[]; outputTokens: number }[],
): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-sim-'));
  const path = join(dir, 'trace.jsonl');
  writeFileSync(
    path,
    requests
      .map((r) =>
        JSON.stringify({ arrival_ms: r.arrivalMs, prompt_token_ids: r.prompt, output_tokens: r.outputTokens }),
      )
      .join('\n'),
  );
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The figures of a summary that must repeat exactly for one seed (everything it holds). */
export const comparable = (result: SimResult) => ({
  summary: result.summary,
  setup: result.setup,
  replicas: result.replicas,
  steps: result.stats.engineSteps,
  requests: result.stats.requests,
});
