import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createLineSplitter } from '../../common/line-splitter.ts';

/**
 * The benchmarks' view of the processes they start (frontend-overhead.ts, interleaved-ab.ts):
 * their CPU from Linux /proc, their first line of output, the machine's load average.
 */

/** User + system CPU seconds so far of a process and its child processes (a cluster's serving processes); Linux /proc, NaN elsewhere. */
export function cpuTree(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  let total = cpuSeconds(pid);
  for (const child of childrenOf(pid)) total += cpuTree(child);
  return total;
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** User + system CPU seconds of one process so far, every thread (Linux /proc; NaN elsewhere). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

/** The 1, 5 and 15 minute load averages, for printing beside a figure. */
export function loadText(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/**
 * The first whole line of a child's stdout that `match` accepts (never one cut short by a chunk
 * boundary); the rest of its output is drained unread.
 */
export function firstLine(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let found = false;
    const onData = createLineSplitter((line) => {
      if (found || !match(line)) return;
      found = true;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve(line);
    });
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before it was ready`)));
  });
}
