import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeServer, type FakeServer } from '../bench/live/fake-server.ts';
import { parseResultFile } from '../bench/report/result-file.ts';
import { checkXml } from '../bench/report/svg/xml-check.ts';

const run = promisify(execFile);
const tandem = new URL('../bin/tandem.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-cli-'));

describe('tandem bench', () => {
  let server: FakeServer;
  beforeAll(async () => {
    server = await startFakeServer({
      ttftMs: 30,
      itlMs: 5,
      reply: (body) => ({ kind: 'stream', ttftMs: 30, itlMs: 5, tokens: body.max_tokens, cachedTokens: 32 }),
    });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a live sweep, prints the result file as JSON and writes it with the exact command', async () => {
    const out = join(dir, 'smoke-run.json');
    const args = [
      'bench',
      'live',
      '--url',
      server.url,
      '--workload',
      'mixed-isl',
      '-p',
      'output_tokens_min=4',
      '-p',
      'output_tokens_max=4',
      '-p',
      'short_tokens_max=100',
      '-p',
      'long_tokens_min=200',
      '-p',
      'long_tokens_max=300',
      '--concurrency',
      '1,3',
      '--requests',
      '6',
      '--policy',
      'kv',
      '--out',
      out,
      '--json',
    ];
    const { stdout, stderr } = await run(process.execPath, [tandem, ...args]);
    const printed = parseResultFile(stdout, 'stdout');
    expect(printed.ok).toBe(true);
    if (!printed.ok) return;
    expect(printed.value.experiment).toBe('smoke-run');
    expect(printed.value.runs.map((r) => [r.concurrency, r.summary.requests.completed, r.policy])).toEqual([
      [1, 6, 'kv'],
      [3, 6, 'kv'],
    ]);
    expect(printed.value.runs[0]!.command).toBe(`npx tandem ${args.join(' ')}`);
    expect(printed.value.runs[0]!.summary.prefix_cache.reported_by).toBe(6);
    const written = parseResultFile(readFileSync(out, 'utf8'));
    expect(written.ok && written.value).toEqual(printed.value);
    expect(stderr).toMatch(/mixed-isl @ concurrency 3 .*6\/6 done, 0 failed/);
  });

  it('builds the report pages and figures from the result files', async () => {
    const pages = join(dir, 'pages');
    const { stdout } = await run(process.execPath, [tandem, 'bench', 'report', '--in', dir, '--out', pages]);
    expect(stdout).toMatch(/smoke-run\.md/);
    const page = readFileSync(join(pages, 'smoke-run.md'), 'utf8');
    expect(page).toContain('npx tandem bench live --url');
    expect(existsSync(join(pages, 'smoke-run-ttft-p90.svg'))).toBe(true);
    expect(checkXml(readFileSync(join(pages, 'smoke-run-throughput.svg'), 'utf8')).problem).toBeUndefined();
  });

  it('prints a readable summary without --json', async () => {
    const { stdout } = await run(process.execPath, [
      tandem,
      'bench',
      'live',
      '--url',
      `${server.url}/v1`,
      '--workload',
      'long-context-rag',
      '-p',
      'document_tokens=500',
      '--qps',
      '20',
      '--requests',
      '3',
    ]);
    expect(stdout).toMatch(
      /long-context-rag @ 20 req\/s against http:\/\/127\.0\.0\.1:\d+ \(fake-model\), stopped by requests/,
    );
    expect(stdout).toMatch(/TTFT ms\s+p50/);
  });

  it('fails with one line and exit code 2 on an unknown workload or missing flags', async () => {
    const unknown = (await run(process.execPath, [
      tandem,
      'bench',
      'live',
      '--url',
      server.url,
      '--workload',
      'nope',
      '--requests',
      '1',
    ]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /unknown workload "nope" \(known: llmd-shared-prefix, multi-turn-chat, long-context-rag, agentic, mixed-isl, diurnal, trace\)/,
    );
    const endless = (await run(process.execPath, [
      tandem,
      'bench',
      'live',
      '--url',
      server.url,
      '--workload',
      'agentic',
    ]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(endless.code).toBe(2);
    expect(endless.stderr).toContain('give --requests N or --duration S');
  });

  it('lists every workload with its parameters', async () => {
    const { stdout } = await run(process.execPath, [tandem, 'bench', 'workloads']);
    for (const name of [
      'llmd-shared-prefix',
      'multi-turn-chat',
      'long-context-rag',
      'agentic',
      'mixed-isl',
      'diurnal',
      'trace',
    ])
      expect(stdout).toMatch(new RegExp(`^${name}: `, 'm'));
    expect(stdout).toMatch(/system_prompt_tokens\s+6000/);
  });
});
