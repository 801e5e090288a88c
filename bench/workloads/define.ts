import { z } from 'zod';
import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { Rng } from '../../common/rng.ts';
import type { ParamDoc, RequestSource, WorkloadDefinition } from './types.ts';

type ParamsShape = z.ZodRawShape;

interface WorkloadSpec<S extends ParamsShape, P> {
  readonly description: string;
  /** snake_case parameters with defaults beside them; each field's `.describe()` is its doc. */
  readonly params: S;
  /** Checks across fields (min <= max ...): a message naming the field, or undefined. */
  readonly check?: (params: z.output<z.ZodObject<S>>) => string | undefined;
  readonly prepare?: (params: z.output<z.ZodObject<S>>) => Result<P>;
  readonly open: (params: z.output<z.ZodObject<S>>, prepared: P, rng: Rng) => RequestSource;
}

/**
 * Builds a WorkloadDefinition from a zod shape: unknown parameters fail listing the known ones,
 * bad values fail with the parameter's name, and the typed `open` sees fully defaulted params.
 */
export function defineWorkload<S extends ParamsShape, P = undefined>(spec: WorkloadSpec<S, P>): WorkloadDefinition {
  const schema = z.strictObject(spec.params);
  type Params = z.output<typeof schema>;
  const known = Object.keys(spec.params);
  const paramDocs: ParamDoc[] = known.map((name) => {
    const field = spec.params[name] as z.ZodType;
    const parsed = field.safeParse(undefined);
    return { name, defaultValue: parsed.success ? parsed.data : undefined, description: field.description ?? '' };
  });
  return {
    description: spec.description,
    paramDocs,
    parseParams(raw) {
      const parsed = schema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        if (issue.code === 'unrecognized_keys') {
          return fail(
            new TandemError(
              'invalid_request',
              `unknown parameter ${issue.keys.join(', ')} (known: ${known.join(', ')})`,
              { param: issue.keys[0]! },
            ),
          );
        }
        const path = issue.path.map(String).join('.') || '(params)';
        return fail(new TandemError('invalid_request', `parameter ${path}: ${issue.message}`, { param: path }));
      }
      const problem = spec.check?.(parsed.data);
      if (problem !== undefined) return fail(new TandemError('invalid_request', problem));
      return ok(Object.freeze({ ...parsed.data }));
    },
    prepare(params) {
      return spec.prepare ? spec.prepare(params as Params) : ok(undefined);
    },
    open(params, prepared, rng) {
      return spec.open(params as Params, prepared as P, rng);
    },
  };
}

/** Field helpers: integers and rates with their docs. */
export const count = (defaultValue: number, doc: string, min = 1) =>
  z.number().int().min(min).default(defaultValue).describe(doc);
export const rate = (defaultValue: number) =>
  z
    .number()
    .positive()
    .default(defaultValue)
    .describe('mean arrival rate, requests/s (the live generator and the simulator set it from --qps)');

/** "<name>_min must not exceed <name>_max", or undefined. */
export function rangeProblem(params: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const min = params[`${name}_min`] as number;
    const max = params[`${name}_max`] as number;
    if (min > max) return `parameter ${name}_min (${min}) must not exceed ${name}_max (${max})`;
  }
  return undefined;
}
