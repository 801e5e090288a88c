import type { Writable } from 'node:stream';
import { createLineWritable } from '../../common/line-splitter.ts';

/**
 * Every process `tandem up` runs logs JSON lines (pino); so does `tandem up` itself. The relay
 * prints them on its stdout: as they are, tagged with the process (`"proc":"prefill-0"`), when
 * stdout is a file or a pipe; as one readable line each on a terminal. Lines that are not JSON
 * (a crash's stack trace, a CLI error) pass through, prefixed with the process name.
 */
export interface LogRelay {
  /** One line process `proc` printed. */
  line(text: string, proc: string): void;
  /** Where `tandem up`'s own logger writes (JSON lines in). */
  readonly ownStream: Writable;
}

export interface LogRelayOptions {
  readonly out: NodeJS.WritableStream;
  /** One readable line per entry, instead of JSON. */
  readonly human: boolean;
  readonly color: boolean;
}

export function createLogRelay(options: LogRelayOptions): LogRelay {
  const write = (text: string) => options.out.write(`${text}\n`);
  const line = (text: string, proc: string) => {
    const entry = parseEntry(text);
    if (options.human) write(entry ? formatEntry(entry, proc, options.color) : `${pad(proc)} ${text}`);
    else write(entry ? JSON.stringify({ proc, ...entry }) : JSON.stringify({ proc, msg: text }));
  };
  return { line, ownStream: createLineWritable((text) => line(text, 'up')) };
}

type Entry = Record<string, unknown>;

function parseEntry(text: string): Entry | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Entry) : undefined;
  } catch {
    return undefined;
  }
}

const LEVELS: Record<number, [name: string, ansi: string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};
/** Fields every pino line has, or that the message already says. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'proc']);
const PROC_WIDTH = 12;

const pad = (proc: string) => `[${proc}]`.padEnd(PROC_WIDTH + 2);

/**
 * `14:03:22.123 INFO  [prefill-0]    message key=value ...`. A request's line (one per request,
 * from the orchestrator) already says everything in its message, so its fields are not repeated.
 */
export function formatEntry(entry: Entry, proc: string, color: boolean): string {
  // Lines without a time (the worker's ready line) keep the columns of those with one.
  const time =
    typeof entry.time === 'number'
      ? `${new Date(entry.time).toTimeString().slice(0, 8)}.${String(entry.time % 1000).padStart(3, '0')}`
      : ' '.repeat(12);
  const [levelName, ansi] = LEVELS[typeof entry.level === 'number' ? entry.level : 30] ?? ['?    ', '0'];
  const level = color ? `\x1b[${ansi}m${levelName}\x1b[0m` : levelName;
  // An event line (`{"event":"tandem-worker-ready",...}`) has no msg: its event names it.
  const message = typeof entry.msg === 'string' ? entry.msg : typeof entry.event === 'string' ? entry.event : '';
  const isRequest = typeof entry.requestId === 'string' && typeof entry.outcome === 'string';
  const fields = isRequest
    ? ''
    : Object.entries(entry)
        .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined && !(key === 'event' && value === message))
        .map(([key, value]) => ` ${key}=${short(value)}`)
        .join('');
  return `${time} ${level} ${pad(proc)} ${message}${color && fields ? `\x1b[2m${fields}\x1b[0m` : fields}`;
}

function short(value: unknown): string {
  const text =
    typeof value === 'string' ? (/[\s"=]/.test(value) ? JSON.stringify(value) : value) : JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}
