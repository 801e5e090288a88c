import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hitRateUpperBound } from '../stats/hit-rate-bound.ts';
import {
  createWorkload,
  drainSource,
  REGULAR_VOCAB,
  workloadNames,
  type BenchRequest,
  type DrainedRequest,
} from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-workloads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small Mooncake-style trace: chains of block ids that share prefixes, partial last blocks. */
function writeHashTrace(): string {
  const lines: string[] = [];
  const roots = [[1, 2, 3], [1, 2, 4], [5], [1, 2, 3, 6, 7], [5, 8], [1, 9]];
  roots.forEach((ids, i) =>
    lines.push(
      JSON.stringify({
        timestamp: 100 * i,
        input_length: ids.length * 4 - (i % 3),
        output_length: 3 + i,
        hash_ids: ids,
      }),
    ),
  );
  lines.push(JSON.stringify({ timestamp: 50, input_length: 7, output_length: 2, hash_ids: [1, 2] })); // out of order, partial
  const file = join(dir, 'hash-trace.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function writeTokenTrace(): string {
  const base = [10, 11, 12, 13, 14, 15];
  const rows = [base, [...base, 20, 21], [10, 11, 99], base.slice(0, 4), [...base, 20, 22, 23], [7]];
  const file = join(dir, 'token-trace.jsonl');
  writeFileSync(
    file,
    rows
      .map((ids, i) =>
        JSON.stringify({ arrival_ms: 10 * i, prompt_token_ids: ids, output_tokens: 4, session_id: i % 2 }),
      )
      .join('\n'),
  );
  return file;
}

/** Small instances of every workload, so brute force stays cheap. */
const SMALL: Record<string, Record<string, unknown>> = {
  'llmd-shared-prefix': {
    groups: 4,
    users_per_group: 3,
    system_prompt_tokens: 40,
    question_tokens: 10,
    output_tokens: 5,
  },
  'multi-turn-chat': {
    conversations: 6,
    system_prompt_tokens: 30,
    turns_min: 2,
    turns_max: 4,
    user_tokens_min: 5,
    user_tokens_max: 20,
    output_tokens_min: 3,
    output_tokens_max: 10,
    think_time_s: 1,
  },
  'long-context-rag': {
    documents: 3,
    document_tokens: 50,
    system_prompt_tokens: 10,
    question_tokens_min: 3,
    question_tokens_max: 8,
  },
  agentic: {
    agents: 4,
    system_prompt_tokens: 40,
    task_tokens_min: 5,
    task_tokens_max: 10,
    steps_min: 2,
    steps_max: 5,
    output_tokens_min: 2,
    output_tokens_max: 6,
    tool_result_tokens_min: 5,
    tool_result_tokens_max: 20,
  },
  'mixed-isl': {
    short_tokens_min: 5,
    short_tokens_max: 20,
    long_tokens_min: 60,
    long_tokens_max: 100,
    system_prompt_tokens: 3,
    long_share: 0.3,
  },
  diurnal: {
    chat_prompt_tokens_min: 5,
    chat_prompt_tokens_max: 20,
    long_prompt_tokens_min: 50,
    long_prompt_tokens_max: 80,
    system_prompt_tokens: 2,
    period_s: 20,
  },
  trace: { file: writeHashTrace(), block_tokens: 4 },
};

function drain(name: string, seed: number, params = SMALL[name]!, maxRequests = 40): DrainedRequest[] {
  const workload = createWorkload(name, params, seed);
  if (!workload.ok) throw workload.error;
  // Service time and output length vary per request, so feedback-driven workloads are exercised.
  return drainSource(workload.value.open(), {
    maxRequests,
    serviceMs: (r) => 200 + (r.promptTokenIds.length % 7) * 100,
    outputTokens: (r) => Math.max(1, r.maxOutputTokens - 1),
  });
}

function lcp(a: Uint32Array, b: Uint32Array): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

const plain = (r: BenchRequest) => ({ ...r, promptTokenIds: Array.from(r.promptTokenIds) });

describe.each(workloadNames())('workload %s', (name) => {
  it('yields the same requests for the same seed and different prompts for another', () => {
    const a = drain(name, 7).map((d) => plain(d.request));
    const b = drain(name, 7).map((d) => plain(d.request));
    const c = drain(name, 8).map((d) => plain(d.request));
    expect(a.length).toBeGreaterThan(5);
    expect(b).toEqual(a);
    if (name === 'trace') expect(c.map((r) => r.arrivalMs)).toEqual(a.map((r) => r.arrivalMs));
    expect(c.map((r) => r.promptTokenIds)).not.toEqual(a.map((r) => r.promptTokenIds));
  });

  it('takes requests in arrival order, with unique ids, positive max_tokens and regular token ids', () => {
    const requests = drain(name, 3).map((d) => d.request);
    const ids = new Set(requests.map((r) => r.id));
    expect(ids.size).toBe(requests.length);
    for (let i = 1; i < requests.length; i++)
      expect(requests[i]!.arrivalMs).toBeGreaterThanOrEqual(requests[i - 1]!.arrivalMs);
    for (const r of requests) {
      expect(r.maxOutputTokens).toBeGreaterThanOrEqual(1);
      expect(r.promptTokenIds.length).toBeGreaterThan(0);
      expect(r.sessionKey).not.toBe('');
      for (const token of r.promptTokenIds) expect(token).toBeLessThan(REGULAR_VOCAB);
    }
  });

  it('states for each request exactly the longest prefix it shares with any earlier request', () => {
    const requests = drain(name, 11).map((d) => d.request);
    requests.forEach((request, i) => {
      let brute = 0;
      for (let j = 0; j < i; j++) brute = Math.max(brute, lcp(request.promptTokenIds, requests[j]!.promptTokenIds));
      expect(request.sharedPrefixTokens, `${request.id}`).toBe(brute);
    });
  });

  it('bounds the hit rate as a count of distinct prefixes computed once would', () => {
    const requests = drain(name, 5).map((d) => d.request);
    for (const blockSize of [1, 4, 16]) {
      // Brute force: every full block (keyed by its whole prefix) is computed the first time it appears.
      const seen = new Set<string>();
      let total = 0;
      let reused = 0;
      for (const r of requests) {
        total += r.promptTokenIds.length;
        for (let end = blockSize; end <= r.promptTokenIds.length; end += blockSize) {
          const key = r.promptTokenIds.subarray(0, end).join(',');
          if (seen.has(key)) reused += blockSize;
        }
        for (let end = blockSize; end <= r.promptTokenIds.length; end += blockSize)
          seen.add(r.promptTokenIds.subarray(0, end).join(','));
      }
      const bound = hitRateUpperBound(
        requests.map((r) => ({ promptTokens: r.promptTokenIds.length, sharedPrefixTokens: r.sharedPrefixTokens })),
        blockSize,
      );
      expect(bound).toBeCloseTo(reused / total, 12);
    }
  });
});

describe('workload registry', () => {
  it('rejects an unknown workload naming the known ones', () => {
    const result = createWorkload('nope', {}, 1);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain('llmd-shared-prefix, multi-turn-chat');
  });

  it('rejects an unknown parameter naming the known ones, and a bad value naming the parameter', () => {
    const unknown = createWorkload('mixed-isl', { lengh: 3 }, 1);
    expect(!unknown.ok && unknown.error.message).toMatch(/unknown parameter lengh \(known: rate, long_share/);
    const bad = createWorkload('mixed-isl', { long_share: 2 }, 1);
    expect(!bad.ok && bad.error.message).toMatch(/parameter long_share/);
    const inverted = createWorkload('agentic', { steps_min: 9, steps_max: 3 }, 1);
    expect(!inverted.ok && inverted.error.message).toMatch(/steps_min \(9\) must not exceed steps_max \(3\)/);
  });

  it('fills every default and records the seed', () => {
    const result = createWorkload('llmd-shared-prefix', {}, 'abc');
    expect(result.ok && result.value.params).toEqual({
      groups: 150,
      users_per_group: 5,
      system_prompt_tokens: 6000,
      question_tokens: 1200,
      output_tokens: 1000,
      rate: 10,
      stages: '',
      order: 'cycle',
    });
    expect(result.ok && result.value.seed).toBe('abc');
  });

  it('replays a token-id trace with its own prompts and sessions', () => {
    const requests = drain('trace', 1, { file: writeTokenTrace() }).map((d) => d.request);
    expect(requests.map((r) => Array.from(r.promptTokenIds).length)).toEqual([6, 8, 3, 4, 9, 1]);
    expect(requests.map((r) => r.sharedPrefixTokens)).toEqual([0, 6, 2, 4, 7, 0]);
    expect(requests.map((r) => r.sessionKey)).toEqual(['0', '1', '0', '1', '0', '1']);
  });
});
