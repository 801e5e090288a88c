import { TandemError } from '../errors.ts';
import { getByName } from '../registry.ts';
import { GPU_PROFILES, type GpuName, type GpuProfile } from './gpus.ts';
import { LINK_PROFILES, type LinkProfile } from './links.ts';
import { MODEL_PROFILES, type ModelName, type ModelProfile } from './models.ts';
import type { EngineProfile } from './roofline.ts';

export * from './gpus.ts';
export * from './links.ts';
export * from './models.ts';
export * from './roofline.ts';
export * from './special-tokens.ts';

/** Profile names are case-insensitive (`H100-SXM` is `h100-sxm`). */
function lookup<T>(table: Record<string, T>, kind: string, name: string): T {
  return getByName(table, name.toLowerCase(), `${kind} profile`, kind);
}

export const gpuProfile = (name: string): GpuProfile => lookup<GpuProfile>(GPU_PROFILES, 'gpu', name);
export const modelProfile = (name: string): ModelProfile => lookup<ModelProfile>(MODEL_PROFILES, 'model', name);
export const linkProfile = (name: string): LinkProfile => lookup<LinkProfile>(LINK_PROFILES, 'link', name);

/** An engine profile by names, e.g. `engineProfile('h100-sxm', 'qwen3-32b', 2)`; throws on unknown names. */
export function engineProfile(gpu: GpuName | string, model: ModelName | string, tp = 1): EngineProfile {
  if (!Number.isInteger(tp) || tp < 1)
    throw new TandemError('invalid_request', `tensor-parallel size must be a positive integer, got ${tp}`, {
      param: 'tp',
    });
  return { gpu: gpuProfile(gpu), model: modelProfile(model), tp };
}
