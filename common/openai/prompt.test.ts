import { describe, expect, it } from 'vitest';
import { COMPLETION_DEFAULT_MAX_TOKENS, outputBudget } from './prompt.ts';

describe('the output budget (vLLM context checks)', () => {
  const base = { promptTokens: 100, maxModelLen: 1000, maxTokens: undefined, minTokens: 0 } as const;

  it('gives a completion 16 tokens and a chat the whole room when the client names none', () => {
    expect(outputBudget({ ...base, endpoint: 'completion' })).toEqual({
      ok: true,
      value: COMPLETION_DEFAULT_MAX_TOKENS,
    });
    expect(outputBudget({ ...base, endpoint: 'chat' })).toEqual({ ok: true, value: 900 });
    expect(outputBudget({ ...base, endpoint: 'completion', promptTokens: 990 })).toEqual({ ok: true, value: 10 });
  });

  it('refuses a prompt that leaves no room and a max_tokens past the context, naming the field', () => {
    const full = outputBudget({ ...base, endpoint: 'chat', promptTokens: 1000 });
    expect(full.ok || [full.error.code, full.error.param]).toEqual(['context_length_exceeded', 'messages']);
    const over = outputBudget({ ...base, endpoint: 'completion', maxTokens: 901 });
    expect(over.ok || [over.error.code, over.error.param, over.error.message]).toEqual([
      'context_length_exceeded',
      'max_tokens',
      expect.stringContaining('you requested 1001 tokens (100 in the prompt, 901 in the completion)'),
    ]);
    expect(outputBudget({ ...base, endpoint: 'completion', maxTokens: 900 })).toEqual({ ok: true, value: 900 });
  });

  it('refuses an empty prompt and a min_tokens above the budget', () => {
    const empty = outputBudget({ ...base, endpoint: 'completion', promptTokens: 0 });
    expect(empty.ok || empty.error.param).toBe('prompt');
    const min = outputBudget({ ...base, endpoint: 'completion', minTokens: 17 });
    expect(min.ok || min.error.message).toBe('min_tokens (17) must not exceed max_tokens (16)');
  });
});
