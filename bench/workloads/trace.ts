import { z } from 'zod';
import { fail, ok, TandemError } from '../../common/errors.ts';
import { readTextFile } from '../../common/read-text-file.ts';
import { createRng } from '../../common/rng.ts';
import { count, defineWorkload } from './define.ts';
import { createIndependentSource } from './independent-source.ts';
import { createBlockPrefixTrie, createTokenPrefixTrie } from './prefix-trie.ts';
import { fillTokens } from './tokens.ts';
import { parseTrace, type TraceEntry } from './trace-reader.ts';

/**
 * Replays a JSONL trace (format in trace-reader.ts): arrivals shifted so the first request is
 * due at 0, then scaled by `time_scale`, or rescaled so the mean rate is `rate`. Prompts given
 * as token ids are sent as they are; prompts given as block ids get `block_tokens` tokens per
 * block, drawn from (seed, block id), so equal ids are equal tokens within a run and across
 * runs with one seed. Requests without a session id are their own session.
 */
export const traceWorkload = defineWorkload({
  description: 'replay a JSONL trace: arrival time, prompt token ids or Mooncake-style hash_ids, output tokens',
  params: {
    file: z.string().min(1).optional().describe('the JSONL trace to replay (required)'),
    block_tokens: count(512, "tokens per hash id (Mooncake's traces use 512)"),
    time_scale: z.number().positive().default(1).describe('multiplies every arrival offset (0.5 = twice as fast)'),
    rate: z
      .number()
      .positive()
      .optional()
      .describe('if set, rescales arrivals to this mean rate, requests/s (overrides time_scale)'),
  },
  check: (p) => (p.file === undefined ? 'parameter file is required (the JSONL trace to replay)' : undefined),
  prepare(params) {
    const text = readTextFile(params.file!, 'trace');
    if (!text.ok) return text;
    const parsed = parseTrace(text.value, params.block_tokens);
    if (!parsed.ok) return fail(new TandemError('invalid_request', `trace ${params.file}: ${parsed.error.message}`));
    return ok(prepareEntries(parsed.value, params.block_tokens));
  },
  open(params, prepared: PreparedTrace, rng) {
    const { entries, sharedPrefixTokens } = prepared;
    const first = entries[0]!.arrivalMs;
    const span = entries.at(-1)!.arrivalMs - first;
    const scale =
      params.rate !== undefined && span > 0 ? 1000 / params.rate / (span / (entries.length - 1)) : params.time_scale;
    const blockSeed = rng.fork('blocks').seed;
    let next = 0;
    return createIndependentSource(() => {
      const index = next++;
      const entry = entries[index];
      if (!entry) return undefined;
      const id = `line${entry.line}`;
      return {
        id,
        arrivalMs: (entry.arrivalMs - first) * scale,
        promptTokenIds:
          entry.prompt.kind === 'tokens'
            ? entry.prompt.tokenIds
            : blockTokensOf(entry.prompt.hashIds, entry.prompt.inputTokens, params.block_tokens, blockSeed),
        maxOutputTokens: entry.outputTokens,
        sessionKey: entry.sessionKey ?? id,
        sharedPrefixTokens: sharedPrefixTokens[index]!,
      };
    });
  },
});

interface PreparedTrace {
  /** In arrival order (stable for equal times). */
  readonly entries: readonly TraceEntry[];
  readonly sharedPrefixTokens: Uint32Array;
}

function prepareEntries(parsed: TraceEntry[], blockTokens: number): PreparedTrace {
  const entries = [...parsed].sort((a, b) => a.arrivalMs - b.arrivalMs || a.line - b.line);
  const sharedPrefixTokens = new Uint32Array(entries.length);
  const tokens = createTokenPrefixTrie();
  const blocks = createBlockPrefixTrie(blockTokens);
  entries.forEach((entry, i) => {
    sharedPrefixTokens[i] =
      entry.prompt.kind === 'tokens'
        ? tokens.insert(entry.prompt.tokenIds)
        : blocks.insert(entry.prompt.hashIds, entry.prompt.inputTokens);
  });
  return { entries, sharedPrefixTokens };
}

/** The prompt of a block-id request: block k's tokens depend only on (seed, id), truncated to the length. */
function blockTokensOf(
  hashIds: readonly number[],
  inputTokens: number,
  blockTokens: number,
  seed: string,
): Uint32Array {
  const out = new Uint32Array(inputTokens);
  for (let k = 0; k < hashIds.length; k++) {
    const start = k * blockTokens;
    fillTokens(createRng(`${seed}/${hashIds[k]}`), out, start, Math.min(blockTokens, inputTokens - start));
  }
  return out;
}
