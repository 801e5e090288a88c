import { fail, ok, TandemError, type Result } from '../../common/errors.ts';

/** One sample of the Prometheus text exposition format. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parses the text exposition format (version 0.0.4, what prom-client and vLLM serve): comment
 * and blank lines skipped, timestamps ignored, label values unescaped (\\, \", \n). Untrusted
 * input: returns a Result naming the first bad line.
 */
export function parsePrometheusText(text: string): Result<Sample[]> {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parsed = parseLine(line);
    if (!parsed) return fail(new TandemError('invalid_request', `metrics line ${index + 1} is not in the Prometheus text format: ${line.slice(0, 120)}`));
    samples.push(parsed);
  }
  return ok(samples);
}

function parseLine(line: string): Sample | undefined {
  const name = NAME.exec(line)?.[0];
  if (!name) return undefined;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.trimStart();
      if (rest.startsWith('}')) {
        rest = rest.slice(1);
        break;
      }
      const key = LABEL.exec(rest)?.[0];
      if (!key) return undefined;
      rest = rest.slice(key.length).trimStart();
      if (!rest.startsWith('="')) return undefined;
      rest = rest.slice(2);
      let value = '';
      let closed = false;
      for (let i = 0; i < rest.length; i++) {
        const char = rest[i]!;
        if (char === '\\') {
          const next = rest[++i];
          value += next === 'n' ? '\n' : (next ?? '');
        } else if (char === '"') {
          rest = rest.slice(i + 1);
          closed = true;
          break;
        } else value += char;
      }
      if (!closed) return undefined;
      labels[key] = value;
      rest = rest.trimStart();
      if (rest.startsWith(',')) rest = rest.slice(1);
    }
  }
  const fields = rest.trim().split(/\s+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') return undefined;
  const value = parseValue(fields[0]!);
  if (value === undefined) return undefined;
  return { name, labels, value };
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}
