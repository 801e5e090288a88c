import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config/index.ts';
import { engineProfile, kvCapacityBlocks } from '../../common/profiles/index.ts';
import { engineOptionsFromConfig, resolveEngineOptions } from './options.ts';

describe('engine options', () => {
  it("defaults to vLLM's engine arguments and the profile's KV capacity", () => {
    const options = resolveEngineOptions();
    expect(options).toMatchObject({
      gpu: 'h100-sxm',
      model: 'qwen3-8b',
      blockSize: 16,
      maxNumBatchedTokens: 8192,
      maxNumSeqs: 256,
      maxModelLen: 32768,
      enablePrefixCaching: true,
      hashSeed: '0',
      kvHoldTimeoutMs: 480_000,
      timeScale: 1,
      eosProbability: 0,
    });
    expect(options.numBlocks).toBe(kvCapacityBlocks(engineProfile('h100-sxm', 'qwen3-8b'), 16));
    expect(options.kvLink.name).toBe('ib-400g');
    expect(options.specialTokens.eosTokenIds).toEqual([151645, 151643]);
  });

  it('reads the worker config section, flags and environment included', () => {
    const loaded = loadConfig({
      env: { TANDEM_WORKER__HASH_SEED: '42', TANDEM_WORKER__BLOCK_SIZE: '32' },
      overrides: { 'worker.gpu': 'l40s', 'worker.kv_hold_timeout_s': 30, 'worker.num_gpu_blocks': 1000 },
    });
    if (!loaded.ok) throw loaded.error;
    const options = resolveEngineOptions(engineOptionsFromConfig(loaded.value.worker));
    expect(options).toMatchObject({
      gpu: 'l40s',
      hashSeed: '42',
      blockSize: 32,
      kvHoldTimeoutMs: 30_000,
      numBlocks: 1000,
    });
  });

  it('rejects a block size vLLM does not allow, naming the field', () => {
    const loaded = loadConfig({ overrides: { 'worker.block_size': 12 } });
    expect(loaded.ok).toBe(false);
    if (!loaded.ok)
      expect(loaded.error.message).toMatch(/worker\.block_size: must be one of 1, 8, 16, 32, 64, 128, 256/);
  });

  it('rejects unknown profile and link names, listing the known ones', () => {
    expect(() => resolveEngineOptions({ kvLink: 'carrier-pigeon' })).toThrow(
      /unknown link profile "carrier-pigeon" \(known: nvlink, ib-400g/,
    );
    expect(() => resolveEngineOptions({ model: 'gpt-5' })).toThrow(/unknown model profile "gpt-5"/);
    expect(() => resolveEngineOptions({ gpu: 'h100-sxm', model: 'llama-3.1-70b' })).toThrow(/no memory left for KV/);
    expect(() => resolveEngineOptions({ timeScale: 0 })).toThrow(/timeScale/);
  });
});
