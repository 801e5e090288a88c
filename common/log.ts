import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Component name, printed on every line (e.g. "orchestrator", "worker-3"). */
  name: string;
  level?: LevelWithSilent;
  /** `auto` prints human-readable lines on a terminal and JSON lines otherwise. */
  format?: 'auto' | 'json' | 'pretty';
  /** Destination stream; stdout by default. */
  destination?: NodeJS.WritableStream;
}

/** A pino logger: one JSON object per line, or colourised lines when a person is watching. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stdout;
  const format = options.format ?? 'auto';
  const human = format === 'pretty' || (format === 'auto' && (destination as { isTTY?: boolean }).isTTY === true);
  const base = { name: options.name, level: options.level ?? 'info' };
  if (!human) return pino(base, destination);
  return pino(
    base,
    pretty({ destination, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true }),
  );
}

/** A logger that discards everything (tests, library defaults). */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Rate limits a family of log lines (one key per kind: an error code, a rejection reason): at
 * most `max` lines per key in each `intervalMs` window; the rest are dropped and counted, and
 * the next line let through carries the count (`suppressed`). An overload minute then logs a
 * few lines that say how many were left out, not one line per refused request.
 */
export interface LogLimiter {
  /** Undefined: drop this line. A number: log it, with this many dropped since the last one of the key. */
  take(key: string): number | undefined;
}

export function createLogLimiter(options: {
  readonly max: number;
  readonly intervalMs: number;
  readonly now: () => number;
}): LogLimiter {
  const windows = new Map<string, { start: number; used: number; dropped: number }>();
  return {
    take(key) {
      const now = options.now();
      let w = windows.get(key);
      if (!w) windows.set(key, (w = { start: now, used: 0, dropped: 0 }));
      if (now - w.start >= options.intervalMs) {
        w.start = now;
        w.used = 0;
      }
      if (w.used >= options.max) {
        w.dropped++;
        return undefined;
      }
      w.used++;
      const dropped = w.dropped;
      w.dropped = 0;
      return dropped;
    },
  };
}
