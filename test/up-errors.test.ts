import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { descendantsOf, stillRunning, type ProcessInfo } from './fakes/up-process.ts';

/**
 * What a newcomer sees when `tandem up` cannot start: one clear line on stderr naming the
 * problem, no stack trace, a non-zero exit, and no process left behind.
 */

const TANDEM = new URL('../bin/tandem.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tandem-up-errors-'));
const servers: Server[] = [];
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  /** Processes started below `tandem up` (seen every 50 ms while it ran) still running after it exited. */
  leftBehind: string[];
  /** How many processes below `tandem up` were seen. */
  started: number;
}

function up(args: readonly string[]): Promise<Outcome> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TANDEM_')));
  return new Promise((resolve) => {
    const seen = new Map<string, ProcessInfo>();
    const child = execFile(
      process.execPath,
      [TANDEM, 'up', ...args],
      { env, timeout: 120_000 },
      (error, stdout, stderr) => {
        clearInterval(watch);
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        // A survivor would have been re-parented away from tandem up: look it up by its recorded pid.
        const leftBehind = [...seen.values()].filter(stillRunning).map((p) => `${p.pid} ${p.cmdline}`);
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr, leftBehind, started: seen.size });
      },
    );
    const watch = setInterval(() => {
      for (const p of descendantsOf(child.pid!).slice(1)) seen.set(`${p.pid}:${p.startTime}`, p);
    }, 50);
  });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Exactly one line on stderr, starting "tandem up: ", without a stack trace. */
function expectOneLine(outcome: Outcome, pattern: RegExp): void {
  const lines = outcome.stderr.trim().split('\n');
  expect(lines, outcome.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tandem up: /);
  expect(lines[0]).toMatch(pattern);
  expect(outcome.stderr).not.toMatch(/\n\s+at /);
  expect(outcome.leftBehind).toEqual([]);
}

describe('tandem up refuses to start', () => {
  it('on a bad --workers value (exit 2)', async () => {
    const outcome = await up(['--workers', 'lots']);
    expect(outcome.code).toBe(2);
    expectOneLine(outcome, /--workers must be N \(N workers of role both\) or P:D\[:B\].*got "lots"/);
  });

  it('on an unknown flag (exit 2)', async () => {
    const outcome = await up(['--wokers', '2']);
    expect(outcome.code).toBe(2);
    expectOneLine(outcome, /unknown option '--wokers' \(did you mean --workers\?\)$/);
  });

  it("when the orchestrator's port is already in use, before starting anything", async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const outcome = await up(['--port', String(port)]);
    expect(outcome.code).not.toBe(0);
    expectOneLine(outcome, new RegExp(`port ${port} is already in use on 127\\.0\\.0\\.1 .*pass --port N`));
    expect(outcome.stdout).toBe('');
    expect(outcome.started).toBe(0);
  });

  it('when the config file is missing (exit 2)', async () => {
    const outcome = await up(['--config', join(dir, 'nowhere.yaml')]);
    expect(outcome.code).toBe(2);
    expectOneLine(outcome, /cannot read config file .*nowhere\.yaml: no such file/);
  });

  it('on a bad config, naming the field (exit 2)', async () => {
    const outcome = await up(['--config', file('bad.yaml', 'up:\n  workers:\n    - { role: middle, count: 2 }\n')]);
    expect(outcome.code).toBe(2);
    expectOneLine(outcome, /invalid config: up\.workers\.0\.role: .*\(in .*bad\.yaml\)/);
    const unknown = await up(['--config', file('typo.yaml', 'up:\n  wrokers: []\n')]);
    expect(unknown.code).toBe(2);
    expectOneLine(unknown, /up\.wrokers: unknown key .*known keys: workers/);
  });

  it('on an unknown GPU profile, listing the known ones (exit 2)', async () => {
    const outcome = await up(['--gpu', 'h9000']);
    expect(outcome.code).toBe(2);
    expectOneLine(outcome, /up\.workers\.0: unknown gpu profile "h9000" \(known: h100-sxm/);
  });

  it('when a worker cannot start, quoting its reason and stopping the others', async () => {
    // Only the worker process checks its tokenizer, so tandem up starts it and sees it fail.
    const config = file('no-tokenizer.yaml', 'worker:\n  tokenizer: no-such-tokenizer\n');
    const outcome = await up(['--port', '0', '--workers', '2', '--no-planner', '--config', config]);
    expect(outcome.code).toBe(1);
    expectOneLine(
      outcome,
      /worker-\d exited with code 2 before it could print its ready line: tandem worker: worker\.tokenizer: tokenizer "no-such-tokenizer"/,
    );
    // Both workers had started, and neither is left running.
    expect(outcome.started).toBeGreaterThanOrEqual(2);
  });
});
