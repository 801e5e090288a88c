import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { FakeGrpcWorker } from './fakes/fake-grpc-worker.ts';
import { complete, startWorkers, waitUntil } from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * `tandem orchestrator` as a real process: one-line errors for bad input, and a running
 * orchestrator that reloads its worker list on SIGHUP and drains on SIGTERM.
 */

const run = promisify(execFile);
const tandem = new URL('../bin/tandem.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tandem-orchestrator-'));
const cleanups = cleanupsAfter('all');
cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

/** The environment without TANDEM_* settings that could leak in from the shell. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('TANDEM_')) env[key] = value;
  return { ...env, ...extra };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function fails(args: string[]): Promise<{ code: number; stderr: string }> {
  const error = (await run(process.execPath, [tandem, 'orchestrator', ...args], { env: cleanEnv() }).then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: number; stderr: string } | undefined;
  if (!error) throw new Error('expected the command to fail');
  return error;
}

describe('tandem orchestrator: bad input', () => {
  it.each([
    [
      'a missing config file',
      ['--config', join(dir, 'nope.yaml')],
      /cannot read config file .*nope\.yaml: no such file/,
    ],
    [
      'an unknown key',
      ['--config', file('typo.yaml', 'orchestrator:\n  prot: 9000\n')],
      /orchestrator\.prot: unknown key/,
    ],
    [
      'a bad worker entry',
      ['--config', file('worker.yaml', 'workers:\n  - name: w0\n    address: x:1\n    backend: triton\n')],
      /workers\.0\.backend/,
    ],
    [
      'duplicate worker names',
      ['--config', file('dupe.yaml', 'workers:\n  - { name: w0, address: "a:1" }\n  - { name: w0, address: "b:1" }\n')],
      /duplicate worker name "w0"/,
    ],
    [
      'an unknown policy',
      ['--policy', 'fastest'],
      /unknown routing policy "fastest" \(known: kv, cache-aware, round-robin/,
    ],
    ['a port that is not a number', ['--port', 'http'], /--port must be an integer/],
  ])('refuses %s with one line on stderr and exit code 2', async (_what, args, message) => {
    const { code, stderr } = await fails(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('npm warn')),
    ).toHaveLength(1);
    expect(stderr).not.toContain('    at ');
  });
});

describe('the example config', () => {
  it('validates and names four workers', async () => {
    const { loadConfig } = await import('../common/config/index.ts');
    const loaded = loadConfig({ file: new URL('../examples/local-fleet.yaml', import.meta.url).pathname, env: {} });
    if (!loaded.ok) throw loaded.error;
    expect(loaded.value.workers.map((w) => w.name)).toEqual(['sim-0', 'sim-1', 'sim-2', 'sim-3']);
    expect(loaded.value.routing.policy).toBe('kv');
  });
});

describe('tandem orchestrator: a running process', () => {
  let workers: FakeGrpcWorker[];
  let child: ChildProcess;
  let url: string;
  let stdout = '';
  let stderr = '';
  const exit = () =>
    new Promise<number | null>((resolve) =>
      child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
    );

  it('starts from a config file, serves, and reloads its workers on SIGHUP', async () => {
    workers = await startWorkers(2, { tokenDelayMs: 30 });
    cleanups.push(async () => {
      for (const w of workers) await w.close();
    });
    const config = (names: number[]) =>
      [
        'orchestrator:',
        '  model: Qwen/Qwen3-8B',
        '  health: { interval_s: 0.1, failure_threshold: 2, success_threshold: 1 }',
        '  shutdown_grace_s: 20',
        '  processes: 1', // several are test/orchestrator-processes.test.ts's
        'workers:',
        ...names.map((i) => `  - { name: w${i}, address: "${workers[i]!.address}" }`),
        '',
      ].join('\n');
    const path = file('fleet.yaml', config([0]));
    child = spawn(process.execPath, [tandem, 'orchestrator', '--config', path, '--port', '0', '--host', '127.0.0.1'], {
      env: cleanEnv({ TANDEM_LOG__FORMAT: 'json' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitUntil('the listening line', () => /"url":"(http:[^"]+)"/.test(stdout) || child.exitCode !== null, 60_000);
    expect(stderr.split('\n').filter((l) => l && !l.startsWith('npm warn'))).toEqual([]);
    url = /"url":"(http:[^"]+)"/.exec(stdout)![1]!;
    await waitUntil('ready', async () => (await fetch(`${url}/ready`)).status === 200);
    expect((await complete(url, { prompt: 'hello', max_tokens: 2 })).status).toBe(200);

    writeFileSync(path, config([0, 1]));
    child.kill('SIGHUP');
    await waitUntil('w1 added', async () =>
      ((await (await fetch(`${url}/debug/workers`)).json()) as { name: string; state: string }[]).some(
        (w) => w.name === 'w1' && w.state === 'healthy',
      ),
    );

    writeFileSync(path, 'workers: [ this is not valid');
    child.kill('SIGHUP');
    await waitUntil('the refusal logged', () => stdout.includes('SIGHUP: the config does not validate'));
    expect(((await (await fetch(`${url}/debug/workers`)).json()) as unknown[]).length).toBe(2);
  });

  it('drains on SIGTERM: running requests finish, new ones get 503, then it exits 0', async () => {
    const long = complete(url, { prompt: 'a long answer please', max_tokens: 40 });
    await waitUntil('the long request running', () => workers.some((w) => w.running > 0));
    child.kill('SIGTERM');
    await waitUntil('draining', () => stdout.includes('no longer admitting requests'));
    const refused = await complete(url, { prompt: 'too late', max_tokens: 2 });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, detail: 'shutting down' });
    const finished = await long.catch((error: unknown) => {
      throw new Error(
        `the running request failed: ${String(error)} (exit ${child.exitCode}, signal ${child.signalCode})\n${stderr}\n${stdout.slice(-3000)}`,
      );
    });
    expect(finished.status).toBe(200);
    expect(finished.json.usage.completion_tokens).toBe(40);
    expect(await exit()).toBe(0);
  });
});
