import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createLineSplitter } from '../../common/line-splitter.ts';

/**
 * The benchmarks' view of the processes they start (frontend-overhead.ts, interleaved-ab.ts,
 * reliability/front-door.ts): their CPU, bytes read and memory from Linux /proc, their first line of
 * output, the machine's load average.
 */

/** User + system CPU seconds so far of a process and its child processes (a cluster's serving processes); Linux /proc, NaN elsewhere. */
export function cpuTree(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  return processTree(pid).reduce((total, one) => total + cpuSeconds(one), 0);
}

/** A process and its descendants, parents first (Linux /proc; just `pid` elsewhere). */
export function processTree(pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(processTree)];
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
  return statTicks(pid).total / 100;
}

/** utime + stime, and stime alone, in clock ticks (USER_HZ = 100); NaN when unreadable. */
function statTicks(pid: number): { total: number; system: number } {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { total: Number(fields[11]) + Number(fields[12]), system: Number(fields[12]) };
  } catch {
    return { total: Number.NaN, system: Number.NaN };
  }
}

/**
 * What a process and its descendants have used so far: CPU seconds (user + system, and system
 * alone) and bytes read through read syscalls, sockets included (Linux /proc; NaN elsewhere). A
 * descendant that exits between two readings takes its share with it.
 */
export function processUsage(pid: number): { cpuS: number; systemS: number; readBytes: number } {
  let cpuS = 0;
  let systemS = 0;
  let readBytes = 0;
  for (const one of processTree(pid)) {
    const ticks = statTicks(one);
    cpuS += ticks.total / 100;
    systemS += ticks.system / 100;
    readBytes += procNumber(`/proc/${one}/io`, 'rchar');
  }
  return { cpuS, systemS, readBytes };
}

/** Resident memory (kB) of a process and its descendants: now (VmRSS), and the sum of their peaks (VmHWM). */
export function residentKb(pid: number): { rss: number; hwm: number } {
  let rss = 0;
  let hwm = 0;
  for (const one of processTree(pid)) {
    rss += procNumber(`/proc/${one}/status`, 'VmRSS');
    hwm += procNumber(`/proc/${one}/status`, 'VmHWM');
  }
  return { rss, hwm };
}

/** The number after `field:` in a /proc file of `field: value` lines; NaN when absent. */
function procNumber(path: string, field: string): number {
  try {
    return Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(path, 'utf8'))?.[1] ?? Number.NaN);
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
