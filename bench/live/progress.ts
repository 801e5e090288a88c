import type { Clock } from '../../common/clock.ts';
import { ms } from '../stats/format.ts';
import type { RunTotals } from '../stats/recorder.ts';

export interface ProgressOptions {
  /** Where to draw (stderr, so stdout stays clean for --json). */
  readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly clock: Clock;
  /** Shown before the bar: the workload and load point. */
  readonly label: string;
  /** Requests the run will send, when known; else the bar follows `durationMs`. */
  readonly totalRequests?: number | undefined;
  readonly durationMs?: number | undefined;
  /** Plain mode: a line at most this often, ms (default 5,000), and at every tenth of the run. */
  readonly lineEveryMs?: number;
}

export interface ProgressDisplay {
  update(totals: RunTotals, inFlight: number, ttftMedianMs: number | null): void;
  /** Draws the last state and ends the line. */
  done(totals: RunTotals, ttftMedianMs: number | null): void;
}

/**
 * A progress bar rewritten in place on a terminal (at most 10 times a second), or, when the
 * stream is not a terminal (CI logs, files), a plain line every few seconds and at every tenth.
 */
export function createProgressDisplay(options: ProgressOptions): ProgressDisplay {
  const { stream, clock } = options;
  const tty = stream.isTTY === true;
  const start = clock.now();
  const every = options.lineEveryMs ?? 5000;
  let lastDraw = -Infinity;
  let lastTenth = 0;

  const fraction = (totals: RunTotals): number | undefined => {
    if (options.totalRequests !== undefined && Number.isFinite(options.totalRequests) && options.totalRequests > 0)
      return Math.min(1, (totals.completed + totals.failed) / options.totalRequests);
    if (options.durationMs !== undefined && Number.isFinite(options.durationMs) && options.durationMs > 0)
      return Math.min(1, (clock.now() - start) / options.durationMs);
    return undefined;
  };
  const text = (totals: RunTotals, inFlight: number, ttft: number | null, withBar: boolean): string => {
    const seconds = (clock.now() - start) / 1000;
    const finished = totals.completed + totals.failed;
    const f = fraction(totals);
    const of =
      options.totalRequests !== undefined && Number.isFinite(options.totalRequests) ? `/${options.totalRequests}` : '';
    const bar = withBar && f !== undefined ? `[${'#'.repeat(Math.round(f * 24)).padEnd(24, '.')}] ` : '';
    const rate = seconds > 0 ? (totals.completed / seconds).toFixed(1) : '0.0';
    return `${options.label} ${bar}${finished}${of} done, ${totals.failed} failed, ${inFlight} in flight, ${rate} req/s, TTFT p50 ${ms(ttft)} ms, ${seconds.toFixed(0)} s`;
  };

  return {
    update(totals, inFlight, ttft) {
      const now = clock.now();
      if (tty) {
        if (now - lastDraw < 100) return;
        lastDraw = now;
        const line = text(totals, inFlight, ttft, true);
        // A terminal that reports no width (0, as under `script`) gets 120 columns.
        const width = stream.columns !== undefined && stream.columns > 20 ? stream.columns : 120;
        stream.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
        return;
      }
      const tenth = Math.floor((fraction(totals) ?? 0) * 10);
      if (now - lastDraw >= every || tenth > lastTenth) {
        lastDraw = now;
        lastTenth = tenth;
        stream.write(`${text(totals, inFlight, ttft, false)}\n`);
      }
    },
    done(totals, ttft) {
      stream.write(`${tty ? '\r\x1b[2K' : ''}${text(totals, 0, ttft, tty)}\n`);
    },
  };
}
