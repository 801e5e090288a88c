import type { KvEventBatch } from '../../proto/kv-events/types.ts';
import type { BlockHashChain } from '../hashing/index.ts';
import { BaseIndex, type BaseIndexOptions, type MutableStats, type TenantBase } from './base-index.ts';
import type { ApplyResult } from './types.ts';

export interface ApproximateIndexOptions extends BaseIndexOptions {
  /** How long a routed block counts as cached, ms (Dynamo: 120 s). */
  readonly ttlMs: number;
  /** Bound on (tenant, block) entries; past it the oldest are dropped (Dynamo: 2^20). */
  readonly maxBlocks: number;
  /** Fraction of maxBlocks to prune down to when the bound is hit (Dynamo: 0.8). */
  readonly pruneToFraction: number;
}

interface ApproximateTenant extends TenantBase {
  /** Store entry -> expiry, ms; insertion order is expiry order (every entry gets the same TTL). */
  readonly lru: Map<number, number>;
}

/**
 * Approximate mode, for engines that publish no KV events: the router assumes a worker caches
 * every full block of the prompts it routed there, for `ttlMs` after the last time (a repeat
 * refreshes it), and keeps at most `maxBlocks` such entries, dropping the oldest first.
 */
export class ApproximateIndex extends BaseIndex<ApproximateTenant> {
  readonly mode = 'approximate' as const;
  private readonly ttlMs: number;
  private readonly maxBlocks: number;
  private readonly pruneTo: number;
  private entries = 0;
  /** No entry expires before this time, ms. */
  private nextExpiryMs = Number.POSITIVE_INFINITY;

  constructor(options: ApproximateIndexOptions) {
    super(options);
    if (!(options.ttlMs > 0)) throw new RangeError(`approximate index TTL must be positive, got ${options.ttlMs}`);
    if (!(options.maxBlocks >= 1))
      throw new RangeError(`approximate index size bound must be >= 1, got ${options.maxBlocks}`);
    if (!(options.pruneToFraction > 0 && options.pruneToFraction <= 1))
      throw new RangeError(`prune fraction must be in (0, 1], got ${options.pruneToFraction}`);
    this.ttlMs = options.ttlMs;
    this.maxBlocks = options.maxBlocks;
    this.pruneTo = Math.floor(options.maxBlocks * options.pruneToFraction);
  }

  protected createTenant(id: string, slot: number, blockSize: number, stats: MutableStats): ApproximateTenant {
    return { id, slot, blockSize, stats, lru: new Map() };
  }

  protected dropBlocks(tenant: ApproximateTenant): void {
    for (const entry of tenant.lru.keys()) this.store.release(entry, tenant.slot);
    this.entries -= tenant.lru.size;
    tenant.lru.clear();
  }

  protected override engineBlocksOf(): number {
    return 0;
  }

  applyBatch(_id: string, _batch: KvEventBatch): ApplyResult {
    return { stored: 0, removed: 0, errors: [] };
  }

  recordRouted(id: string, chain: BlockHashChain, nowMs: number): void {
    const tenant = this.tenant(id, chain.blockSize);
    if (chain.blockSize !== tenant.blockSize) {
      tenant.stats.blockSizeErrors++;
      tenant.stats.blockSizeMismatch = { expected: tenant.blockSize, got: chain.blockSize };
      return;
    }
    const expiresAt = nowMs + this.ttlMs;
    const { words, length } = chain;
    for (let i = 0; i < length; i++) {
      const entry = this.store.ensure(words[2 * i]!, words[2 * i + 1]!);
      if (this.store.hold(entry, tenant.slot)) this.entries++;
      else tenant.lru.delete(entry);
      tenant.lru.set(entry, expiresAt);
    }
    tenant.stats.blocksStored += length;
    // A lower bound is enough: expire() recomputes the exact earliest time when it runs.
    if (length > 0 && expiresAt < this.nextExpiryMs) this.nextExpiryMs = expiresAt;
    if (this.entries > this.maxBlocks) this.prune();
  }

  expire(nowMs: number): number {
    if (nowMs < this.nextExpiryMs) return 0;
    let dropped = 0;
    for (const tenant of this.tenants.values()) {
      for (const [entry, expiresAt] of tenant.lru) {
        if (expiresAt > nowMs) break;
        tenant.lru.delete(entry);
        this.store.release(entry, tenant.slot);
        tenant.stats.expiredBlocks++;
        dropped++;
      }
    }
    this.entries -= dropped;
    this.nextExpiryMs = this.earliestExpiry();
    return dropped;
  }

  /** Drops the oldest entries across all tenants until `pruneTo` remain. */
  private prune(): void {
    const tenants = [...this.tenants.values()];
    while (this.entries > this.pruneTo) {
      let oldest: ApproximateTenant | undefined;
      let oldestAt = Number.POSITIVE_INFINITY;
      for (const tenant of tenants) {
        const head = tenant.lru.values().next();
        if (!head.done && head.value < oldestAt) {
          oldestAt = head.value;
          oldest = tenant;
        }
      }
      if (!oldest) break;
      const entry = oldest.lru.keys().next().value as number;
      oldest.lru.delete(entry);
      this.store.release(entry, oldest.slot);
      oldest.stats.expiredBlocks++;
      this.entries--;
    }
    this.nextExpiryMs = this.earliestExpiry();
  }

  private earliestExpiry(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const tenant of this.tenants.values()) {
      const head = tenant.lru.values().next();
      if (!head.done && head.value < earliest) earliest = head.value;
    }
    return earliest;
  }
}

export function createApproximateIndex(options: ApproximateIndexOptions): ApproximateIndex {
  return new ApproximateIndex(options);
}
