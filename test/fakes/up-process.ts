import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs `tandem up` as a newcomer would (a child process, on loopback, every port picked free),
 * reads where it serves from its banner, and records the process tree it started from /proc so
 * a test can tell, by pid and start time, whether anything survived it.
 */

const TANDEM = new URL('../../bin/tandem.js', import.meta.url).pathname;

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** Clock ticks since boot (field 22 of /proc/<pid>/stat): tells a reused pid apart. */
  readonly startTime: string;
  readonly state: string;
  readonly cmdline: string;
}

export interface UpProcess {
  readonly child: ChildProcess;
  /** The orchestrator's base URL from the banner. */
  readonly url: string;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** `tandem up` and every process below it now. */
  processTree(): ProcessInfo[];
  /** Every process of the tree seen since the start (checked while waiting for output, and on stop). */
  recorded(): ProcessInfo[];
  /** Resolves with the first match of `pattern` in the output (from the start), or throws after `timeoutMs`. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` to `tandem up` and resolves with how it exited. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to every process recorded so far and to `tandem up` (afterAll, whatever happened). */
  killAll(): void;
}

export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]!, cmdline };
  } catch {
    return undefined;
  }
}

/** Whether the process recorded as `info` still runs (same pid and start time, not a zombie). */
export function stillRunning(info: ProcessInfo): boolean {
  const now = readProcess(info.pid);
  return now !== undefined && now.startTime === info.startTime && now.state !== 'Z' && now.state !== 'X';
}

export function descendantsOf(root: number): ProcessInfo[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => readProcess(Number(name)) ?? []);
  const tree: ProcessInfo[] = [];
  const self = all.find((p) => p.pid === root);
  if (self) tree.push(self);
  for (let i = 0; i < tree.length; i++) for (const p of all) if (p.ppid === tree[i]!.pid) tree.push(p);
  return tree;
}

export async function startUp(
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<UpProcess> {
  const env = { ...process.env, ...options.env };
  for (const key of Object.keys(env)) if (key.startsWith('TANDEM_')) delete env[key];
  const child = spawn(process.execPath, [TANDEM, 'up', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const recorded = new Map<string, ProcessInfo>();
  const record = () => {
    for (const p of descendantsOf(child.pid!)) recorded.set(`${p.pid}:${p.startTime}`, p);
  };

  const waitForOutput = async (pattern: RegExp, timeoutMs = 60_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      record();
      const match = output.match(pattern);
      if (match) return match;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `tandem up exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; output:\n${output}`,
        );
      if (Date.now() > until)
        throw new Error(`tandem up did not print ${pattern} within ${timeoutMs} ms; output:\n${output}`);
      await sleep(100);
    }
  };
  const killAll = () => {
    for (const p of recorded.values()) if (stillRunning(p)) process.kill(p.pid, 'SIGKILL');
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  let url: string;
  try {
    url = (await waitForOutput(/API \(OpenAI\) +(http:\/\/\S+)\/v1/, options.timeoutMs ?? 120_000))[1]!;
  } catch (error) {
    killAll();
    throw error;
  }
  return {
    child,
    url,
    output: () => output,
    processTree: () => {
      record();
      return descendantsOf(child.pid!);
    },
    recorded: () => [...recorded.values()],
    waitForOutput,
    async stop(signal = 'SIGINT', timeoutMs = 60_000) {
      record();
      child.kill(signal);
      const result = await Promise.race([exited, sleep(timeoutMs).then(() => undefined)]);
      if (!result)
        throw new Error(`tandem up did not exit within ${timeoutMs} ms of ${signal}; output:\n${output.slice(-3000)}`);
      return result;
    },
    killAll,
  };
}
