import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../common/config/index.ts';
import { engineProfile } from '../../common/profiles/index.ts';
import { DEFAULT_PROFILE, resolveWorkerProfile } from './worker-profile.ts';

const configured = (entry: Record<string, unknown> = {}) => {
  const parsed = parseConfig({ workers: [{ name: 'w', address: '10.0.0.7:50051', ...entry }] });
  if (!parsed.ok) throw parsed.error;
  return parsed.value.workers[0]!;
};
const nothingAnnounced = { gpu: null, model: null, tp: null };

describe("a worker's cost-model profile", () => {
  it('takes what the worker announces over its config entry, field by field', () => {
    const entry = configured({ gpu: 'l40s', model: 'llama-3.1-8b', tp: 2 });
    expect(resolveWorkerProfile(entry, { gpu: 'a100-80g', model: 'qwen3-8b', tp: null })).toMatchObject({
      gpu: 'a100-80g',
      model: 'qwen3-8b',
      tp: 2,
      source: 'announced',
    });
    const fromConfig = resolveWorkerProfile(entry, nothingAnnounced);
    expect(fromConfig).toMatchObject({ gpu: 'l40s', model: 'llama-3.1-8b', tp: 2, source: 'config' });
    expect(fromConfig.value).toEqual(engineProfile('l40s', 'llama-3.1-8b', 2));
  });

  it('falls back to the default profile when nothing names one, or the names are unknown', () => {
    expect(resolveWorkerProfile(configured(), null)).toMatchObject({ ...DEFAULT_PROFILE, source: 'default' });
    const unknown = resolveWorkerProfile(configured(), { gpu: 'tpu-v9', model: 'qwen3-8b', tp: 1 });
    expect(unknown).toMatchObject({ ...DEFAULT_PROFILE, source: 'default' });
    expect(unknown.value).toEqual(engineProfile(DEFAULT_PROFILE.gpu, DEFAULT_PROFILE.model, DEFAULT_PROFILE.tp));
    expect(unknown.unknown).toMatchObject({ gpu: 'tpu-v9', model: 'qwen3-8b', tp: 1 });
    expect(unknown.unknown?.message).toContain('tpu-v9');
  });
});
