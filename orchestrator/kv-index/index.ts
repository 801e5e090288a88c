export { ApproximateIndex, createApproximateIndex, type ApproximateIndexOptions } from './approximate-index.ts';
export { createKvIndex, INDEX_MODES, type KvIndexOptions } from './create-index.ts';
export { createPreciseIndex, PreciseIndex, type PreciseIndexOptions } from './precise-index.ts';
export {
  tenantId,
  type ApplyResult,
  type IndexMode,
  type IndexStats,
  type KvIndex,
  type WorkerIndexStats,
} from './types.ts';
