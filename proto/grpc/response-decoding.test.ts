import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { FinishReason, WorkerStatusSchema, TokenChunkSchema } from '../gen/tandem/v1/worker_pb.ts';
import { createResponseDecoder } from './response-decoding.ts';

describe('createResponseDecoder', () => {
  const decode = createResponseDecoder(TokenChunkSchema);
  const both = (init: Parameters<typeof create<typeof TokenChunkSchema>>[1]) => {
    const bytes = toBinary(TokenChunkSchema, create(TokenChunkSchema, init));
    return { fast: decode(bytes), reference: fromBinary(TokenChunkSchema, bytes) };
  };

  it('reads a chunk of token ids (every varint length) into the message fromBinary gives', () => {
    for (const tokenIds of [[7], [0, 127, 128, 16_383, 16_384, 2_097_152, 268_435_456, 4_294_967_295], []]) {
      const { fast, reference } = both({ tokenIds });
      expect(fast).toStrictEqual(reference);
    }
    const a = decode(toBinary(TokenChunkSchema, create(TokenChunkSchema, { tokenIds: [1] }))) as {
      logprobs: unknown[];
    };
    const b = decode(toBinary(TokenChunkSchema, create(TokenChunkSchema, { tokenIds: [2] }))) as {
      logprobs: unknown[];
    };
    expect(a.logprobs).not.toBe(b.logprobs); // fresh lists, never shared
  });

  it('leaves every other chunk to fromBinary: finish, usage, logprobs, truncated bytes', () => {
    for (const init of [
      { tokenIds: [5], finishReason: FinishReason.LENGTH, usage: { promptTokens: 10, completionTokens: 1 } },
      { tokenIds: [5, 6], logprobs: [{ logprob: -0.5 }, { logprob: -1 }] },
    ]) {
      const { fast, reference } = both(init);
      expect(fast).toStrictEqual(reference);
    }
    const bytes = toBinary(TokenChunkSchema, create(TokenChunkSchema, { tokenIds: [300, 400] }));
    expect(() => decode(bytes.subarray(0, bytes.length - 1))).toThrow();
  });

  it('falls back whole for a message without a packed id list', () => {
    const status = createResponseDecoder(WorkerStatusSchema);
    const bytes = toBinary(WorkerStatusSchema, create(WorkerStatusSchema, { engineId: 'e', runningRequests: 3 }));
    expect(status(bytes)).toStrictEqual(fromBinary(WorkerStatusSchema, bytes));
  });
});
