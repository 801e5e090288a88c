import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createWorkload } from './registry.ts';
import { parseSweep } from './rate-list.ts';
import { parseTrace } from './trace-reader.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trace reader', () => {
  it('reads a Mooncake line and a token-id line', () => {
    const mooncake = parseTrace(
      '{"timestamp": 27482, "input_length": 1500, "output_length": 52, "hash_ids": [46, 47, 48]}\n',
      512,
    );
    expect(mooncake.ok && mooncake.value[0]).toEqual({
      line: 1,
      arrivalMs: 27482,
      prompt: { kind: 'hashes', hashIds: [46, 47, 48], inputTokens: 1500 },
      outputTokens: 52,
      sessionKey: undefined,
    });
    const tokens = parseTrace(
      '\n{"arrival_ms": 5, "prompt_token_ids": [1, 2, 3], "max_tokens": 9, "conversation_id": 4, "extra": true}',
      16,
    );
    expect(tokens.ok && tokens.value[0]).toEqual({
      line: 2,
      arrivalMs: 5,
      prompt: { kind: 'tokens', tokenIds: Uint32Array.from([1, 2, 3]) },
      outputTokens: 9,
      sessionKey: '4',
    });
    const full = parseTrace('{"timestamp": 0, "output_length": 1, "hash_ids": [1, 2]}', 512);
    expect(full.ok && full.value[0]!.prompt).toEqual({ kind: 'hashes', hashIds: [1, 2], inputTokens: 1024 });
  });

  it.each([
    ['{"timestamp": 0, "output_length": 5', 'line 2: not valid JSON'],
    ['[1, 2]', 'line 2: expected a JSON object'],
    ['{"output_length": 5, "hash_ids": [1]}', 'line 2: missing the arrival time'],
    ['{"timestamp": -1, "output_length": 5, "hash_ids": [1]}', 'line 2: timestamp must be a non-negative number'],
    ['{"timestamp": 1, "hash_ids": [1]}', 'line 2: missing the output length'],
    ['{"timestamp": 1, "output_length": 0, "hash_ids": [1]}', 'line 2: output_length must be an integer >= 1'],
    ['{"timestamp": 1, "output_length": 5}', 'line 2: missing the prompt'],
    ['{"timestamp": 1, "output_length": 5, "hash_ids": []}', 'line 2: hash_ids must be a non-empty array'],
    ['{"timestamp": 1, "output_length": 5, "hash_ids": [1, -2]}', 'line 2: hash_ids[1] must be a non-negative integer'],
    [
      '{"timestamp": 1, "output_length": 5, "hash_ids": [1, 2], "input_length": 2000}',
      'line 2: input_length 2000 needs 4 blocks of 512 tokens, but hash_ids has 2',
    ],
    [
      '{"timestamp": 1, "output_length": 5, "prompt_token_ids": [1, 151936]}',
      'line 2: prompt_token_ids[1] must be an integer in [0, 151936)',
    ],
    [
      '{"timestamp": 1, "output_length": 5, "prompt_token_ids": [1], "hash_ids": [1]}',
      'line 2: give prompt_token_ids or hash_ids, not both',
    ],
    [
      '{"timestamp": 1, "output_length": 5, "prompt_token_ids": [1]}',
      'line 2: uses prompt_token_ids but earlier lines use hash_ids',
    ],
  ])('rejects %s with its line number', (bad, message) => {
    const result = parseTrace(`{"timestamp": 0, "output_length": 5, "hash_ids": [1]}\n${bad}\n`, 512);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain(message);
  });

  it('replays in arrival order from 0, gives equal block ids equal tokens, and rescales to a rate', () => {
    const file = join(dir, 'trace.jsonl');
    writeFileSync(
      file,
      [
        '{"timestamp": 3000, "output_length": 4, "hash_ids": [7, 8]}',
        '{"timestamp": 1000, "output_length": 2, "input_length": 20, "hash_ids": [7, 9]}',
        '{"timestamp": 5000, "output_length": 3, "hash_ids": [7]}',
      ].join('\n'),
    );
    const replay = (params: Record<string, unknown>) => {
      const workload = createWorkload('trace', { file, block_tokens: 16, ...params }, 1);
      if (!workload.ok) throw workload.error;
      const source = workload.value.open();
      return [source.take()!, source.take()!, source.take()!, source.take()];
    };
    const [a, b, c, none] = replay({});
    expect(none).toBeUndefined();
    expect([a!.id, b!.id, c!.id]).toEqual(['line2', 'line1', 'line3']);
    expect([a!.arrivalMs, b!.arrivalMs, c!.arrivalMs]).toEqual([0, 2000, 4000]);
    expect([a!.promptTokenIds.length, b!.promptTokenIds.length, c!.promptTokenIds.length]).toEqual([20, 32, 16]);
    expect(Array.from(b!.promptTokenIds.subarray(0, 16))).toEqual(Array.from(a!.promptTokenIds.subarray(0, 16)));
    expect(Array.from(c!.promptTokenIds)).toEqual(Array.from(a!.promptTokenIds.subarray(0, 16)));
    expect(b!.promptTokenIds[16]).not.toBe(a!.promptTokenIds[16]);
    expect([a!.sharedPrefixTokens, b!.sharedPrefixTokens, c!.sharedPrefixTokens]).toEqual([0, 16, 16]);
    expect(replay({ rate: 2 }).map((r) => r?.arrivalMs)).toEqual([0, 500, 1000, undefined]);
    expect(replay({ time_scale: 0.1 }).map((r) => r?.arrivalMs)).toEqual([0, 200, 400, undefined]);
  });

  it('fails a trace workload whose file is missing or bad, naming the file and line', () => {
    const missing = createWorkload('trace', { file: join(dir, 'none.jsonl') }, 1);
    expect(!missing.ok && missing.error.message).toMatch(/cannot read trace .*none\.jsonl/);
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"timestamp": 0, "output_length": 5, "hash_ids": [1]}\n{"timestamp": 0}\n');
    const bad = createWorkload('trace', { file }, 1);
    expect(!bad.ok && bad.error.message).toMatch(/bad\.jsonl: line 2: missing the output length/);
    const none = createWorkload('trace', {}, 1);
    expect(!none.ok && none.error.message).toMatch(/file is required/);
  });
});

describe('sweep lists', () => {
  it('reads one value, a list, and an evenly spaced start:end:points range', () => {
    expect(parseSweep('8')).toEqual({ ok: true, value: [8] });
    expect(parseSweep('1, 2,4')).toEqual({ ok: true, value: [1, 2, 4] });
    expect(parseSweep('3:60:6')).toEqual({ ok: true, value: [3, 14.4, 25.8, 37.2, 48.6, 60] });
    expect(parseSweep('5:5:1')).toEqual({ ok: true, value: [5] });
  });

  it.each(['0', '-1', 'a', '3:60', '60:3:4', '3:60:0', '1,,2'])('rejects %s', (text) => {
    expect(parseSweep(text).ok).toBe(false);
  });
});
