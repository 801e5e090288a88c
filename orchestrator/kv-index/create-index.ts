import { getByName } from '../../common/registry.ts';
import { createApproximateIndex, type ApproximateIndexOptions } from './approximate-index.ts';
import { createPreciseIndex, type PreciseIndexOptions } from './precise-index.ts';
import type { IndexMode, KvIndex } from './types.ts';

export type KvIndexOptions = PreciseIndexOptions & ApproximateIndexOptions;

/** Every index mode by name (config routing.index_mode). */
export const INDEX_MODES = {
  precise: (options: KvIndexOptions): KvIndex => createPreciseIndex(options),
  approximate: (options: KvIndexOptions): KvIndex => createApproximateIndex(options),
} as const satisfies Record<IndexMode, (options: KvIndexOptions) => KvIndex>;

/** The index for `mode`; an unknown name fails listing the known ones. */
export function createKvIndex(mode: string, options: KvIndexOptions): KvIndex {
  return getByName<(options: KvIndexOptions) => KvIndex>(
    INDEX_MODES,
    mode,
    'index mode',
    'routing.index_mode',
  )(options);
}
