export { DEFAULT_REFERENCE_MODEL_CONFIG, resolveModelConfig, type ReferenceModelConfig } from './config.ts';
export {
  decodeGreedy,
  prefillSequence,
  type AllocateBlock,
  type GreedyDecodeOptions,
  type GreedyDecodeResult,
} from './generate.ts';
export { createReferenceModel, type ReferenceModel } from './model.ts';
export { embeddingRow, outputVocabulary } from './token-map.ts';
