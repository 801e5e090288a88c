import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.ts';
import type { BlockStored, ExternalBlockHash, KvCacheEvent, KvEventBatch } from '../../proto/kv-events/types.ts';
import { createBlockHasher } from '../hashing/index.ts';
import { createPreciseIndex } from './precise-index.ts';
import { tenantId } from './types.ts';

const BS = 4;
const hasher = createBlockHasher(1337);
const tokens = (blocks: number, start = 1) => Array.from({ length: blocks * BS }, (_, i) => start + i);
const batch = (...events: KvCacheEvent[]): KvEventBatch => ({ ts: 1, events, dataParallelRank: null });
const stored = (
  hashes: ExternalBlockHash[],
  parent: ExternalBlockHash | null,
  tokenIds: number[],
  extra: Partial<BlockStored> = {},
): BlockStored => ({
  type: 'BlockStored',
  blockHashes: hashes,
  parentBlockHash: parent,
  tokenIds,
  blockSize: BS,
  loraId: null,
  medium: 'GPU',
  loraName: null,
  extraKeys: null,
  groupIdx: null,
  ...extra,
});
const removed = (hashes: ExternalBlockHash[], groupIdx: number | null = null): KvCacheEvent => ({
  type: 'BlockRemoved',
  blockHashes: hashes,
  medium: 'GPU',
  groupIdx,
});
const newIndex = (logger = createLogger({ name: 'test', level: 'silent' })) =>
  createPreciseIndex({ hashSeed: 1337, defaultBlockSize: BS, logger });
const overlap = (index: ReturnType<typeof newIndex>, prompt: number[], ...workers: string[]) => [
  ...index.overlaps(hasher.hashPrompt(prompt, BS), workers),
];

describe('precise KV index', () => {
  it('indexes stored runs chained across events and answers the longest prefix per worker', () => {
    const index = newIndex();
    const prompt = tokens(6);
    index.applyBatch('a', batch(stored([1n, 2n], null, prompt.slice(0, 8)), stored([3n, 4n], 2n, prompt.slice(8, 16))));
    index.applyBatch('b', batch(stored([11n], null, prompt.slice(0, 4))));
    expect(overlap(index, prompt, 'a', 'b', 'c')).toEqual([4, 1, 0]);
    // A different continuation shares only the common blocks.
    expect(overlap(index, [...prompt.slice(0, 8), ...tokens(2, 500)], 'a', 'b')).toEqual([2, 1]);
  });

  it('applies BlockRemoved through the engine-hash map and AllBlocksCleared for one worker only', () => {
    const index = newIndex();
    const prompt = tokens(3);
    index.applyBatch('a', batch(stored([1n, 2n, 3n], null, prompt)));
    index.applyBatch('b', batch(stored([1n, 2n, 3n], null, prompt)));
    index.applyBatch('a', batch(removed([2n])));
    expect(overlap(index, prompt, 'a', 'b')).toEqual([1, 3]);
    index.applyBatch('b', batch({ type: 'AllBlocksCleared' }));
    expect(overlap(index, prompt, 'a', 'b')).toEqual([1, 0]);
    expect(index.workerStats('b')).toMatchObject({
      indexedBlocks: 0,
      clears: 1,
      lastClearReason: 'AllBlocksCleared event',
    });
  });

  it('treats an int hash, its signed form and its 32-byte digest as the same engine block', () => {
    const index = newIndex();
    const hash = 0xfedcba9876543210n;
    const digest = new Uint8Array(32);
    new DataView(digest.buffer).setBigUint64(24, hash, false);
    index.applyBatch(
      'a',
      batch(stored([hash], null, tokens(1)), stored([0x1111n], BigInt.asIntN(64, hash), tokens(1, 5))),
    );
    expect(overlap(index, tokens(2), 'a')).toEqual([2]);
    index.applyBatch('a', batch(removed([digest])));
    expect(overlap(index, tokens(2), 'a')).toEqual([0]);
    expect(index.workerStats('a')).toMatchObject({ removedUnknown: 0, indexedBlocks: 1 });
  });

  it('rejects a BlockStored with another block size loudly: counted, logged, returned and shown', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const index = newIndex(createLogger({ name: 'test', level: 'info', format: 'json', destination }));
    index.registerWorker('a', { blockSize: BS });
    const result = index.applyBatch('a', batch({ ...stored([1n], null, tokens(2)), blockSize: 2 * BS }));
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]!.code).toBe('failed_precondition');
    expect(result.errors[0]!.message).toMatch(/8 tokens.*configured for 4/);
    expect(index.workerStats('a')).toMatchObject({
      blockSizeErrors: 1,
      blockSizeMismatch: { expected: 4, got: 8 },
      indexedBlocks: 0,
    });
    expect(lines.some((line) => line.includes('"level":50') && line.includes('configured for 4'))).toBe(true);
  });

  it('parks a run whose parent is unknown and attaches it when the parent arrives', () => {
    const index = newIndex();
    const prompt = tokens(3);
    index.applyBatch('a', batch(stored([2n, 3n], 1n, prompt.slice(4))));
    expect(overlap(index, prompt, 'a')).toEqual([0]);
    expect(index.workerStats('a')).toMatchObject({ parentMissing: 1, parkedRuns: 1 });
    index.applyBatch('a', batch(stored([1n], null, prompt.slice(0, 4))));
    expect(overlap(index, prompt, 'a')).toEqual([3]);
    expect(index.workerStats('a')).toMatchObject({ parkedResolved: 1, parkedRuns: 0 });
  });

  it('drops parked runs oldest first past the bound and counts them', () => {
    const index = createPreciseIndex({ hashSeed: 1337, defaultBlockSize: BS, maxParkedRuns: 2 });
    for (let i = 0; i < 5; i++) index.applyBatch('a', batch(stored([100n + BigInt(i)], 50n + BigInt(i), tokens(1))));
    expect(index.workerStats('a')).toMatchObject({ parentMissing: 5, parkedDropped: 3, parkedRuns: 2 });
  });

  it('keeps a block while a second copy or another KV-cache group still holds it', () => {
    const index = newIndex();
    const prompt = tokens(1);
    index.applyBatch(
      'a',
      batch(stored([1n], null, prompt), stored([1n], null, prompt), stored([1n], null, prompt, { groupIdx: 1 })),
    );
    index.applyBatch('a', batch(removed([1n])));
    expect(overlap(index, prompt, 'a')).toEqual([1]);
    index.applyBatch('a', batch(removed([1n])));
    expect(overlap(index, prompt, 'a')).toEqual([1]);
    index.applyBatch('a', batch(removed([1n], 1)));
    expect(overlap(index, prompt, 'a')).toEqual([0]);
  });

  it('never matches a plain prompt against salted or other-medium blocks, and matches LoRA blocks in their namespace', () => {
    const index = newIndex();
    const prompt = tokens(1);
    index.applyBatch('salted', batch(stored([1n], null, prompt, { extraKeys: [['cache-salt']] })));
    index.applyBatch('cpu', batch(stored([1n], null, prompt, { medium: 'CPU' })));
    index.applyBatch('plain', batch(stored([1n], null, prompt, { extraKeys: [null] })));
    index.applyBatch('lora', batch(stored([1n], null, prompt, { loraName: 'ad', extraKeys: [['ad']] })));
    expect(overlap(index, prompt, 'salted', 'cpu', 'plain', 'lora')).toEqual([0, 0, 1, 0]);
    expect([...index.overlaps(hasher.hashPrompt(prompt, BS, 'ad'), ['plain', 'lora'])]).toEqual([0, 1]);
    expect(index.workerStats('cpu')!.otherMediumEvents).toBe(1);
  });

  it('clears a restarted worker and forgets a removed one without touching the others', () => {
    const index = newIndex();
    const prompt = tokens(2);
    for (const w of ['a', 'b']) index.applyBatch(w, batch(stored([1n, 2n], null, prompt)));
    index.clearWorker('a', 'restart');
    expect(overlap(index, prompt, 'a', 'b')).toEqual([0, 2]);
    expect(index.workerStats('a')).toMatchObject({
      clears: 1,
      lastClearReason: 'restart',
      indexedBlocks: 0,
      engineBlocks: 0,
    });
    index.removeWorker('b');
    expect(index.workerStats('b')).toBeUndefined();
    expect(index.stats()).toMatchObject({ blocks: 0, tenants: 1 });
  });

  it('forgets a reset worker at once and releases its blocks over the batches that follow', () => {
    const index = createPreciseIndex({
      hashSeed: 1337,
      defaultBlockSize: BS,
      logger: createLogger({ name: 'test', level: 'silent' }),
      drainEntries: 64,
    });
    const long = tokens(3000);
    const hashes = Array.from({ length: 3000 }, (_, i) => BigInt(i + 1));
    index.applyBatch('a', batch(stored(hashes, null, long)));
    index.applyBatch('b', batch(stored(hashes.slice(0, 1000), null, long.slice(0, 1000 * BS))));
    expect(index.stats().blocks).toBe(3000);
    index.clearWorker('a', 'restart');
    // Invisible at once, exact for everyone else; the store still holds a's blocks until released.
    expect(overlap(index, long, 'a', 'b')).toEqual([0, 1000]);
    expect(index.workerStats('a')).toMatchObject({ indexedBlocks: 0, engineBlocks: 0, clears: 1 });
    expect(index.stats().blocks).toBeGreaterThan(2000);
    // a stores again while its old blocks drain: its new blocks count, its old ones never.
    index.applyBatch('a', batch(stored([9001n, 9002n], null, long.slice(0, 2 * BS))));
    expect(overlap(index, long, 'a', 'b')).toEqual([2, 1000]);
    let batches = 1;
    for (let i = 0; index.stats().blocks > 1000 && i < 200; i++, batches++)
      index.applyBatch('b', batch(removed([99_999n])));
    expect(index.stats().blocks).toBe(1000);
    expect(batches).toBeGreaterThan(10);
    expect(overlap(index, long, 'a', 'b')).toEqual([2, 1000]);
    expect(index.workerStats('a')!.indexedBlocks).toBe(2);
    // Removals after the reset are unknown to a (its engine map started over).
    index.applyBatch('a', batch(removed([1n, 9001n])));
    expect(index.workerStats('a')).toMatchObject({ removedUnknown: 1, indexedBlocks: 1 });
  });

  it('keeps data-parallel ranks of one worker apart as separate tenants', () => {
    const index = newIndex();
    index.applyBatch(tenantId('w', 1), batch(stored([1n], null, tokens(1))));
    expect(tenantId('w', 0)).toBe('w');
    expect(tenantId('w', null)).toBe('w');
    expect(overlap(index, tokens(1), 'w', 'w@1')).toEqual([0, 1]);
  });

  it('answers a query over blocks of another size with no overlap', () => {
    const index = newIndex();
    index.registerWorker('big', { blockSize: 8 });
    index.applyBatch('big', batch({ ...stored([1n], null, tokens(2)), blockSize: 8 }));
    expect([...index.overlaps(hasher.hashPrompt(tokens(2), 8), ['big'])]).toEqual([1]);
    expect([...index.overlaps(hasher.hashPrompt(tokens(2), 4), ['big'])]).toEqual([0]);
  });
});
