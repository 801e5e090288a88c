import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLineSplitter } from '../../common/line-splitter.ts';
import { MODEL, waitUntil } from './orchestrator-harness.ts';
import { cleanEnv } from './worker-process.ts';

const tandem = new URL('../../bin/tandem.js', import.meta.url).pathname;

/** A `tandem orchestrator` child process with JSON logs, its URL read from the listening line. */
export interface OrchestratorProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Every JSON log line so far (stdout), parsed. */
  logs(): Record<string, unknown>[];
  readonly stderr: () => string;
  /** Resolves with the exit code once the process has exited. */
  exited(): Promise<number | null>;
  /** SIGKILLs the process if still running and removes its config file. */
  stop(): Promise<void>;
}

/** Starts `tandem orchestrator --config FILE` with `config` (an object, written as JSON) and waits for `listening`. */
export async function spawnOrchestrator(
  config: Record<string, unknown>,
  options: { listening?: RegExp; timeoutMs?: number } = {},
): Promise<OrchestratorProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-proc-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [tandem, 'orchestrator', '--config', file], {
    env: { ...cleanEnv(), TANDEM_LOG__FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const lines: Record<string, unknown>[] = [];
  child.stdout!.on(
    'data',
    createLineSplitter((line) => {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }),
  );
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exit;
    rmSync(dir, { recursive: true, force: true });
  };
  const listening = options.listening ?? /^listening on /;
  try {
    await waitUntil(
      'the listening line',
      () =>
        lines.some((l) => typeof l['url'] === 'string' && listening.test(String(l['msg']))) || child.exitCode !== null,
      options.timeoutMs ?? 60_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n${stderr}`);
  }
  const line = lines.find((l) => typeof l['url'] === 'string' && listening.test(String(l['msg'])));
  if (!line) {
    await stop();
    throw new Error(`the orchestrator exited (${child.exitCode}):\n${stderr}`);
  }
  return { child, url: String(line['url']), logs: () => lines, stderr: () => stderr, exited: () => exit, stop };
}

/** One request on its own connection (no keep-alive pool, so each is placed afresh). */
export interface PostResult {
  readonly status: number;
  readonly body: string;
}

export function post(url: string, path: string, body: Record<string, unknown>): Promise<PostResult> {
  return send(url, path, 'POST', JSON.stringify(body));
}

export function get(url: string, path: string): Promise<PostResult> {
  return send(url, path, 'GET');
}

function send(url: string, path: string, method: 'GET' | 'POST', body?: string): Promise<PostResult> {
  const headers = body === undefined ? {} : { 'content-type': 'application/json' };
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A completion of `maxTokens` tokens, not streamed. */
export const completion = (url: string, prompt: string, maxTokens: number) =>
  post(url, '/v1/completions', { model: MODEL, prompt, max_tokens: maxTokens });
