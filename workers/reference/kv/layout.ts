import { create } from '@bufbuild/protobuf';
import { KvLayoutSchema, type KvLayout } from '../../../proto/gen/tandem/v1/worker_pb.ts';
import { TandemError } from '../../../common/errors.ts';

/**
 * The shape of one KV block in the reference engine. A block holds K and V for every layer and
 * every KV head for `blockSize` consecutive token positions, as little-endian float32, in this
 * order (outermost first):
 *
 *   layer (numLayers) x kind (0 = K, 1 = V) x kvHead (numKvHeads) x slot (blockSize) x dim (headDim)
 *
 * so one head's K rows for a block are contiguous, which is what attention reads. Token position
 * p of a sequence lives in block `blockTable[floor(p / blockSize)]`, slot `p % blockSize`.
 */
export interface KvBlockLayout {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** Token positions per block. */
  readonly blockSize: number;
  readonly dtype: 'float32';
  /** float32 elements per block: numLayers * 2 * numKvHeads * blockSize * headDim. */
  readonly blockFloats: number;
  /** blockFloats * 4. */
  readonly blockBytes: number;
}

export interface KvBlockLayoutInput {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
}

/** Validates the dimensions (positive integers) and derives the sizes. */
export function createKvBlockLayout(input: KvBlockLayoutInput): KvBlockLayout {
  for (const [name, value] of Object.entries(input)) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new TandemError('invalid_request', `KV layout ${name} must be a positive integer, got ${String(value)}`, {
        param: name,
      });
    }
  }
  const blockFloats = input.numLayers * 2 * input.numKvHeads * input.blockSize * input.headDim;
  return Object.freeze({
    numLayers: input.numLayers,
    numKvHeads: input.numKvHeads,
    headDim: input.headDim,
    blockSize: input.blockSize,
    dtype: 'float32',
    blockFloats,
    blockBytes: blockFloats * 4,
  });
}

/** Offset in float32 elements, within one block, of the row for (layer, kind, kvHead, slot). */
export function kvRowOffset(layout: KvBlockLayout, layer: number, kind: 0 | 1, kvHead: number, slot: number): number {
  return (((layer * 2 + kind) * layout.numKvHeads + kvHead) * layout.blockSize + slot) * layout.headDim;
}

/** What two layouts must agree on to describe the same bytes; `dtype` by name or by its wire code. */
interface LayoutFields {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
  readonly dtype: string | number;
  readonly blockBytes: number;
}

/**
 * True when two layouts describe the same bytes (same dimensions, dtype and size): two
 * KvBlockLayouts, or two of the transfer protocol's WireLayouts.
 */
export function sameKvLayout<L extends LayoutFields>(a: L, b: L): boolean {
  return (
    a.numLayers === b.numLayers &&
    a.numKvHeads === b.numKvHeads &&
    a.headDim === b.headDim &&
    a.blockSize === b.blockSize &&
    a.dtype === b.dtype &&
    a.blockBytes === b.blockBytes
  );
}

/** The layout as `tandem.v1.KvLayout` for a KvHandoff (block size travels in the handoff itself). */
export function toProtoKvLayout(layout: KvBlockLayout): KvLayout {
  return create(KvLayoutSchema, {
    numLayers: layout.numLayers,
    numKvHeads: layout.numKvHeads,
    headDim: layout.headDim,
    dtype: layout.dtype,
    blockBytes: layout.blockBytes,
  });
}
