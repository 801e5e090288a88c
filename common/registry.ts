import { fail, ok, TandemError, type Result } from './errors.ts';

/**
 * The one lookup behind every registry table (policies, index modes, backends, handoff
 * protocols, engines, predictors, workloads, profiles): the entry named `name`, or an
 * `invalid_request` on `param` that lists the known names, e.g.
 * `unknown routing policy "kvv" (known: kv, random)`. Own keys only: `toString` is no policy.
 */
export function findByName<T>(
  table: Readonly<Record<string, T>>,
  name: string,
  what: string,
  param: string,
): Result<T> {
  if (Object.hasOwn(table, name)) return ok(table[name] as T);
  return fail(
    new TandemError('invalid_request', `unknown ${what} "${name}" (known: ${Object.keys(table).join(', ')})`, {
      param,
    }),
  );
}

/** `findByName`, throwing its error: for start-up code that validates config once. */
export function getByName<T>(table: Readonly<Record<string, T>>, name: string, what: string, param: string): T {
  const found = findByName(table, name, what, param);
  if (!found.ok) throw found.error;
  return found.value;
}
