import { describe, expect, it } from 'vitest';
import { referenceSection } from './config-section.ts';
import { modelConfigFromSection } from './model-config-from-section.ts';
import { DEFAULT_REFERENCE_MODEL_CONFIG } from './model/index.ts';

describe('reference config section', () => {
  it('defaults to exactly the model defaults', () => {
    expect(modelConfigFromSection(referenceSection.parse({}))).toEqual(DEFAULT_REFERENCE_MODEL_CONFIG);
  });

  it('maps every snake_case field onto the model config', () => {
    const section = referenceSection.parse({
      model: { seed: 'x', num_layers: 2, num_heads: 6, num_kv_heads: 3, head_dim: 4, eos_id: 7, max_model_len: 99 },
    });
    expect(modelConfigFromSection(section)).toMatchObject({
      seed: 'x',
      numLayers: 2,
      numHeads: 6,
      numKvHeads: 3,
      headDim: 4,
      eosId: 7,
      maxModelLen: 99,
    });
  });

  it('rejects unknown keys and bad values with the field path', () => {
    const unknown = referenceSection.safeParse({ model: { layers: 2 } });
    expect(unknown.success).toBe(false);
    const badHeadDim = referenceSection.safeParse({ model: { head_dim: 6 } });
    expect(badHeadDim.success || badHeadDim.error.issues[0]?.path).toEqual(['model', 'head_dim']);
    expect(referenceSection.safeParse({ kv_transfer: { port: 70000 } }).success).toBe(false);
  });
});
