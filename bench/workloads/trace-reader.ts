import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import { VOCAB_SIZE } from './tokens.ts';

/** A prompt as a trace gives it: the token ids, or Mooncake-style ids of blocks of `block_tokens` tokens. */
export type TracePrompt =
  | { readonly kind: 'tokens'; readonly tokenIds: Uint32Array }
  /** Block ids identify a block together with everything before it (chained), as in Mooncake's traces. */
  | { readonly kind: 'hashes'; readonly hashIds: readonly number[]; readonly inputTokens: number };

export interface TraceEntry {
  /** 1-based line in the file. */
  readonly line: number;
  /** Milliseconds, as written (before any shift or scaling). */
  readonly arrivalMs: number;
  readonly prompt: TracePrompt;
  readonly outputTokens: number;
  readonly sessionKey: string | undefined;
}

/**
 * Parses a JSONL trace, one request per line (blank lines skipped, unknown fields ignored):
 *
 *   {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, ...]}   (Mooncake)
 *   {"arrival_ms": 0, "prompt_token_ids": [151644, 872, ...], "output_tokens": 128, "session_id": "a"}
 *
 * Arrival: `timestamp` or `arrival_ms` (ms). Prompt: `prompt_token_ids`, or `hash_ids` with
 * optional `input_length` (default: all blocks full; else the last block holds the rest, so
 * ceil(input_length / block_tokens) must equal the number of ids). Output: `output_length`,
 * `output_tokens` or `max_tokens`. Session: `session_id` or `conversation_id`. One file uses one
 * prompt form. The first bad line fails the parse with its line number.
 */
export function parseTrace(text: string, blockTokens: number): Result<TraceEntry[]> {
  const entries: TraceEntry[] = [];
  let form: TracePrompt['kind'] | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    const parsed = parseLine(raw, blockTokens);
    const line = i + 1;
    if (!parsed.ok) return fail(new TandemError('invalid_request', `line ${line}: ${parsed.error}`));
    const { arrivalMs, prompt, outputTokens, sessionKey } = parsed.value;
    if (form !== undefined && prompt.kind !== form) {
      return fail(
        new TandemError(
          'invalid_request',
          `line ${line}: uses ${prompt.kind === 'tokens' ? 'prompt_token_ids' : 'hash_ids'} but earlier lines use ${form === 'tokens' ? 'prompt_token_ids' : 'hash_ids'} (one form per trace)`,
        ),
      );
    }
    form = prompt.kind;
    entries.push({ line, arrivalMs, prompt, outputTokens, sessionKey });
  }
  if (entries.length === 0) return fail(new TandemError('invalid_request', 'the trace holds no requests'));
  return ok(entries);
}

type LineResult = Result<Omit<TraceEntry, 'line'>, string>;

function parseLine(raw: string, blockTokens: number): LineResult {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return fail(`not valid JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail('expected a JSON object');
  const record = value as Record<string, unknown>;

  const arrivalKey = 'timestamp' in record ? 'timestamp' : 'arrival_ms' in record ? 'arrival_ms' : undefined;
  if (!arrivalKey) return fail('missing the arrival time (timestamp or arrival_ms, milliseconds)');
  const arrivalMs = record[arrivalKey];
  if (typeof arrivalMs !== 'number' || !Number.isFinite(arrivalMs) || arrivalMs < 0)
    return fail(`${arrivalKey} must be a non-negative number of milliseconds`);

  const outputKey = ['output_length', 'output_tokens', 'max_tokens'].find((key) => key in record);
  if (!outputKey) return fail('missing the output length (output_length, output_tokens or max_tokens)');
  const outputTokens = record[outputKey];
  if (!isCount(outputTokens) || outputTokens < 1) return fail(`${outputKey} must be an integer >= 1`);

  const sessionRaw = record.session_id ?? record.conversation_id;
  if (sessionRaw !== undefined && typeof sessionRaw !== 'string' && typeof sessionRaw !== 'number')
    return fail('session_id must be a string or a number');
  const sessionKey = sessionRaw === undefined ? undefined : String(sessionRaw);

  const hasTokens = 'prompt_token_ids' in record;
  const hasHashes = 'hash_ids' in record;
  if (hasTokens && hasHashes) return fail('give prompt_token_ids or hash_ids, not both');
  if (hasTokens) {
    const ids = record.prompt_token_ids;
    if (!Array.isArray(ids) || ids.length === 0) return fail('prompt_token_ids must be a non-empty array');
    const tokenIds = new Uint32Array(ids.length);
    for (let k = 0; k < ids.length; k++) {
      const id: unknown = ids[k];
      if (!isCount(id) || id >= VOCAB_SIZE)
        return fail(`prompt_token_ids[${k}] must be an integer in [0, ${VOCAB_SIZE})`);
      tokenIds[k] = id;
    }
    return ok({ arrivalMs, prompt: { kind: 'tokens', tokenIds }, outputTokens, sessionKey });
  }
  if (hasHashes) {
    const hashIds = record.hash_ids;
    if (!Array.isArray(hashIds) || hashIds.length === 0) return fail('hash_ids must be a non-empty array');
    for (let k = 0; k < hashIds.length; k++)
      if (!isCount(hashIds[k])) return fail(`hash_ids[${k}] must be a non-negative integer`);
    let inputTokens = hashIds.length * blockTokens;
    if ('input_length' in record) {
      const length = record.input_length;
      if (!isCount(length) || length < 1) return fail('input_length must be an integer >= 1');
      if (Math.ceil(length / blockTokens) !== hashIds.length) {
        return fail(
          `input_length ${length} needs ${Math.ceil(length / blockTokens)} blocks of ${blockTokens} tokens, but hash_ids has ${hashIds.length} (set the workload's block_tokens to the trace's block size)`,
        );
      }
      inputTokens = length;
    }
    return ok({
      arrivalMs,
      prompt: { kind: 'hashes', hashIds: hashIds as number[], inputTokens },
      outputTokens,
      sessionKey,
    });
  }
  return fail('missing the prompt (prompt_token_ids or hash_ids)');
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
