import type { Rng } from '../../common/rng.ts';
import { blockStored, type KvEventBatch } from '../../proto/kv-events/types.ts';

/**
 * A synthetic fleet state for the routing-core benchmark: `documents` prompts of
 * `blocksPerDocument` blocks, each opening with one of `systemPrompts` shared prefixes of
 * `systemBlocks` blocks, each cached on one worker. The KV events a vLLM engine would have
 * published to build that state come pre-encoded as batches of `blocksPerEvent`-block
 * BlockStored runs chained by parent hash (engine hashes are uint64 bigints, vLLM's default).
 */
export interface FixtureOptions {
  readonly workers: number;
  readonly blockSize: number;
  readonly documents: number;
  readonly blocksPerDocument: number;
  readonly systemPrompts: number;
  readonly systemBlocks: number;
  readonly blocksPerEvent: number;
}

export interface Fixture {
  readonly workerIds: readonly string[];
  /** Every document's tokens. */
  readonly documents: readonly number[][];
  readonly systemPrompts: readonly number[][];
  /** (worker, batch) in publication order. */
  readonly batches: readonly { readonly worker: string; readonly batch: KvEventBatch }[];
  /** Blocks carried by all BlockStored events. */
  readonly storedBlocks: number;
}

const VOCABULARY = 151_936;

export function buildFixture(rng: Rng, o: FixtureOptions): Fixture {
  const workerIds = Array.from({ length: o.workers }, (_, i) => `w${i}`);
  const systemPrompts = Array.from({ length: o.systemPrompts }, () =>
    Array.from({ length: o.systemBlocks * o.blockSize }, () => rng.int(VOCABULARY)),
  );
  const documents: number[][] = [];
  const batches: { worker: string; batch: KvEventBatch }[] = [];
  /** Per worker: system prompts it already holds (index -> engine hash of the last block). */
  const held = workerIds.map(() => new Map<number, bigint>());
  let nextHash = 1n;
  let storedBlocks = 0;
  let ts = 0;
  for (let d = 0; d < o.documents; d++) {
    const system = d % o.systemPrompts;
    const unique = Array.from({ length: (o.blocksPerDocument - o.systemBlocks) * o.blockSize }, () =>
      rng.int(VOCABULARY),
    );
    const tokens = [...systemPrompts[system]!, ...unique];
    documents.push(tokens);
    const w = rng.int(o.workers);
    let parent: bigint | null = held[w]!.get(system) ?? null;
    let from = parent === null ? 0 : o.systemBlocks;
    while (from < o.blocksPerDocument) {
      const to = Math.min(o.blocksPerDocument, from + o.blocksPerEvent);
      const hashes = Array.from({ length: to - from }, () => BigInt.asUintN(64, nextHash++ * 0x9e3779b97f4a7c15n));
      batches.push({
        worker: workerIds[w]!,
        batch: {
          ts: ts++,
          dataParallelRank: null,
          events: [
            blockStored({
              blockHashes: hashes,
              parentBlockHash: parent,
              tokenIds: tokens.slice(from * o.blockSize, to * o.blockSize),
              blockSize: o.blockSize,
            }),
          ],
        },
      });
      storedBlocks += hashes.length;
      if (from < o.systemBlocks && to >= o.systemBlocks) held[w]!.set(system, hashes[o.systemBlocks - 1 - from]!);
      parent = hashes[hashes.length - 1]!;
      from = to;
    }
  }
  return { workerIds, documents, systemPrompts, batches, storedBlocks };
}
