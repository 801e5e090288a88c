import { fail, ok, TandemError, type Result } from './errors.ts';

/** One sample of Prometheus' text exposition format. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * Parses Prometheus text exposition (version 0.0.4) into samples: `name{label="v",...} value
 * [timestamp]` lines; comments and blank lines are skipped. Label values may hold escaped `\\`,
 * `\"` and `\n`. Values may be NaN, +Inf or -Inf, in any case (prom-client writes `Nan`). A line
 * that does not parse fails the whole text, naming the line (the input comes from another
 * process: untrusted). Used by the vllm-http
 * backend (a vLLM server's /metrics) and the planner (the orchestrator's /metrics).
 */
export function parsePrometheusText(text: string): Result<PromSample[]> {
  const samples: PromSample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseLine(line);
    if (sample === undefined)
      return fail(new TandemError('upstream_error', `metrics line ${n + 1} does not parse: ${line.slice(0, 120)}`));
    samples.push(sample);
  }
  return ok(samples);
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseLine(line: string): PromSample | undefined {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return undefined;
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    for (;;) {
      while (line[at] === ' ' || line[at] === ',') at++;
      if (line[at] === '}') {
        at++;
        break;
      }
      const label = LABEL_NAME.exec(line.slice(at))?.[0];
      if (label === undefined) return undefined;
      at += label.length;
      while (line[at] === ' ') at++;
      if (line[at] !== '=') return undefined;
      at++;
      while (line[at] === ' ') at++;
      if (line[at] !== '"') return undefined;
      at++;
      let value = '';
      for (;;) {
        const ch = line[at];
        if (ch === undefined) return undefined;
        at++;
        if (ch === '"') break;
        if (ch === '\\') {
          const next = line[at++];
          value += next === 'n' ? '\n' : (next ?? '');
        } else value += ch;
      }
      labels[label] = value;
    }
  }
  const rest = line.slice(at).trim().split(/\s+/);
  const value = parseValue(rest[0]);
  if (value === undefined) return undefined;
  return { name, labels, value };
}

/**
 * A sample value as Prometheus reads it (Go's strconv.ParseFloat): NaN and the infinities in any
 * case, so prom-client's `Nan` (its spelling of NaN, e.g. an event-loop lag with no samples yet)
 * and `+inf` parse as well as `NaN` and `+Inf`.
 */
function parseValue(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const special = SPECIAL_VALUES.get(text.toLowerCase());
  if (special !== undefined) return special;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}

const SPECIAL_VALUES = new Map<string, number>([
  ['nan', Number.NaN],
  ['inf', Number.POSITIVE_INFINITY],
  ['+inf', Number.POSITIVE_INFINITY],
  ['infinity', Number.POSITIVE_INFINITY],
  ['+infinity', Number.POSITIVE_INFINITY],
  ['-inf', Number.NEGATIVE_INFINITY],
  ['-infinity', Number.NEGATIVE_INFINITY],
]);
