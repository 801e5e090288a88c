import { readFileSync } from 'node:fs';
import { fail, ok, TandemError, type Result } from './errors.ts';

/**
 * Reads a UTF-8 file named by the user (a config, an observations file, a profile, a trace).
 * A missing or unreadable file is an `invalid_request` whose message names `what` and the file:
 * "cannot read config file a.yaml: no such file".
 */
export function readTextFile(file: string, what: string): Result<string> {
  try {
    return ok(readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    return fail(new TandemError('invalid_request', `cannot read ${what} ${file}: ${reason}`, { cause: error }));
  }
}
