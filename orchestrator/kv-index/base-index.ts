import type { Logger } from '../../common/log.ts';
import { silentLogger } from '../../common/log.ts';
import type { KvEventBatch } from '../../proto/kv-events/types.ts';
import type { BlockHashChain } from '../hashing/index.ts';
import { BlockStore } from './block-store.ts';
import type { ApplyResult, IndexMode, IndexStats, KvIndex, WorkerIndexStats } from './types.ts';

/** Options every index mode takes. */
export interface BaseIndexOptions {
  /** Seed of the router's block hash (config routing.hash_seed). */
  readonly hashSeed: number;
  /** Block size for tenants first seen through their events (config routing.block_size). */
  readonly defaultBlockSize: number;
  readonly logger?: Logger;
  /** Initial capacity in blocks (grows as needed). */
  readonly initialBlocks?: number;
  /**
   * Entries of the store looked at per applied batch (and at the reset itself) to release the
   * blocks of reset workers, which are invisible to queries at once (BlockStore.retireSlot).
   * Default 4096: about 0.1-1 ms, so a 3M-block store is swept in ~730 batches.
   */
  readonly drainEntries?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type MutableStats = Mutable<WorkerIndexStats>;

/** What both modes keep per tenant. */
export interface TenantBase {
  readonly id: string;
  /** Its slot in the store; a reset moves it to a fresh one (`retireBlocks`). */
  slot: number;
  blockSize: number;
  readonly stats: MutableStats;
}

/**
 * Tenant registration, the overlap query and statistics, shared by the precise and the
 * approximate index. Subclasses own how blocks get in and out of the store.
 */
export abstract class BaseIndex<T extends TenantBase> implements KvIndex {
  abstract readonly mode: IndexMode;
  protected readonly store: BlockStore;
  protected readonly tenants = new Map<string, T>();
  protected readonly hashSeed: number;
  protected readonly defaultBlockSize: number;
  protected readonly logger: Logger;
  protected readonly drainEntries: number;
  private scratchSlots = new Int32Array(64);

  constructor(options: BaseIndexOptions) {
    this.store = new BlockStore(options.initialBlocks ?? 4096);
    this.hashSeed = options.hashSeed >>> 0;
    this.defaultBlockSize = options.defaultBlockSize;
    this.logger = options.logger ?? silentLogger;
    this.drainEntries = options.drainEntries ?? 4096;
  }

  protected abstract createTenant(id: string, slot: number, blockSize: number, stats: MutableStats): T;
  /** Releases every block the tenant holds and resets mode-specific state. */
  protected abstract dropBlocks(tenant: T): void;
  abstract applyBatch(tenant: string, batch: KvEventBatch): ApplyResult;
  abstract recordRouted(tenant: string, chain: BlockHashChain, nowMs: number): void;
  abstract expire(nowMs: number): number;

  registerWorker(id: string, options: { blockSize: number }): void {
    if (!Number.isInteger(options.blockSize) || options.blockSize < 1)
      throw new RangeError(`block size must be a positive integer, got ${options.blockSize}`);
    const existing = this.tenants.get(id);
    if (!existing) {
      this.tenant(id, options.blockSize);
      return;
    }
    if (existing.blockSize !== options.blockSize) {
      this.logger.warn(
        { tenant: id, from: existing.blockSize, to: options.blockSize },
        'worker block size changed; clearing its index entries',
      );
      this.clearWorker(id, `block size changed from ${existing.blockSize} to ${options.blockSize}`);
      existing.blockSize = options.blockSize;
      existing.stats.blockSize = options.blockSize;
      existing.stats.blockSizeMismatch = null;
    }
  }

  blockSizeOf(id: string): number | undefined {
    return this.tenants.get(id)?.blockSize;
  }

  clearWorker(id: string, reason = 'cleared'): void {
    const tenant = this.tenants.get(id);
    if (!tenant) return;
    this.dropBlocks(tenant);
    tenant.stats.clears++;
    tenant.stats.lastClearReason = reason;
  }

  removeWorker(id: string): void {
    const tenant = this.tenants.get(id);
    if (!tenant) return;
    this.dropBlocks(tenant);
    this.store.freeSlot(tenant.slot);
    this.tenants.delete(id);
  }

  overlaps(chain: BlockHashChain, ids: readonly string[], out?: Int32Array): Int32Array {
    const result = out && out.length >= ids.length ? out : new Int32Array(ids.length);
    if (this.scratchSlots.length < ids.length) this.scratchSlots = new Int32Array(ids.length * 2);
    const slots = this.scratchSlots.subarray(0, ids.length);
    for (let j = 0; j < ids.length; j++) {
      const tenant = this.tenants.get(ids[j]!);
      slots[j] = tenant && tenant.blockSize === chain.blockSize ? tenant.slot : -1;
    }
    this.store.overlaps(chain, slots, result);
    return result;
  }

  indexedBlocks(id: string): number {
    const tenant = this.tenants.get(id);
    return tenant ? this.store.blocksOf(tenant.slot) : 0;
  }

  condition(id: string): string | null {
    const mismatch = this.tenants.get(id)?.stats.blockSizeMismatch;
    return mismatch
      ? `worker sends KV blocks of ${mismatch.got} tokens but its pool expects ${mismatch.expected}: its cache is invisible to the router`
      : null;
  }

  workerStats(id: string): WorkerIndexStats | undefined {
    const tenant = this.tenants.get(id);
    if (!tenant) return undefined;
    return {
      ...tenant.stats,
      indexedBlocks: this.store.blocksOf(tenant.slot),
      engineBlocks: this.engineBlocksOf(tenant),
    };
  }

  stats(): IndexStats {
    return { mode: this.mode, blocks: this.store.size, tenants: this.tenants.size };
  }

  /**
   * Forgets every block of the tenant in O(1): it moves to a fresh slot, and its old slot's
   * blocks are released by later writes (`drainEntries` entries looked at per applied batch).
   */
  protected retireBlocks(tenant: T): void {
    this.store.retireSlot(tenant.slot);
    tenant.slot = this.store.allocSlot();
    this.store.drainRetired(this.drainEntries);
  }

  protected engineBlocksOf(_tenant: T): number {
    return 0;
  }

  /** The tenant, registered with `blockSize` (default: the index's) when new. */
  protected tenant(id: string, blockSize = this.defaultBlockSize): T {
    let tenant = this.tenants.get(id);
    if (!tenant) {
      tenant = this.createTenant(id, this.store.allocSlot(), blockSize, emptyStats(id, blockSize));
      this.tenants.set(id, tenant);
    }
    return tenant;
  }
}

function emptyStats(tenant: string, blockSize: number): MutableStats {
  return {
    tenant,
    blockSize,
    indexedBlocks: 0,
    engineBlocks: 0,
    batchesApplied: 0,
    eventsApplied: 0,
    blocksStored: 0,
    blocksRemoved: 0,
    parentMissing: 0,
    parkedResolved: 0,
    parkedDropped: 0,
    parkedRuns: 0,
    removedUnknown: 0,
    blockSizeErrors: 0,
    blockSizeMismatch: null,
    malformedEvents: 0,
    otherMediumEvents: 0,
    conflicts: 0,
    clears: 0,
    expiredBlocks: 0,
    lastEventTs: null,
    lastClearReason: null,
  };
}
