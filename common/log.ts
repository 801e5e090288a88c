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
  return pino(base, pretty({ destination, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
}

/** A logger that discards everything (tests, library defaults). */
export const silentLogger: Logger = pino({ level: 'silent' });
