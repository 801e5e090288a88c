import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tandem = new URL('../bin/tandem.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tandem-planner-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

async function fails(args: string[]): Promise<{ code: number; stderr: string }> {
  const env = { ...process.env };
  delete env.TANDEM_CONFIG;
  const error = (await run(process.execPath, [tandem, 'planner', ...args], { env }).catch((e: unknown) => e)) as {
    code: number;
    stderr: string;
  };
  return error;
}

describe('tandem planner --once', () => {
  it('prints one decision as JSON with the defaults (Qwen3-8B on H100, TTFT 1 s, ITL 50 ms)', async () => {
    const observations = file('long.json', {
      request_rate: 10,
      isl_mean: 8000,
      osl_mean: 200,
      prefix_hit_rate: 0,
      ttft_p90_s: 0.8,
      itl_p90_s: 0.03,
    });
    const { stdout } = await run(process.execPath, [
      tandem,
      'planner',
      '--once',
      '--observations',
      observations,
      '--json',
    ]);
    const decision = JSON.parse(stdout) as Record<string, unknown>;
    expect(decision).toMatchObject({
      prefill_replicas: 4,
      decode_replicas: 2,
      predicted: { request_rate: 10, isl_mean: 8000, osl_mean: 200, prefix_hit_rate: 0 },
    });
    expect(decision.disaggregation_threshold_tokens).toEqual(expect.any(Number));
    expect(decision.pools).toEqual([
      expect.objectContaining({ name: 'prefill', gpu: 'h100-sxm', model: 'qwen3-8b' }),
      expect.objectContaining({ name: 'decode', gpu: 'h100-sxm' }),
    ]);
    expect(
      (decision.reasons as string[]).some((reason) =>
        reason.includes('observed ITL p90 30.0 ms meets the 50 ms target'),
      ),
    ).toBe(true);
  });

  it('moves the P:D ratio between a chat mix and a summarisation mix', async () => {
    const once = async (observation: unknown) => {
      const { stdout } = await run(process.execPath, [
        tandem,
        'planner',
        '--once',
        '--json',
        '--observations',
        file(`mix-${Math.random()}.json`, observation),
      ]);
      const decision = JSON.parse(stdout) as { prefill_replicas: number; decode_replicas: number };
      return decision.prefill_replicas / decision.decode_replicas;
    };
    const chat = await once({ request_rate: 30, isl_mean: 200, osl_mean: 2000 });
    const summarise = await once({ request_rate: 30, isl_mean: 8000, osl_mean: 150 });
    expect(summarise).toBeGreaterThan(chat);
  });

  it('uses the pools and SLOs of a config file', async () => {
    const config = file(
      'planner.yaml',
      'planner:\n  slo: { ttft_s: 2, itl_s: 0.1 }\n  pools:\n    - { name: p-l40s, role: prefill, gpu: l40s }\n    - { name: d-h200, role: decode, gpu: h200, min_replicas: 3 }\n',
    );
    const { stdout } = await run(process.execPath, [
      tandem,
      'planner',
      '--config',
      config,
      '--once',
      '--json',
      '--observations',
      file('small.json', { request_rate: 1, isl_mean: 1000, osl_mean: 100 }),
    ]);
    const decision = JSON.parse(stdout) as { pools: { name: string; gpu: string; replicas: number }[] };
    expect(decision.pools.map((p) => [p.name, p.gpu])).toEqual([
      ['p-l40s', 'l40s'],
      ['d-h200', 'h200'],
    ]);
    expect(decision.pools[1]!.replicas).toBe(3);
  });

  it('answers bad files and flags with one line and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--once'], /^tandem planner: --once needs --observations FILE\n$/],
      [['--observations', 'x.json'], /--observations is only read with --once/],
      [['--json'], /--json applies to --once/],
      [
        ['--once', '--observations', join(dir, 'missing.json')],
        /cannot read observations file .*missing\.json: no such file/,
      ],
      [['--once', '--observations', file('garbage.json', '{not json')], /is not valid JSON/],
      [['--once', '--observations', file('neg.json', { request_rate: -1, isl_mean: 1, osl_mean: 1 })], /request_rate/],
      [
        [
          '--once',
          '--observations',
          file('ok.json', { request_rate: 1, isl_mean: 1, osl_mean: 1 }),
          '--config',
          file(
            'gpu.yaml',
            'planner:\n  pools:\n    - { name: p, role: prefill, gpu: tpu }\n    - { name: d, role: decode }\n',
          ),
        ],
        /unknown gpu profile "tpu" \(known: h100-sxm/,
      ],
      [
        [
          '--once',
          '--observations',
          file('ok2.json', { request_rate: 1, isl_mean: 1, osl_mean: 1 }),
          '--config',
          file('pred.yaml', 'planner:\n  predictor: { kind: arima }\n'),
        ],
        /unknown predictor "arima"/,
      ],
      [
        [
          '--once',
          '--observations',
          file('ok3.json', { request_rate: 1, isl_mean: 1, osl_mean: 1 }),
          '--config',
          file('roles.yaml', 'planner:\n  pools:\n    - { name: p, role: prefill }\n'),
        ],
        /needs at least one decode pool/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => fails(args)));
    for (const [index, [args, pattern]] of cases.entries()) {
      const { code, stderr } = results[index]!;
      expect(code, args.join(' ')).toBe(2);
      expect(stderr, args.join(' ')).toMatch(pattern);
      expect(stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});

describe('tandem planner (continuous)', () => {
  it('scrapes the orchestrator, serves /decision and /metrics, and stops on SIGTERM', async () => {
    const { createServer } = await import('node:http');
    const { spawn } = await import('node:child_process');
    // A stand-in orchestrator whose request counter grows by 10 per scrape.
    let requests = 0;
    const orchestrator = createServer((_request, response) => {
      requests += 10;
      response
        .writeHead(200, { 'content-type': 'text/plain' })
        .end(
          `tandem_requests_total{outcome="success",mode="disaggregated"} ${requests}\ntandem_prompt_tokens_total ${requests * 2000}\ntandem_generation_tokens_total ${requests * 200}\n`,
        );
    });
    await new Promise<void>((resolve) => orchestrator.listen(0, '127.0.0.1', resolve));
    const { port } = orchestrator.address() as { port: number };
    const config = file(
      'run.yaml',
      `log: { format: json, level: info }\nplanner:\n  interval_s: 0.3\n  source: { kind: scrape, url: "http://127.0.0.1:${port}/metrics" }\n  hooks: { mode: hpa, metrics_port: 0 }\n`,
    );
    const child = spawn(process.execPath, [tandem, 'planner', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      const httpPort = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`planner did not start: ${output}`)), 30_000);
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const started = output
            .split('\n')
            .map((line) => (line.startsWith('{') ? (JSON.parse(line) as { msg?: string; httpPort?: number }) : {}))
            .find((entry) => entry.msg === 'planner started');
          if (started?.httpPort) {
            clearTimeout(timer);
            resolve(started.httpPort);
          }
        });
      });
      const base = `http://127.0.0.1:${httpPort}`;
      expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
      let decision: { prefill_replicas?: number; predicted?: { isl_mean: number } } = {};
      for (let i = 0; i < 100 && decision.prefill_replicas === undefined; i++) {
        const answer = await fetch(`${base}/decision`);
        if (answer.ok) decision = (await answer.json()) as typeof decision;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(decision.predicted?.isl_mean).toBe(2000);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(
        /^tandem_planner_desired_replicas\{pool="decode",role="decode"\} \d+$/m,
      );
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await new Promise<void>((resolve) => orchestrator.close(() => resolve()));
    }
  });
});
