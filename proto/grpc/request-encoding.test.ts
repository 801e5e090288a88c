import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { GenerateRequestSchema, PrefillRequestSchema } from '../gen/tandem/v1/worker_pb.ts';
import { encodeRequest } from './request-encoding.ts';

describe('encodeRequest', () => {
  it('decodes to the message toBinary writes, token ids of every varint length included', () => {
    const tokenIds = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455, 268_435_456, 4_294_967_295];
    for (let i = 0; i < 1000; i++) tokenIds.push((i * 2_654_435_761) % 151_936);
    const init = {
      requestId: 'r-1',
      tokenIds,
      sampling: { maxTokens: 64, temperature: 0.5, stopTokenIds: [151_645, 7], seed: 3n },
    };
    const fast = encodeRequest(GenerateRequestSchema, init);
    const reference = toBinary(GenerateRequestSchema, create(GenerateRequestSchema, init));
    expect(fast.length).toBe(reference.length);
    expect(fromBinary(GenerateRequestSchema, fast)).toEqual(fromBinary(GenerateRequestSchema, reference));
    expect(fromBinary(GenerateRequestSchema, fast).tokenIds).toEqual(tokenIds);
  });

  it("leaves the caller's object alone and takes messages with no ids, or none set", () => {
    const init = { requestId: 'r-2', tokenIds: [5, 6] };
    encodeRequest(PrefillRequestSchema, init);
    expect(init).toEqual({ requestId: 'r-2', tokenIds: [5, 6] });
    for (const value of [{ requestId: 'r-3' }, { requestId: 'r-4', tokenIds: [] }])
      expect(fromBinary(PrefillRequestSchema, encodeRequest(PrefillRequestSchema, value))).toEqual(
        fromBinary(PrefillRequestSchema, toBinary(PrefillRequestSchema, create(PrefillRequestSchema, value))),
      );
  });
});
