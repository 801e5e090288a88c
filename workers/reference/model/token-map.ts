import type { ReferenceModelConfig } from './config.ts';

/**
 * How big-vocabulary token ids meet the small model.
 *
 * Input: any id in [0, inputVocabSize) (Qwen3: 151936) selects embedding row
 *   row(id) = (Math.imul(id, 0x9E3779B1) >>> 0) % embeddingRows
 * (a Fibonacci-hash spread, so neighbouring ids do not share structure). Different ids may share
 * a row; the model is not trained, so that costs nothing but distinctness of rare pairs.
 *
 * Output: the model scores a small vocabulary of real ids, the contiguous range
 * firstOutputId .. firstOutputId + outputIdCount - 1 plus eosId, sorted ascending; logit i
 * scores outputIds[i], so "ties to the lowest index" is "ties to the lowest id".
 */
export function embeddingRow(tokenId: number, embeddingRows: number): number {
  return (Math.imul(tokenId, 0x9e3779b1) >>> 0) % embeddingRows;
}

/** The output vocabulary, ascending, each id once. */
export function outputVocabulary(config: ReferenceModelConfig): readonly number[] {
  const ids = new Set<number>();
  for (let i = 0; i < config.outputIdCount; i++) ids.add(config.firstOutputId + i);
  ids.add(config.eosId);
  return Object.freeze([...ids].sort((a, b) => a - b));
}
