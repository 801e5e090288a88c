import { describe, expect, it } from 'vitest';
import {
  decodeStepSeconds,
  engineProfile,
  forwardSeconds,
  GPU_PROFILES,
  kvCapacityBlocks,
  kvCapacityTokens,
  MODEL_PROFILES,
  prefillSeconds,
  transferSeconds,
  linkProfile,
} from './index.ts';

describe('roofline timing model', () => {
  const llama8bH100 = engineProfile('h100-sxm', 'llama-3.1-8b');

  it('decodes one Llama-3.1-8B token at batch 1 on an H100 in 6-8 ms', () => {
    const step = decodeStepSeconds(llama8bH100, 1, 1024);
    expect(step).toBeGreaterThan(0.006);
    expect(step).toBeLessThan(0.008);
  });

  it('prefills 8k tokens of Llama-3.1-8B on an H100 in a few hundred ms', () => {
    const seconds = prefillSeconds(llama8bH100, 8192);
    expect(seconds).toBeGreaterThan(0.15);
    expect(seconds).toBeLessThan(0.5);
  });

  it('is compute-bound for prefill and memory-bound for decode', () => {
    // Doubling a long prefill roughly doubles (or more, by attention) its time ...
    expect(prefillSeconds(llama8bH100, 8192) / prefillSeconds(llama8bH100, 4096)).toBeGreaterThan(1.9);
    // ... while doubling a small decode batch barely moves the step (weights dominate).
    expect(decodeStepSeconds(llama8bH100, 8, 1024) / decodeStepSeconds(llama8bH100, 4, 1024)).toBeLessThan(1.15);
  });

  it('skips the cached prefix of a prompt', () => {
    expect(prefillSeconds(llama8bH100, 8192, 8000)).toBeLessThan(prefillSeconds(llama8bH100, 8192) / 10);
  });

  it('charges decode for the KV it reads', () => {
    expect(decodeStepSeconds(llama8bH100, 64, 8192)).toBeGreaterThan(decodeStepSeconds(llama8bH100, 64, 512) * 1.5);
  });

  it('ranks GPUs as their datasheets do', () => {
    const on = (gpu: string) => engineProfile(gpu, 'qwen3-8b');
    expect(prefillSeconds(on('b200'), 4096)).toBeLessThan(prefillSeconds(on('h100-sxm'), 4096));
    expect(prefillSeconds(on('h100-sxm'), 4096)).toBeLessThan(prefillSeconds(on('l40s'), 4096));
    expect(decodeStepSeconds(on('h200'), 1, 1024)).toBeLessThan(decodeStepSeconds(on('h100-sxm'), 1, 1024));
    expect(decodeStepSeconds(on('h20'), 1, 1024)).toBeLessThan(decodeStepSeconds(on('a100-80g'), 1, 1024));
  });

  it('speeds an engine up with tensor parallelism, short of linearly', () => {
    const tp1 = engineProfile('h100-sxm', 'qwen3-32b', 1);
    const tp2 = engineProfile('h100-sxm', 'qwen3-32b', 2);
    const ratio = decodeStepSeconds(tp1, 16, 2048) / decodeStepSeconds(tp2, 16, 2048);
    expect(ratio).toBeGreaterThan(1.5);
    expect(ratio).toBeLessThan(2);
  });

  it('derives KV capacity from the memory left after weights', () => {
    // Llama-3.1-70B in BF16 (141 GB) does not fit one H100; it fits two H200s.
    expect(kvCapacityTokens(engineProfile('h100-sxm', 'llama-3.1-70b', 1))).toBe(0);
    expect(kvCapacityTokens(engineProfile('h200', 'llama-3.1-70b', 2))).toBeGreaterThan(100_000);
    const blocks = kvCapacityBlocks(engineProfile('h100-sxm', 'qwen3-8b'), 16);
    expect(blocks * 16 * 147456).toBeLessThan(80e9);
    expect(blocks).toBeGreaterThan(20_000);
  });

  it('prices an empty batch and an empty transfer at zero', () => {
    expect(forwardSeconds(llama8bH100, { prefill: [], decodeSequences: 0, decodeContextTokens: 0 })).toBe(0);
    expect(transferSeconds(linkProfile('ib-400g'), 0)).toBe(0);
    expect(transferSeconds(linkProfile('tcp'), 1e9)).toBeGreaterThan(transferSeconds(linkProfile('ib-400g'), 1e9));
  });

  it('has every profile the issue lists', () => {
    expect(Object.keys(GPU_PROFILES).sort()).toEqual(['a100-80g', 'a10g', 'b200', 'h100-sxm', 'h20', 'h200', 'l40s']);
    expect(Object.keys(MODEL_PROFILES).sort()).toEqual(['llama-3.1-70b', 'llama-3.1-8b', 'qwen3-32b', 'qwen3-8b']);
    expect(() => engineProfile('tpu', 'qwen3-8b')).toThrow(/unknown gpu profile "tpu" \(known: h100-sxm/);
  });
});
