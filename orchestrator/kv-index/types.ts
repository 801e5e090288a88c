import type { KvEventBatch } from '../../proto/kv-events/types.ts';
import type { TandemError } from '../../common/errors.ts';
import type { BlockHashChain } from '../hashing/index.ts';

export type IndexMode = 'precise' | 'approximate';

/**
 * Which workers hold which prompt prefixes, fed either by the workers' KV events (precise) or
 * by the router's own decisions (approximate). A tenant is one engine: a worker, or one
 * data-parallel rank of a worker (see `tenantId`); its id is an opaque string. Pure: time only
 * comes in as arguments, nothing here does I/O.
 */
export interface KvIndex {
  readonly mode: IndexMode;

  /** Declares a tenant and the block size its pool uses; a changed block size clears it. */
  registerWorker(tenant: string, options: { blockSize: number }): void;
  /** Block size the tenant is registered with, or undefined. */
  blockSizeOf(tenant: string): number | undefined;
  /** Drops every block the tenant holds (restart, unrecoverable gap); keeps its registration and counters. */
  clearWorker(tenant: string, reason?: string): void;
  /** Forgets the tenant entirely (worker removed from the fleet). */
  removeWorker(tenant: string): void;

  /**
   * Longest consecutive cached prefix, in blocks, for each tenant in `tenants` (aligned with
   * it), over `chain`'s blocks. Tenants registered with another block size than the chain's,
   * or unknown, get 0. `out` is reused when given.
   */
  overlaps(chain: BlockHashChain, tenants: readonly string[], out?: Int32Array): Int32Array;

  /**
   * Precise mode: applies one batch of a tenant's KV events (unknown tenants are registered
   * with the index's default block size). Approximate mode counts the batch as ignored.
   */
  applyBatch(tenant: string, batch: KvEventBatch): ApplyResult;
  /**
   * Approximate mode: records that `chain`'s blocks were routed to the tenant at `nowMs`; they
   * count as cached until `nowMs + ttl`. Precise mode ignores it (the events will tell).
   */
  recordRouted(tenant: string, chain: BlockHashChain, nowMs: number): void;
  /** Drops approximate entries whose TTL ran out by `nowMs`; returns how many. Cheap when none is due. */
  expire(nowMs: number): number;

  /** Blocks the tenant holds in the index (0 when unknown). */
  indexedBlocks(tenant: string): number;
  /** A loud condition of the tenant's index to show with every decision (a block-size mismatch), or null. */
  condition(tenant: string): string | null;
  workerStats(tenant: string): WorkerIndexStats | undefined;
  stats(): IndexStats;
}

/** What one applyBatch did; `errors` are the loud conditions to surface (block-size mismatch). */
export interface ApplyResult {
  readonly stored: number;
  readonly removed: number;
  readonly errors: readonly TandemError[];
}

/** Per-tenant counters for metrics and /debug/workers. Counts are since the tenant was registered. */
export interface WorkerIndexStats {
  readonly tenant: string;
  readonly blockSize: number;
  /** Distinct router blocks the tenant holds now. */
  readonly indexedBlocks: number;
  /** Engine block hashes tracked now (precise mode). */
  readonly engineBlocks: number;
  readonly batchesApplied: number;
  readonly eventsApplied: number;
  readonly blocksStored: number;
  readonly blocksRemoved: number;
  /** BlockStored runs whose parent the index did not know (parked, see parkedRuns). */
  readonly parentMissing: number;
  /** Parked runs later attached when their parent arrived. */
  readonly parkedResolved: number;
  /** Parked runs dropped to keep the bound (their blocks stay unknown). */
  readonly parkedDropped: number;
  /** Runs waiting for their parent now. */
  readonly parkedRuns: number;
  /** BlockRemoved hashes the index did not know. */
  readonly removedUnknown: number;
  /** BlockStored events rejected because their block_size differs from the pool's. */
  readonly blockSizeErrors: number;
  /** The last mismatch seen, or null: `{ expected, got }` in tokens per block. */
  readonly blockSizeMismatch: { readonly expected: number; readonly got: number } | null;
  /** Events with inconsistent fields (token count != block_size x hashes). */
  readonly malformedEvents: number;
  /** Events for a medium other than GPU, skipped (offloaded blocks are not prefix hits on the device). */
  readonly otherMediumEvents: number;
  /** A stored engine hash seen again with different tokens or parent (kept the first). */
  readonly conflicts: number;
  /** AllBlocksCleared events plus clearWorker calls. */
  readonly clears: number;
  /** Approximate mode: blocks dropped by TTL or by the size bound. */
  readonly expiredBlocks: number;
  /** Publisher time of the last applied batch, seconds since the epoch, or null. */
  readonly lastEventTs: number | null;
  /** Why the tenant was last cleared, or null. */
  readonly lastClearReason: string | null;
}

export interface IndexStats {
  readonly mode: IndexMode;
  /** Distinct router blocks held by at least one tenant. */
  readonly blocks: number;
  readonly tenants: number;
}

/** The tenant id of a worker's data-parallel rank: the worker name for rank 0 or none. */
export function tenantId(worker: string, dpRank: number | null | undefined): string {
  return dpRank ? `${worker}@${dpRank}` : worker;
}
