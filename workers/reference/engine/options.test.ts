import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../common/config/schema.ts';
import { DEFAULT_REFERENCE_MODEL_CONFIG } from '../model/config.ts';
import { referenceEngineOptionsFromConfig, resolveReferenceOptions } from './options.ts';

const worker = (input: object) => configSchema.parse({ worker: input }).worker;

describe('reference engine options', () => {
  it('mounts worker.reference with CPU-sized defaults, and a config yields the same engine as no options', () => {
    const config = worker({ engine: 'reference' });
    expect(config.reference).toMatchObject({
      num_blocks: 4096,
      max_num_batched_tokens: 256,
      kv_transfer: { port: 0, timeout_ms: 10_000 },
    });
    expect(config.reference.kv_transfer.host).toBeUndefined(); // the block server binds the worker's own host
    const fromConfig = resolveReferenceOptions({ ...referenceEngineOptionsFromConfig(config), engineId: 'x' });
    const bare = resolveReferenceOptions({ engineId: 'x' });
    expect(fromConfig).toEqual(bare);
    expect(bare.model).toEqual(DEFAULT_REFERENCE_MODEL_CONFIG);
    expect(bare.core).toMatchObject({
      numBlocks: 4096,
      maxNumBatchedTokens: 256,
      blockBytes: 6144,
      vocabSize: 151936,
      maxModelLen: 32768,
      specialTokens: { eosTokenIds: [151645] },
    });
  });

  it('takes the engine knobs from the worker section, num_gpu_blocks over the reference default, and the advertised host', () => {
    const config = worker({
      engine: 'reference',
      block_size: 32,
      num_gpu_blocks: 100,
      max_num_seqs: 8,
      max_model_len: 4096,
      hash_seed: 'x',
      kv_hold_timeout_s: 5,
      dp_rank: 2,
      reference: {
        model: { seed: 'fleet', num_layers: 2 },
        max_num_batched_tokens: 64,
        kv_transfer: { host: '0.0.0.0', port: 7100 },
      },
    });
    const options = resolveReferenceOptions(
      referenceEngineOptionsFromConfig(config, { advertiseHost: '10.1.2.3', engineId: 'w1' }),
    );
    expect(options.core).toMatchObject({
      engineId: 'w1',
      blockSize: 32,
      numBlocks: 100,
      maxNumSeqs: 8,
      maxModelLen: 4096,
      hashSeed: 'x',
      kvHoldTimeoutMs: 5000,
      dataParallelRank: 2,
      maxNumBatchedTokens: 64,
      blockBytes: 2 * 2 * 2 * 32 * 8 * 4,
    });
    expect(options.model).toMatchObject({ seed: 'fleet', numLayers: 2 });
    expect(options.kvTransfer).toEqual({ host: '0.0.0.0', port: 7100, advertiseHost: '10.1.2.3', timeoutMs: 10_000 });
  });

  it("refuses a context longer than the model's, and unknown keys in the section", () => {
    expect(() => resolveReferenceOptions({ model: { maxModelLen: 1000 }, maxModelLen: 2000 })).toThrow(
      /maxModelLen 2000 exceeds/,
    );
    expect(configSchema.safeParse({ worker: { reference: { num_block: 1 } } }).success).toBe(false);
  });
});
