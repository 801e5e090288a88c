/**
 * The codec's own result type (proto/ imports nothing of ours, so not common/errors' Result,
 * though the shape is the same `{ ok, value } | { ok, error }` and the two interoperate).
 */
export type CodecResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: CodecError };

export interface CodecError {
  /** What was wrong, in words. */
  readonly message: string;
  /** Where in the message: e.g. `events[2].block_hashes[0]`; empty for the whole message. */
  readonly path: string;
}

export const codecOk = <T>(value: T): CodecResult<T> => ({ ok: true, value });

export const codecFail = (message: string, path = ''): CodecResult<never> => ({ ok: false, error: { message, path } });
