import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { fail, ok, TandemError, type Result } from '../errors.ts';
import { readTextFile } from '../read-text-file.ts';
import { configSchema, type Config } from './schema.ts';

export interface ConfigSources {
  /** A YAML (or JSON) file; lowest precedence after the defaults. */
  file?: string | undefined;
  /**
   * Environment. `TANDEM_<SECTION>__<KEY>[__<KEY>...]` sets `section.key...` (lower-cased; the
   * value is read as a YAML scalar or flow collection, so `8000`, `true` and `[...]` parse).
   * `TANDEM_CONFIG` names the file when `file` is not given.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Dotted paths from command-line flags, highest precedence: `{ 'orchestrator.port': 9000 }`. */
  overrides?: Readonly<Record<string, unknown>>;
}

/** Where a value came from, so an error can name the flag or variable to fix. */
type Origins = Map<string, string>;

/**
 * Reads the file, then the environment, then the flags, and validates once. Unknown keys and bad
 * values fail with the field's dotted path, where it came from, and the allowed values.
 * The result is deeply frozen.
 */
export function loadConfig(sources: ConfigSources = {}): Result<Readonly<Config>> {
  const origins: Origins = new Map();
  const env = sources.env ?? {};
  const file = sources.file ?? env.TANDEM_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file !== undefined) {
    const read = readConfigFile(file);
    if (!read.ok) return read;
    raw = read.value;
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TANDEM_') || name === 'TANDEM_CONFIG' || value === undefined) continue;
    const path = name.slice('TANDEM_'.length).toLowerCase().split('__').join('.');
    setPath(raw, path, parseScalar(value));
    origins.set(path, `environment variable ${name}`);
  }
  for (const [path, value] of Object.entries(sources.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(raw, path, value);
    origins.set(path, `flag for ${path}`);
  }
  return validateConfig(raw, origins, file);
}

/** Validates an in-memory config object (tests, embedded use). */
export function parseConfig(raw: unknown): Result<Readonly<Config>> {
  return validateConfig(raw, new Map(), undefined);
}

function validateConfig(raw: unknown, origins: Origins, file: string | undefined): Result<Readonly<Config>> {
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return ok(deepFreeze(parsed.data));
  const problems = parsed.error.issues.flatMap((issue) => describeIssue(issue, origins, file));
  const first = problems[0] ?? { path: '', text: 'invalid config' };
  const message =
    problems.length === 1
      ? `invalid config: ${first.text}`
      : `invalid config:\n  - ${problems.map((p) => p.text).join('\n  - ')}`;
  return fail(new TandemError('invalid_request', message, { param: first.path }));
}

function readConfigFile(file: string): Result<Record<string, unknown>> {
  const text = readTextFile(file, 'config file');
  if (!text.ok) return text;
  let value: unknown;
  try {
    value = parseYaml(text.value);
  } catch (error) {
    return fail(
      new TandemError(
        'invalid_request',
        `config file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
        { cause: error },
      ),
    );
  }
  if (value === null || value === undefined) return ok({});
  if (typeof value !== 'object' || Array.isArray(value))
    return fail(new TandemError('invalid_request', `config file ${file} must hold a mapping of sections`));
  return ok(value as Record<string, unknown>);
}

interface Problem {
  path: string;
  text: string;
}

function describeIssue(issue: z.core.$ZodIssue, origins: Origins, file: string | undefined): Problem[] {
  const base = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(base);
    return issue.keys.map((key) => {
      const path = [...base, key].join('.');
      const hint = known.length ? ` (known keys: ${known.join(', ')})` : '';
      return { path, text: `${path}: unknown key${from(path, origins, file)}${hint}` };
    });
  }
  const path = base.join('.');
  return [{ path, text: `${path || '(root)'}: ${issue.message}${from(path, origins, file)}` }];
}

function from(path: string, origins: Origins, file: string | undefined): string {
  for (let p = path; p; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '') {
    const origin = origins.get(p);
    if (origin) return ` (from ${origin})`;
  }
  return file ? ` (in ${file})` : '';
}

/** The keys an object schema at `path` accepts, for "did you mean" hints. */
function knownKeys(path: readonly string[]): string[] {
  let schema: unknown = configSchema;
  for (const segment of ['', ...path]) {
    schema = unwrap(schema);
    if (segment === '') continue;
    const def = (schema as { _zod?: { def?: { type?: string; element?: unknown; shape?: Record<string, unknown> } } })
      ._zod?.def;
    if (def?.type === 'array') schema = def.element;
    else if (def?.type === 'object') schema = def.shape?.[segment];
    else return [];
  }
  const shape = (unwrap(schema) as { _zod?: { def?: { shape?: Record<string, unknown> } } })._zod?.def?.shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as { _zod?: { def?: { innerType?: unknown } } } | undefined;
  while (current?._zod?.def?.innerType) current = current._zod.def.innerType as typeof current;
  return current;
}

function parseScalar(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

/** Sets `a.b.c` in a plain object tree, creating objects on the way; numeric segments index arrays. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split('.');
  let node: Record<string, unknown> | unknown[] = target;
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i]!;
    const key: string | number = Array.isArray(node) ? Number(segment) : segment;
    const next = (node as Record<string | number, unknown>)[key];
    if (next === null || typeof next !== 'object') {
      (node as Record<string | number, unknown>)[key] = {};
    }
    node = (node as Record<string | number, unknown>)[key] as Record<string, unknown>;
  }
  const last = segments.at(-1)!;
  (node as Record<string | number, unknown>)[Array.isArray(node) ? Number(last) : last] = value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
