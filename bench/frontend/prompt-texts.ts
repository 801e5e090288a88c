import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../../common/rng.ts';

/**
 * Prompt texts for the frontend benchmarks (tokenize-cost.ts, frontend-overhead.ts): new word
 * sequences over a tokenizer's own whole words (about 24k for Qwen3), so every prompt is fresh
 * text while the tokenizer's word cache is warm, as in steady serving. `sentence(n)` is about n
 * tokens (0.93 words per token, a full stop every 15 words); `system` is one ~880-token system
 * prompt that every "seen before" chat shares.
 */
export interface PromptTexts {
  sentence(tokens: number): string;
  readonly system: string;
  /** OpenAI bodies (JSON objects, not yet serialised) of the three request kinds the benchmarks compare. */
  readonly bodies: Record<PromptKind, (extra: Record<string, unknown>) => Record<string, unknown>>;
}

export type PromptKind = 'completion, fresh prompt' | 'chat, fresh system + user' | 'chat, system prompt seen before';

export function createPromptTexts(tokenizerDirectory: string, seed = 42): PromptTexts {
  const vocab = (
    JSON.parse(readFileSync(join(tokenizerDirectory, 'tokenizer.json'), 'utf8')) as {
      model: { vocab: Record<string, number> };
    }
  ).model.vocab;
  const words = Object.keys(vocab)
    .filter((t) => /^Ġ[a-z]{3,}$/.test(t))
    .map((t) => t.slice(1));
  const rng = createRng(seed);
  const sentence = (tokens: number) => {
    let s = '';
    for (let k = 0; k < tokens * 0.93; k++) s += (k === 0 ? '' : ' ') + rng.pick(words) + (k % 15 === 14 ? '.' : '');
    return s;
  };
  const system = `You are the support assistant of Tandem. ${sentence(880)}`;
  return {
    sentence,
    system,
    bodies: {
      'completion, fresh prompt': (extra) => ({ prompt: sentence(1001), ...extra }),
      'chat, fresh system + user': (extra) => ({
        messages: [
          { role: 'system', content: `You are helper ${rng.int(1e9)}. ${sentence(880)}` },
          { role: 'user', content: sentence(100) },
        ],
        ...extra,
      }),
      'chat, system prompt seen before': (extra) => ({
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: sentence(100) },
        ],
        ...extra,
      }),
    },
  };
}
