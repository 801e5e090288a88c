import type { ReferenceSection } from './config-section.ts';
import { resolveModelConfig, type ReferenceModelConfig } from './model/config.ts';

/** The model config a parsed `worker.reference` section describes (checked by resolveModelConfig). */
export function modelConfigFromSection(section: ReferenceSection): ReferenceModelConfig {
  const m = section.model;
  return resolveModelConfig({
    seed: m.seed,
    numLayers: m.num_layers,
    hiddenSize: m.hidden_size,
    numHeads: m.num_heads,
    numKvHeads: m.num_kv_heads,
    headDim: m.head_dim,
    intermediateSize: m.intermediate_size,
    inputVocabSize: m.input_vocab_size,
    embeddingRows: m.embedding_rows,
    firstOutputId: m.first_output_id,
    outputIdCount: m.output_id_count,
    eosId: m.eos_id,
    ropeTheta: m.rope_theta,
    rmsNormEps: m.rms_norm_eps,
    maxModelLen: m.max_model_len,
  });
}
