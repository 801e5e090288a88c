/**
 * Run by determinism.test.ts in a separate Node process: builds the reference model from a seed,
 * prefills a seeded prompt, and prints the SHA-256 of the prompt's logical KV bytes and of the
 * last logits as JSON, so the test can compare what two processes computed.
 *
 *   node --import tsx workers/reference/model/kv-digest-child.ts <seed> <promptTokens> <chunkSize>
 */
import { createHash } from 'node:crypto';
import { createRng } from '../../../common/rng.ts';
import { createKvBlockPool, sequenceKvBytes } from '../kv/index.ts';
import { prefillSequence } from './generate.ts';
import { createReferenceModel } from './model.ts';

export function kvDigest(
  seed: string,
  promptTokens: number,
  chunkSize: number,
  firstBlockId = 0,
): { kv: string; logits: string } {
  const model = createReferenceModel({ seed });
  const pool = createKvBlockPool({
    layout: model.kvLayout(16),
    numBlocks: firstBlockId + Math.ceil(promptTokens / 16),
  });
  const rng = createRng(`prompt/${seed}`);
  const prompt = Array.from({ length: promptTokens }, () => rng.int(151936));
  const sequence = { blockTable: [] as number[], numTokens: 0 };
  let next = firstBlockId;
  const logits = prefillSequence(model, pool, sequence, prompt, () => next++, chunkSize);
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
  return { kv: sha(sequenceKvBytes(pool, sequence)), logits: sha(new Uint8Array(logits.buffer)) };
}

if (process.argv[1]?.endsWith('kv-digest-child.ts')) {
  const [seed = '0', promptTokens = '100', chunkSize = '100'] = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(kvDigest(seed, Number(promptTokens), Number(chunkSize)))}\n`);
}
