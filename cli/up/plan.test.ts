import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigInput } from '../../common/config/index.ts';
import { nextRestart } from './backoff.ts';
import { parseWorkersSpec, settingsFromFlags } from './flags.ts';
import { orchestratorConfigFile, planFleet, plannerConfigFile, workerConfigFile } from './plan.ts';

function config(input: Record<string, unknown> = {}) {
  const parsed = parseConfig(input as ConfigInput);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

function errorOf<T>(result: { ok: true; value: T } | { ok: false; error: Error }): string {
  if (result.ok) throw new Error('expected a failure');
  return result.error.message;
}

describe('--workers', () => {
  it('reads N as workers of role both and P:D[:B] as prefill, decode and both', () => {
    expect(parseWorkersSpec('4')).toEqual({ ok: true, value: [{ role: 'both', count: 4 }] });
    expect(parseWorkersSpec('2:2')).toEqual({
      ok: true,
      value: [
        { role: 'prefill', count: 2 },
        { role: 'decode', count: 2 },
      ],
    });
    expect(parseWorkersSpec('1:0:3')).toEqual({
      ok: true,
      value: [
        { role: 'prefill', count: 1 },
        { role: 'both', count: 3 },
      ],
    });
  });

  it('rejects anything else with the syntax in one line', () => {
    for (const bad of ['', 'two', '0', '0:0', '1:2:3:4', '-1', '2.5', '65', '1:x']) {
      const message = errorOf(parseWorkersSpec(bad));
      expect(message, bad).toContain('--workers must be N (N workers of role both) or P:D[:B]');
      expect(message).not.toContain('\n');
    }
  });
});

describe('flags', () => {
  it('turn into config overrides, and --gpu/--model/--engine also replace what groups name', () => {
    const settings = settingsFromFlags({
      port: '0',
      workers: '3',
      gpu: 'l40s',
      engine: 'sim',
      disaggregation: 'never',
      timeScale: '10',
      planner: false,
    });
    if (!settings.ok) throw settings.error;
    expect(settings.value.overrides).toEqual({
      'orchestrator.port': 0,
      'up.workers': [{ role: 'both', count: 3 }],
      'worker.time_scale': 10,
      'worker.gpu': 'l40s',
      'worker.engine': 'sim',
      'disaggregation.mode': 'never',
      'up.planner': false,
    });
    expect(settings.value.force).toEqual({ gpu: 'l40s', engine: 'sim' });
  });

  it('reject a bad port or time scale naming the flag', () => {
    expect(errorOf(settingsFromFlags({ port: '80000' }))).toContain('--port must be an integer from 0 to 65535');
    expect(errorOf(settingsFromFlags({ port: 'http' }))).toContain('--port');
    expect(errorOf(settingsFromFlags({ timeScale: '0' }))).toContain('--time-scale must be a positive number');
  });
});

describe('the fleet plan', () => {
  it('defaults to 2 prefill + 2 decode Qwen3-8B on H100, named by role, with the planner', () => {
    const plan = planFleet(config());
    if (!plan.ok) throw plan.error;
    expect(plan.value.workers.map((w) => `${w.name}:${w.role}:${w.gpu}:${w.model}:${w.engine}`)).toEqual([
      'prefill-0:prefill:h100-sxm:qwen3-8b:sim',
      'prefill-1:prefill:h100-sxm:qwen3-8b:sim',
      'decode-0:decode:h100-sxm:qwen3-8b:sim',
      'decode-1:decode:h100-sxm:qwen3-8b:sim',
    ]);
    expect(plan.value.servedModel).toBe('Qwen/Qwen3-8B');
    expect(plan.value.planner).toBe(true);
    // Every port picked free, a different seed per worker, JSON logs for the relay.
    const args = plan.value.workers[1]!.args;
    for (const flag of ['--grpc-port', '--http-port', '--kv-events-port', '--replay-port'])
      expect(args[args.indexOf(flag) + 1]).toBe('0');
    expect(args[args.indexOf('--seed') + 1]).toBe('1');
    expect(args[args.indexOf('--log-format') + 1]).toBe('json');
  });

  it("serves the workers' model under its Hugging Face id, unless orchestrator.model names another", () => {
    const plan = planFleet(config({ up: { workers: [{ role: 'both', count: 1, model: 'llama-3.1-8b' }] } }));
    expect(plan.ok && plan.value.servedModel).toBe('meta-llama/Llama-3.1-8B-Instruct');
    const named = planFleet(
      config({
        orchestrator: { model: 'my-model' },
        up: { workers: [{ role: 'both', count: 1, model: 'llama-3.1-8b' }] },
      }),
    );
    expect(named.ok && named.value.servedModel).toBe('my-model');
  });

  it("lets --gpu override what the config's groups name", () => {
    const plan = planFleet(
      config({
        up: {
          workers: [
            { role: 'prefill', count: 1, gpu: 'h100-sxm' },
            { role: 'decode', count: 1 },
          ],
        },
      }),
      { gpu: 'l40s' },
    );
    expect(plan.ok && plan.value.workers.map((w) => w.gpu)).toEqual(['l40s', 'l40s']);
  });

  it('fails, naming the field, on unknown profiles, mixed models and mismatched block sizes', () => {
    expect(errorOf(planFleet(config(), { gpu: 'h9000' }))).toMatch(
      /^up\.workers\.0: unknown gpu profile "h9000" \(known: h100-sxm/,
    );
    expect(
      errorOf(
        planFleet(
          config({
            up: {
              workers: [
                { role: 'prefill', count: 1, model: 'qwen3-32b' },
                { role: 'decode', count: 1 },
              ],
            },
          }),
        ),
      ),
    ).toContain('every worker must run the same model');
    expect(errorOf(planFleet(config({ worker: { block_size: 32 } })))).toContain(
      'worker.block_size (32) differs from routing.block_size (16)',
    );
  });
});

describe('the config files it writes', () => {
  it('are valid configs that say what each process must do', () => {
    const plan = planFleet(
      config({
        up: {
          workers: [
            { role: 'prefill', count: 1, gpu: 'l40s' },
            { role: 'decode', count: 2 },
          ],
        },
      }),
    );
    if (!plan.ok) throw plan.error;
    const workers = [
      { name: 'prefill-0', role: 'prefill' as const, grpc: '127.0.0.1:1001' },
      { name: 'decode-0', role: 'decode' as const, grpc: '127.0.0.1:1002' },
    ];
    const orchestrator = config(
      JSON.parse(
        JSON.stringify(
          orchestratorConfigFile(plan.value, { port: 8123, workers, plannerUrl: 'http://127.0.0.1:9999' }),
        ),
      ),
    );
    expect(orchestrator.orchestrator.port).toBe(8123);
    expect(orchestrator.log.format).toBe('json');
    expect(orchestrator.orchestrator.planner_url).toBe('http://127.0.0.1:9999');
    expect(orchestrator.disaggregation.follow_planner).toBe(false);
    expect(orchestrator.workers.map((w) => [w.name, w.role, w.address])).toEqual([
      ['prefill-0', 'prefill', '127.0.0.1:1001'],
      ['decode-0', 'decode', '127.0.0.1:1002'],
    ]);
    const planner = config(
      JSON.parse(
        JSON.stringify(plannerConfigFile(plan.value, { orchestratorUrl: 'http://127.0.0.1:8123', plannerPort: 9999 })),
      ),
    );
    expect(planner.planner.dry_run).toBe(true);
    expect(planner.planner.source).toMatchObject({ kind: 'scrape', url: 'http://127.0.0.1:8123/metrics' });
    expect(planner.planner.hooks).toMatchObject({ host: '127.0.0.1', metrics_port: 9999 });
    // Pools priced as the fleet runs: prefill on L40S, decode on the default H100.
    expect(planner.planner.pools.map((p) => `${p.name}:${p.gpu}`)).toEqual(['prefill:l40s', 'decode:h100-sxm']);
    expect(config(JSON.parse(JSON.stringify(workerConfigFile(plan.value)))).worker).toEqual(plan.value.config.worker);
  });
});

describe('restart backoff', () => {
  it('doubles with each crash in a row up to the cap, and starts over after a long run', () => {
    const policy = { baseMs: 1000, maxMs: 5000, resetMs: 60_000 };
    let crashes = 0;
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const next = nextRestart(policy, crashes, 100);
      delays.push(next.delayMs);
      crashes = next.crashes;
    }
    expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(nextRestart(policy, crashes, 60_000)).toEqual({ delayMs: 1000, crashes: 1 });
  });
});
