import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseResultFile } from '../bench/report/result-file.ts';

const run = promisify(execFile);
const tandem = new URL('../bin/tandem.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tandem-sim-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small, fast fleet: 2 Qwen3-8B workers for 10 simulated seconds of a light mixed-isl load. */
const small = [
  '--workload',
  'mixed-isl',
  '-p',
  'long_share=0.1',
  '--workers',
  '3',
  '--gpu',
  'h100-sxm',
  '--model',
  'qwen3-8b',
  '--duration',
  '10',
];

describe('tandem simulate', () => {
  it('sweeps policies and rates, prints one row per point, and writes the result file with the exact command and a CSV', async () => {
    const out = join(dir, 'sweep-run.json');
    const csv = join(dir, 'sweep.csv');
    const args = ['simulate', ...small, '--policy', 'kv,round-robin', '--qps', '2:4:2', '--out', out, '--csv', csv];
    const { stdout, stderr } = await run(process.execPath, [tandem, ...args]);
    expect(stderr).toMatch(/run 4\/4: round-robin \(precise\), aggregated, 4 req\/s/);
    const rows = stdout.split('\n').filter((line) => /^(kv|round-robin)\s/.test(line));
    expect(rows).toHaveLength(4);
    const file = parseResultFile(readFileSync(out, 'utf8'));
    expect(file.ok).toBe(true);
    if (!file.ok) return;
    expect(file.value.experiment).toBe('sweep-run');
    expect(file.value.runs.map((r) => [r.policy, r.qps, r.tool])).toEqual([
      ['kv', 2, 'simulate'],
      ['kv', 4, 'simulate'],
      ['round-robin', 2, 'simulate'],
      ['round-robin', 4, 'simulate'],
    ]);
    expect(file.value.runs[0]!.command).toBe(`npx tandem ${args.join(' ')}`);
    expect(file.value.runs[0]!.setup).toMatchObject({
      workers: 3,
      gpu: 'h100-sxm',
      model: 'qwen3-8b',
      disaggregation: 'never',
      index: 'precise',
    });
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^policy,label,qps,completed,failed/);
  });

  it('prints a single run as a summary, per request class with --by-class, and disaggregates when asked', async () => {
    const { stdout } = await run(process.execPath, [
      tandem,
      'simulate',
      ...small,
      '--qps',
      '3',
      '--disaggregation',
      'always',
      '--prefill-workers',
      '1',
      '--by-class',
      '--json',
    ]);
    const file = parseResultFile(stdout, 'stdout');
    expect(file.ok).toBe(true);
    if (!file.ok) return;
    expect(file.value.runs.map((r) => r.label)).toEqual(['always', 'always, long requests', 'always, short requests']);
    const [all, long, short] = file.value.runs.map((r) => r.summary);
    expect(long!.requests.sent + short!.requests.sent).toBe(all!.requests.sent);
    expect(all!.kv_transfer_bytes).toBeGreaterThan(0);
    // `always` splits every request the dispatcher can: while the one prefill worker is saturated
    // the shipped dispatcher serves aggregated on a decode worker rather than wait.
    expect(file.value.runs[0]!.setup.disaggregated_share).toBeGreaterThan(0.5);
  });

  it('fails with exit code 2 and the known names on a bad policy', async () => {
    const policy = await run(process.execPath, [tandem, 'simulate', ...small, '--policy', 'fastest']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(policy).toMatchObject({ code: 2 });
    expect((policy as { stderr: string }).stderr).toMatch(
      /unknown routing policy "fastest" \(known: kv, cache-aware, round-robin/,
    );
  });

  it('explains that a disaggregation mode needs a prefill pool', async () => {
    const mode = await run(process.execPath, [tandem, 'simulate', ...small, '--disaggregation', 'auto']).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(mode).toMatchObject({ code: 2 });
    expect((mode as { stderr: string }).stderr).toMatch(
      /--disaggregation auto needs a prefill pool: give --prefill-workers P/,
    );
  });
});
