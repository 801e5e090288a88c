import { create, fromBinary, ScalarType, toBinary, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { file_tandem_v1_worker, GenerateRequestSchema, PrefillRequestSchema } from '../gen/tandem/v1/worker_pb.ts';
import { encodeRequest } from './request-encoding.ts';

/** A seeded generator (mulberry32): proto/ may not import common/rng.ts. */
interface Rng {
  int(maxExclusive: number): number;
}
function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return {
    int(maxExclusive) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * maxExclusive);
    },
  };
}

const reference = (schema: DescMessage, init: object) => toBinary(schema, create(schema, init as never));

/** A random init object for `schema`, edge values included (zeros, -0, NaN, the limits, non-ASCII text). */
function randomInit(rng: Rng, schema: DescMessage, depth = 0): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const field of schema.fields) {
    if (rng.int(4) === 0) continue; // left out
    const value = randomValue(rng, field, depth);
    if (value !== undefined) init[field.localName] = value;
  }
  return init;
}

function randomValue(rng: Rng, field: DescField, depth: number): unknown {
  const pick = <T>(values: readonly T[]): T => values[rng.int(values.length)] as T;
  switch (field.fieldKind) {
    case 'message':
      return depth < 3 ? randomInit(rng, field.message, depth + 1) : undefined;
    case 'enum':
      return pick(field.enum.values).number;
    case 'list':
      if (field.listKind === 'message')
        return depth < 3
          ? Array.from({ length: rng.int(3) }, () => randomInit(rng, field.message, depth + 1))
          : undefined;
      if (field.listKind !== 'scalar' || field.scalar !== ScalarType.UINT32) return undefined;
      return Array.from({ length: pick([0, 1, 3, 200]) }, () => pick([0, 127, 128, 16_384, 151_935, 4_294_967_295]));
    case 'scalar':
      switch (field.scalar) {
        case ScalarType.STRING:
          return pick(['', 'r-1', 'cmpl-é漢字🙂', 'a\uD800b', 'x'.repeat(300)]);
        case ScalarType.BYTES:
          return Uint8Array.from({ length: pick([0, 1, 40]) }, (_, k) => k * 7);
        case ScalarType.BOOL:
          return rng.int(2) === 0;
        case ScalarType.DOUBLE:
          return pick([0, -0, 1.5, -2.25, Number.NaN, Number.POSITIVE_INFINITY, 1e300, Date.now() + 1000]);
        case ScalarType.FLOAT:
          return pick([0, -0, 0.7, 1, -3.5, Number.NaN, 3.4e38, 1e-40]);
        case ScalarType.UINT32:
          return pick([0, 1, 64, 300, 2 ** 31, 4_294_967_295]);
        case ScalarType.INT32:
          return pick([0, 1, 300, 2_147_483_647]);
        case ScalarType.UINT64:
          return pick([0n, 3n, 2n ** 35n, 2n ** 64n - 1n]);
        default:
          return undefined;
      }
    default:
      return undefined;
  }
}

describe('encodeRequest', () => {
  it('writes the bytes toBinary writes, for random messages of every request type', () => {
    const rng = createRng(14);
    const schemas = file_tandem_v1_worker.services.flatMap((service) => service.methods.map((m) => m.input));
    expect(schemas).toContain(GenerateRequestSchema);
    for (const schema of schemas) {
      for (let i = 0; i < 300; i++) {
        const init = randomInit(rng, schema);
        expect(Buffer.from(encodeRequest(schema, init)).toString('hex'), `${schema.typeName} ${i}`).toBe(
          Buffer.from(reference(schema, init)).toString('hex'),
        );
      }
    }
  });

  it('decodes to the message toBinary writes, token ids of every varint length included', () => {
    const tokenIds = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455, 268_435_456, 4_294_967_295];
    for (let i = 0; i < 1000; i++) tokenIds.push((i * 2_654_435_761) % 151_936);
    const init = {
      requestId: 'r-1',
      tokenIds,
      sampling: { maxTokens: 64, temperature: 0.5, stopTokenIds: [151_645, 7], seed: 3n },
    };
    const fast = encodeRequest(GenerateRequestSchema, init);
    expect(Buffer.from(fast).equals(Buffer.from(reference(GenerateRequestSchema, init)))).toBe(true);
    expect(fromBinary(GenerateRequestSchema, fast).tokenIds).toEqual(tokenIds);
    const typed = encodeRequest(GenerateRequestSchema, { ...init, tokenIds: Uint32Array.from(tokenIds) });
    expect(Buffer.from(typed).equals(Buffer.from(fast))).toBe(true);
  });

  it('leaves values it does not take as they are to protobuf-es: the same bytes, or the same refusal', () => {
    const converted = [
      { requestId: 'r-1', sampling: { seed: 5 } }, // a uint64 as a number
      { requestId: 'r-2', deadlineUnixMs: undefined, sampling: { maxTokens: 2, temperature: 1 } },
      create(GenerateRequestSchema, { requestId: 'r-3', tokenIds: [1, 2] }), // a message already created
    ];
    for (const init of converted)
      expect(
        Buffer.from(encodeRequest(GenerateRequestSchema, init)).equals(
          Buffer.from(reference(GenerateRequestSchema, init)),
        ),
      ).toBe(true);
    for (const init of [
      { sampling: { maxTokens: -1 } },
      { sampling: { temperature: 1e39 } },
      { sampling: { maxTokens: 1.5 } },
    ])
      expect(() => encodeRequest(GenerateRequestSchema, init)).toThrow();
  });

  it("leaves the caller's object alone and takes messages with no ids, or none set", () => {
    const init = { requestId: 'r-2', tokenIds: [5, 6] };
    encodeRequest(PrefillRequestSchema, init);
    expect(init).toEqual({ requestId: 'r-2', tokenIds: [5, 6] });
    for (const value of [{ requestId: 'r-3' }, { requestId: 'r-4', tokenIds: [] }, {}])
      expect(
        Buffer.from(encodeRequest(PrefillRequestSchema, value)).equals(
          Buffer.from(reference(PrefillRequestSchema, value)),
        ),
      ).toBe(true);
  });

  it('refuses token ids that are not uint32s, as protobuf-es does, instead of wrapping them', () => {
    for (const tokenIds of [[1.5, 2], [-1, 2], [2 ** 33, 1], [Number.NaN], Float64Array.of(3, -4)]) {
      const value = { requestId: 'r-5', tokenIds };
      expect(() => reference(GenerateRequestSchema, value)).toThrow(/invalid uint32/);
      expect(() => encodeRequest(GenerateRequestSchema, value)).toThrow(/invalid uint32/);
    }
  });
});
