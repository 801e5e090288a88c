import { TandemError } from '../../common/errors.ts';
import type { BlockRemoved, BlockStored, KvEventBatch } from '../../proto/kv-events/types.ts';
import { createBlockHasher, hashBlockInto, type BlockHashChain, type BlockHasher } from '../hashing/index.ts';
import { BaseIndex, type BaseIndexOptions, type MutableStats, type TenantBase } from './base-index.ts';
import { engineKeyInto, isSalted, keyHex, saltInto } from './engine-key.ts';
import { HashTable64 } from './hash-table-64.ts';
import { ParkedRuns, type ParkedRun } from './parked-runs.ts';
import type { ApplyResult } from './types.ts';

export interface PreciseIndexOptions extends BaseIndexOptions {
  /** BlockStored runs kept per tenant while they wait for an unknown parent (default 256). */
  readonly maxParkedRuns?: number;
}

interface PreciseTenant extends TenantBase {
  /** Engine key -> store entry; aux = how many times the engine stored that hash, net of removals. */
  engine: HashTable64;
  /** Store entry -> extra engine keys of this tenant mapping to it (beyond the first). */
  extraRefs: Map<number, number>;
  readonly parked: ParkedRuns;
}

/** The medium vLLM tags device blocks with; null (older engines) means the device too. */
const DEVICE_MEDIUM = 'GPU';

/**
 * Precise mode: the index follows each worker's KV events (vLLM's BlockStored, BlockRemoved,
 * AllBlocksCleared; PROTOCOLS.md 1.4). BlockStored computes the router's own hashes from the
 * event's token ids, chained from the parent's router hash; the per-tenant map from engine
 * hash to router block is what lets BlockRemoved (hashes only) work.
 *
 * Deliberate choices: a block-size mismatch rejects the event loudly (counted, logged,
 * returned as an error, shown in workerStats); a run whose parent is unknown is parked until the
 * parent arrives (bounded, counted); removals of unknown hashes are counted and ignored; events
 * for a medium other than GPU are skipped and counted; a hash stored twice counts twice and
 * needs two removals, as vLLM can cache two physical blocks with one hash.
 */
export class PreciseIndex extends BaseIndex<PreciseTenant> {
  readonly mode = 'precise' as const;
  private readonly hasher: BlockHasher;
  private readonly maxParkedRuns: number;
  private keys = new Uint32Array(256);
  private readonly tmp = new Uint32Array(2);

  constructor(options: PreciseIndexOptions) {
    super(options);
    this.hasher = createBlockHasher(this.hashSeed);
    this.maxParkedRuns = options.maxParkedRuns ?? 256;
  }

  protected createTenant(id: string, slot: number, blockSize: number, stats: MutableStats): PreciseTenant {
    return {
      id,
      slot,
      blockSize,
      stats,
      engine: new HashTable64(1024),
      extraRefs: new Map(),
      parked: new ParkedRuns(this.maxParkedRuns),
    };
  }

  /** O(1) in the tenant's blocks: they are released later, a few thousand per batch (retireBlocks). */
  protected dropBlocks(tenant: PreciseTenant): void {
    this.retireBlocks(tenant);
    tenant.engine = new HashTable64(1024);
    tenant.extraRefs = new Map();
    tenant.parked.clear();
    tenant.stats.parkedRuns = 0;
  }

  protected override engineBlocksOf(tenant: PreciseTenant): number {
    return tenant.engine.size;
  }

  applyBatch(id: string, batch: KvEventBatch): ApplyResult {
    const tenant = this.tenant(id);
    const errors: TandemError[] = [];
    const before = { stored: tenant.stats.blocksStored, removed: tenant.stats.blocksRemoved };
    for (const event of batch.events) {
      switch (event.type) {
        case 'BlockStored': {
          const error = this.onStored(tenant, event);
          if (error) errors.push(error);
          break;
        }
        case 'BlockRemoved':
          this.onRemoved(tenant, event);
          break;
        case 'AllBlocksCleared':
          this.dropBlocks(tenant);
          tenant.stats.clears++;
          tenant.stats.lastClearReason = 'AllBlocksCleared event';
          break;
      }
      tenant.stats.eventsApplied++;
    }
    tenant.stats.batchesApplied++;
    tenant.stats.lastEventTs = batch.ts;
    tenant.stats.parkedRuns = tenant.parked.count;
    this.store.drainRetired(this.drainEntries);
    return {
      stored: tenant.stats.blocksStored - before.stored,
      removed: tenant.stats.blocksRemoved - before.removed,
      errors,
    };
  }

  recordRouted(_id: string, _chain: BlockHashChain, _nowMs: number): void {
    // Precise mode learns from the workers' events, not from its own guesses.
  }

  expire(_nowMs: number): number {
    return 0;
  }

  private onStored(tenant: PreciseTenant, event: BlockStored): TandemError | undefined {
    if (event.medium !== null && event.medium !== DEVICE_MEDIUM) {
      tenant.stats.otherMediumEvents++;
      return undefined;
    }
    if (event.blockSize !== tenant.blockSize) return this.blockSizeMismatch(tenant, event.blockSize);
    const blocks = event.blockHashes.length;
    if (blocks === 0) return undefined;
    if (event.tokenIds.length !== blocks * event.blockSize) {
      tenant.stats.malformedEvents++;
      this.logger.warn(
        { tenant: tenant.id, blocks, tokens: event.tokenIds.length, blockSize: event.blockSize },
        'BlockStored token count does not match its blocks; skipped',
      );
      return undefined;
    }
    if (this.keys.length < blocks * 2) this.keys = new Uint32Array(blocks * 4);
    const keys = this.keys.subarray(0, blocks * 2); // scratch: copied when the run is parked
    for (let k = 0; k < blocks; k++) engineKeyInto(event.blockHashes[k]!, event.groupIdx, keys, 2 * k);
    const run = {
      keys,
      tokens: event.tokenIds,
      blockSize: event.blockSize,
      loraName: event.loraName,
      extraKeys: event.extraKeys,
    };

    if (event.parentBlockHash === null) {
      const [lo, hi] = this.hasher.root(event.loraName ?? undefined);
      this.attach(tenant, run, null, lo, hi);
      return undefined;
    }
    engineKeyInto(event.parentBlockHash, event.groupIdx, this.tmp, 0);
    const parentLo = this.tmp[0]!;
    const parentHi = this.tmp[1]!;
    const parentSlot = tenant.engine.find(parentLo, parentHi);
    if (parentSlot === -1) {
      tenant.stats.parentMissing++;
      const dropped = tenant.parked.park({
        ...run,
        keys: keys.slice(),
        parentLo,
        parentHi,
        removed: new Uint8Array(blocks),
      });
      tenant.stats.parkedDropped += dropped.length;
      if (tenant.stats.parentMissing === 1 || tenant.stats.parentMissing % 1000 === 0) {
        this.logger.warn(
          { tenant: tenant.id, parent: keyHex(parentLo, parentHi), parentMissing: tenant.stats.parentMissing },
          'BlockStored parent not in the index; run parked until it arrives',
        );
      }
      return undefined;
    }
    const parentEntry = tenant.engine.valueAt(parentSlot);
    this.attach(tenant, run, null, this.store.loOf(parentEntry), this.store.hiOf(parentEntry));
    return undefined;
  }

  /**
   * Hashes a run's blocks chained from the parent's router hash and stores those not marked
   * removed; then attaches, the same way, every parked run waiting for one of its blocks.
   */
  private attach(
    tenant: PreciseTenant,
    first: Omit<ParkedRun, 'parentLo' | 'parentHi' | 'removed'>,
    firstRemoved: Uint8Array | null,
    parentLo: number,
    parentHi: number,
  ): void {
    const work: {
      run: Omit<ParkedRun, 'parentLo' | 'parentHi' | 'removed'>;
      removed: Uint8Array | null;
      lo: number;
      hi: number;
    }[] = [{ run: first, removed: firstRemoved, lo: parentLo, hi: parentHi }];
    const out = this.tmp;
    while (work.length > 0) {
      const { run, removed, lo: rootLo, hi: rootHi } = work.pop()!;
      let lo = rootLo;
      let hi = rootHi;
      const blocks = run.keys.length >>> 1;
      for (let k = 0; k < blocks; k++) {
        hashBlockInto(this.hashSeed, lo, hi, run.tokens, k * run.blockSize, run.blockSize, out, 0);
        const extra = run.extraKeys?.[k];
        if (extra !== undefined && isSalted(extra, run.loraName))
          saltInto(this.hashSeed, out[0]!, out[1]!, extra, out, 0);
        lo = out[0]!;
        hi = out[1]!;
        const keyLo = run.keys[2 * k]!;
        const keyHi = run.keys[2 * k + 1]!;
        if (removed === null || removed[k] === 0) this.storeBlock(tenant, keyLo, keyHi, lo, hi);
        if (tenant.parked.count > 0) {
          for (const child of tenant.parked.takeChildren(keyLo, keyHi)) {
            tenant.stats.parkedResolved++;
            work.push({ run: child, removed: child.removed, lo, hi });
          }
        }
      }
    }
  }

  private storeBlock(tenant: PreciseTenant, keyLo: number, keyHi: number, lo: number, hi: number): void {
    tenant.stats.blocksStored++;
    const slot = tenant.engine.find(keyLo, keyHi);
    if (slot !== -1) {
      const entry = tenant.engine.valueAt(slot);
      if (this.store.loOf(entry) !== lo || this.store.hiOf(entry) !== hi) tenant.stats.conflicts++;
      tenant.engine.setAuxAt(slot, tenant.engine.auxAt(slot) + 1);
      return;
    }
    const entry = this.store.ensure(lo, hi);
    if (!this.store.hold(entry, tenant.slot)) tenant.extraRefs.set(entry, (tenant.extraRefs.get(entry) ?? 0) + 1);
    tenant.engine.set(keyLo, keyHi, entry, 1);
  }

  private onRemoved(tenant: PreciseTenant, event: BlockRemoved): void {
    if (event.medium !== null && event.medium !== DEVICE_MEDIUM) {
      tenant.stats.otherMediumEvents++;
      return;
    }
    const key = this.tmp;
    for (const hash of event.blockHashes) {
      engineKeyInto(hash, event.groupIdx, key, 0);
      const keyLo = key[0]!;
      const keyHi = key[1]!;
      const slot = tenant.engine.find(keyLo, keyHi);
      if (slot === -1) {
        if (tenant.parked.markRemoved(keyLo, keyHi)) tenant.stats.blocksRemoved++;
        else tenant.stats.removedUnknown++;
        continue;
      }
      tenant.stats.blocksRemoved++;
      const times = tenant.engine.auxAt(slot);
      if (times > 1) {
        tenant.engine.setAuxAt(slot, times - 1);
        continue;
      }
      const entry = tenant.engine.valueAt(slot);
      tenant.engine.deleteAt(slot);
      const extra = tenant.extraRefs.get(entry);
      if (extra === undefined) this.store.release(entry, tenant.slot);
      else if (extra === 1) tenant.extraRefs.delete(entry);
      else tenant.extraRefs.set(entry, extra - 1);
    }
  }

  private blockSizeMismatch(tenant: PreciseTenant, got: number): TandemError {
    const stats = tenant.stats;
    stats.blockSizeErrors++;
    stats.blockSizeMismatch = { expected: tenant.blockSize, got };
    const message = `worker ${tenant.id} stores KV blocks of ${got} tokens but its pool is configured for ${tenant.blockSize}: its events are rejected and the router sees no cache on it until the block sizes match`;
    if (stats.blockSizeErrors === 1 || stats.blockSizeErrors % 1000 === 0) {
      this.logger.error(
        { tenant: tenant.id, expected: tenant.blockSize, got, occurrences: stats.blockSizeErrors },
        message,
      );
    }
    return new TandemError('failed_precondition', message, { param: 'block_size' });
  }
}

export function createPreciseIndex(options: PreciseIndexOptions): PreciseIndex {
  return new PreciseIndex(options);
}
