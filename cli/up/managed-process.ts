import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { TandemError } from '../../common/errors.ts';
import { createLineSplitter } from '../../common/line-splitter.ts';

/**
 * One `tandem` subcommand run as a child in its own process group (so a signal reaches every
 * process it may start, and the terminal's Ctrl-C reaches only `tandem up`, which decides the
 * order of shutdown). Its output is read line by line; the last lines are kept for error
 * messages. Its environment has no TANDEM_* variables: the config files `tandem up` writes say
 * everything.
 */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process has exited (code, or the signal that ended it). */
  readonly exited: Promise<ProcessExit>;
  readonly hasExited: boolean;
  /** The last lines it printed, oldest first. */
  tail(): readonly string[];
  /**
   * Resolves with the first `match(line)` that is not undefined (lines printed from now on);
   * rejects when the process exits first or after `timeoutMs`, quoting its last lines.
   */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number, what: string): Promise<T>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when no process of the group is left. */
  stop(graceMs: number): Promise<void>;
  /** SIGKILL to the group, synchronously (the last-resort exit handler). */
  kill(): void;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  readonly name: string;
  /** Arguments of bin/tandem.js, e.g. ['worker', '--config', file, ...]. */
  readonly args: readonly string[];
  /** Every line it prints, stdout and stderr alike. */
  readonly onLine: (line: string, name: string) => void;
}

const TANDEM_BIN = new URL('../../bin/tandem.js', import.meta.url).pathname;
const TAIL_LINES = 20;

export function spawnManaged(options: SpawnOptions): ManagedProcess {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('TANDEM_')));
  const child = spawn(process.execPath, [TANDEM_BIN, ...options.args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const pid = child.pid;
  if (pid === undefined) throw new TandemError('internal', `could not start ${options.name}`);
  const lastLines: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  let exit: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );

  for (const stream of [child.stdout, child.stderr]) {
    stream.on(
      'data',
      createLineSplitter((line) => {
        lastLines.push(line);
        if (lastLines.length > TAIL_LINES) lastLines.shift();
        options.onLine(line, options.name);
        for (const listener of [...lineListeners]) listener(line);
      }),
    );
  }

  const groupAlive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  const groupGone = async (timeoutMs: number) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (exit && !groupAlive()) return true;
      await sleep(25);
    }
    return exit !== undefined && !groupAlive();
  };
  let stopping: Promise<void> | undefined;

  return {
    name: options.name,
    pid,
    exited,
    get hasExited() {
      return exit !== undefined;
    },
    tail: () => [...lastLines],
    waitForLine(match, timeoutMs, what) {
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          lineListeners.delete(onLine);
        };
        const onLine = (line: string) => {
          const found = match(line);
          if (found !== undefined) {
            done();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new TandemError(
              'deadline_exceeded',
              `${options.name} did not ${what} within ${timeoutMs / 1000} s${lastWords(lastLines)}`,
            ),
          );
        }, timeoutMs);
        lineListeners.add(onLine);
        void exited.then((how) => {
          if (!lineListeners.has(onLine)) return;
          done();
          reject(
            new TandemError(
              'unavailable',
              `${options.name} ${describeExit(how)} before it could ${what}${lastWords(lastLines)}`,
            ),
          );
        });
      });
    },
    stop(graceMs) {
      stopping ??= (async () => {
        if (exit && !groupAlive()) return;
        signalGroup('SIGTERM');
        if (await groupGone(graceMs)) return;
        signalGroup('SIGKILL');
        await groupGone(5000);
      })();
      return stopping;
    },
    kill() {
      signalGroup('SIGKILL');
    },
  };
}

export function describeExit(how: ProcessExit): string {
  return how.signal ? `was killed by ${how.signal}` : `exited with code ${how.code}`;
}

/** ": <the most telling last line>", preferring a `tandem <command>: ...` error line; "" for none. */
export function lastWords(lines: readonly string[]): string {
  const errorLine = [...lines].reverse().find((line) => /^tandem [a-z]+: /.test(line));
  if (errorLine) return `: ${errorLine}`;
  const last = lines.at(-1);
  if (last === undefined) return '';
  try {
    const parsed = JSON.parse(last) as { msg?: unknown };
    return typeof parsed.msg === 'string' ? `: ${parsed.msg}` : `: ${last}`;
  } catch {
    return `: ${last}`;
  }
}
