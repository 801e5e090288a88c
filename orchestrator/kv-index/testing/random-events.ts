import type { Rng } from '../../../common/rng.ts';
import {
  blockStored,
  type ExternalBlockHash,
  type KvCacheEvent,
  type KvEventBatch,
} from '../../../proto/kv-events/types.ts';

/**
 * Seeded random KV-event streams for the index conformance suite: a few simulated engines
 * serve prompts drawn from shared-prefix groups and emit what vLLM would (BlockStored runs with
 * parents, evictions, clears), mixed with every awkward shape the codec may deliver: hashes as
 * unsigned, signed and byte-string values (one block's hash may arrive in different shapes),
 * group ids, extra keys and LoRA names, children before their parents, removals of unknown
 * hashes, orphans, wrong block sizes, other media, malformed token counts, duplicates.
 */
export interface SharedPrefixPrompts {
  /** A prompt of whole blocks of `blockSize` tokens, sharing prefixes with others. */
  prompt(blockSize: number): number[];
}

export function createSharedPrefixPrompts(rng: Rng, groups = 6, prefixBlocks = 10): SharedPrefixPrompts {
  const vocabulary = 50;
  const prefixes = Array.from({ length: groups }, () =>
    Array.from({ length: prefixBlocks * 64 }, () => rng.int(vocabulary)),
  );
  const tails = Array.from({ length: 4 }, () => Array.from({ length: 64 * 4 }, () => rng.int(vocabulary)));
  return {
    prompt(blockSize) {
      const prefix = rng.pick(prefixes).slice(0, blockSize * (1 + rng.int(prefixBlocks)));
      const tail =
        rng.next() < 0.5
          ? rng.pick(tails).slice(0, blockSize * rng.int(4))
          : Array.from({ length: blockSize * rng.int(3) }, () => rng.int(vocabulary));
      return [...prefix, ...tail];
    },
  };
}

interface CachedBlock {
  hash: bigint;
}

/** One engine as the random event stream sees it: what it caches, keyed by the token prefix up to each block's end. */
export interface KvEventSource {
  readonly tenant: string;
  readonly blockSize: number;
  readonly cached: Map<string, CachedBlock>;
  /** Parent runs held back to be delivered in a later batch (their children went first). */
  readonly deferred: KvCacheEvent[];
  /** Hashes of blocks sent with a parent that never comes. */
  readonly orphans: bigint[];
}

export function createKvEventSource(tenant: string, blockSize: number): KvEventSource {
  return { tenant, blockSize, cached: new Map(), deferred: [], orphans: [] };
}

/** FNV-1a 64 of a string: the engine's own (deterministic, content-addressed) block hash. */
function engineHash(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) h = BigInt.asUintN(64, (h ^ BigInt(text.charCodeAt(i))) * 0x100000001b3n);
  return h;
}

/** The hash in a random wire shape: unsigned, signed (old engines) or a 32-byte digest. */
function shaped(rng: Rng, hash: bigint): ExternalBlockHash {
  const roll = rng.next();
  if (roll < 0.5) return hash;
  if (roll < 0.7) return BigInt.asIntN(64, hash);
  if (roll < 0.8 && hash < 2n ** 32n) return hash;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 24; i++) bytes[i] = rng.int(256);
  new DataView(bytes.buffer).setBigUint64(24, hash, false);
  return bytes;
}

/** Events for serving `prompt` on `engine`: the uncached tail as one or two runs (maybe out of order). */
function serve(rng: Rng, engine: KvEventSource, prompt: readonly number[], awkward: boolean): KvCacheEvent[] {
  const bs = engine.blockSize;
  const blocks = Math.floor(prompt.length / bs);
  const keys = Array.from(
    { length: blocks },
    (_, k) => `${engine.tenant.length % 2}:${prompt.slice(0, (k + 1) * bs).join(',')}`,
  );
  let first = 0;
  while (first < blocks && engine.cached.has(keys[first]!)) first++;
  if (first === blocks) return [];
  const hashes = keys.map((key) => engineHash(key));
  const runs: [number, number][] = [];
  const split = blocks - first > 1 && rng.next() < 0.4 ? first + 1 + rng.int(blocks - first - 1) : blocks;
  runs.push([first, split]);
  if (split < blocks) runs.push([split, blocks]);
  const events: KvCacheEvent[] = runs.map(([from, to]) => {
    const event = blockStored({
      blockHashes: hashes.slice(from, to).map((h) => shaped(rng, h)),
      parentBlockHash: from === 0 ? null : shaped(rng, hashes[from - 1]!),
      tokenIds: prompt.slice(from * bs, to * bs),
      blockSize: bs,
      medium: rng.next() < 0.2 ? null : 'GPU',
      groupIdx: rng.next() < 0.2 ? 0 : null,
    });
    if (!awkward) return event;
    const roll = rng.next();
    if (roll < 0.1) return { ...event, extraKeys: Array.from({ length: to - from }, () => null) };
    if (roll < 0.15 && from === 0)
      return { ...event, extraKeys: [['salt-a'], ...Array.from({ length: to - from - 1 }, () => null)] };
    if (roll < 0.2)
      return { ...event, loraName: 'lora-x', extraKeys: Array.from({ length: to - from }, () => ['lora-x']) };
    return event;
  });
  for (let k = first; k < blocks; k++) engine.cached.set(keys[k]!, { hash: hashes[k]! });
  // Children before parents: the codec delivers what it gets, in the order it gets it. The
  // parent may even come in a later batch, after removals of the waiting child's blocks.
  if (awkward && events.length === 2) {
    const roll = rng.next();
    if (roll < 0.3) events.reverse();
    else if (roll < 0.6) engine.deferred.push(events.shift()!);
  }
  return events;
}

/** One batch of a random stream for `engine`. */
export function randomBatch(
  rng: Rng,
  engine: KvEventSource,
  prompts: SharedPrefixPrompts,
  ts: number,
  awkward = true,
): KvEventBatch {
  const events: KvCacheEvent[] = [];
  const count = 1 + rng.int(3);
  for (let e = 0; e < count; e++) {
    const roll = rng.next();
    const cachedKeys = () => [...engine.cached.keys()];
    if (awkward && engine.deferred.length > 0 && rng.next() < 0.3) {
      events.push(engine.deferred.shift()!);
    } else if (roll < 0.55 || !awkward) {
      events.push(...serve(rng, engine, prompts.prompt(engine.blockSize), awkward));
    } else if (roll < 0.75) {
      const keys = cachedKeys();
      const victims = Array.from({ length: Math.min(keys.length, 1 + rng.int(4)) }, () => rng.pick(keys));
      const unique = [...new Set(victims)];
      events.push({
        type: 'BlockRemoved',
        blockHashes: unique.map((k) => shaped(rng, engine.cached.get(k)!.hash)),
        medium: 'GPU',
        groupIdx: null,
      });
      for (const key of unique) engine.cached.delete(key);
    } else if (roll < 0.78) {
      events.push({ type: 'AllBlocksCleared' });
      engine.cached.clear();
      engine.orphans.length = 0;
    } else if (roll < 0.82) {
      const hash =
        engine.orphans.length > 0 && rng.next() < 0.5
          ? engine.orphans.splice(rng.int(engine.orphans.length), 1)[0]!
          : engineHash(`unknown-${rng.int(1e9)}`);
      events.push({ type: 'BlockRemoved', blockHashes: [shaped(rng, hash)], medium: null, groupIdx: null });
    } else if (roll < 0.85) {
      const bs = engine.blockSize * 2;
      events.push(
        blockStored({
          blockHashes: [engineHash(`big-${rng.int(1e9)}`)],
          parentBlockHash: null,
          tokenIds: Array.from({ length: bs }, () => rng.int(50)),
          blockSize: bs,
        }),
      );
    } else if (roll < 0.88) {
      const prompt = prompts.prompt(engine.blockSize).slice(0, engine.blockSize);
      if (prompt.length === engine.blockSize)
        events.push(
          blockStored({
            blockHashes: [engineHash(`cpu-${prompt.join(',')}`)],
            parentBlockHash: null,
            tokenIds: prompt,
            blockSize: engine.blockSize,
            medium: 'CPU',
          }),
        );
    } else if (roll < 0.91) {
      const tokens = Array.from({ length: engine.blockSize * 2 }, () => rng.int(50));
      const hashes = [engineHash(`orphan-${rng.int(1e9)}`), engineHash(`orphan-${rng.int(1e9)}`)];
      engine.orphans.push(...hashes);
      events.push(
        blockStored({
          blockHashes: hashes,
          parentBlockHash: engineHash(`lost-${rng.int(1e9)}`),
          tokenIds: tokens,
          blockSize: engine.blockSize,
        }),
      );
    } else if (roll < 0.93) {
      events.push(
        blockStored({
          blockHashes: [engineHash(`bad-${rng.int(1e9)}`)],
          parentBlockHash: null,
          tokenIds: [1, 2, 3].slice(0, Math.max(0, engine.blockSize - 1)),
          blockSize: engine.blockSize,
        }),
      );
    } else if (roll < 0.97) {
      // The same blocks stored again, as a second physical copy or as KV-cache group 1.
      const prompt = prompts.prompt(engine.blockSize);
      const again = serve(rng, createKvEventSource(engine.tenant, engine.blockSize), prompt, false);
      events.push(
        ...again.map((event) => (event.type === 'BlockStored' && rng.next() < 0.5 ? { ...event, groupIdx: 1 } : event)),
      );
    } else {
      events.push(blockStored({ blockHashes: [], parentBlockHash: null, tokenIds: [], blockSize: engine.blockSize }));
    }
  }
  return { ts, events, dataParallelRank: null };
}
