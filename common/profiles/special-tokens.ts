import { getByName } from '../registry.ts';
import type { ModelName } from './models.ts';

/**
 * Special token ids per model, for engines that sample token ids without a tokenizer (the
 * simulated engine) and must still stop on the model's end-of-sequence tokens.
 *
 * - qwen3-8b, qwen3-32b: generation_config.json `eos_token_id: [151645, 151643]`
 *   (<|im_end|>, <|endoftext|>); special tokens start at 151643 in tokenizer_config.json.
 * - llama-3.1-8b, llama-3.1-70b (Instruct): generation_config.json
 *   `eos_token_id: [128001, 128008, 128009]` (<|end_of_text|>, <|eom_id|>, <|eot_id|>); the
 *   reserved special range is 128000-128255.
 */
export interface ModelSpecialTokens {
  /** Every id that ends a sequence unless `ignore_eos`; the first is the one a chat turn ends with. */
  readonly eosTokenIds: readonly number[];
  /** Ids below this are ordinary text tokens; ids from here up to the vocabulary size are special. */
  readonly firstSpecialTokenId: number;
}

export const MODEL_SPECIAL_TOKENS = {
  'qwen3-8b': { eosTokenIds: [151645, 151643], firstSpecialTokenId: 151643 },
  'qwen3-32b': { eosTokenIds: [151645, 151643], firstSpecialTokenId: 151643 },
  'llama-3.1-8b': { eosTokenIds: [128009, 128001, 128008], firstSpecialTokenId: 128000 },
  'llama-3.1-70b': { eosTokenIds: [128009, 128001, 128008], firstSpecialTokenId: 128000 },
} as const satisfies Record<ModelName, ModelSpecialTokens>;

/** Special tokens of a model profile by name; throws on unknown names, listing the known ones. */
export function modelSpecialTokens(name: string): ModelSpecialTokens {
  return getByName<ModelSpecialTokens>(MODEL_SPECIAL_TOKENS, name.toLowerCase(), 'model profile', 'model');
}
