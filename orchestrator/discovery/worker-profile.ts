import { engineProfile, type EngineProfile } from '../../common/profiles/index.ts';
import type { WorkerStatusReport } from '../backends/index.ts';
import type { WorkerSpec } from './discovery.ts';

/** Profile names used when neither the worker nor its config entry names one. */
export const DEFAULT_PROFILE = { gpu: 'h100-sxm', model: 'qwen3-8b', tp: 1 } as const;

export interface ResolvedProfile {
  /** What the cost model prices this worker's passes and pulls with. */
  readonly value: EngineProfile;
  readonly gpu: string;
  readonly model: string;
  readonly tp: number;
  /** Where gpu and model came from: the worker's status, its config entry, or DEFAULT_PROFILE. */
  readonly source: 'announced' | 'config' | 'default';
  /**
   * Set when the names resolved to a combination the profile tables do not know: those names and
   * why; the profile is then DEFAULT_PROFILE's. The caller logs it.
   */
  readonly unknown?: { readonly gpu: string; readonly model: string; readonly tp: number; readonly message: string };
}

/**
 * A worker's cost-model profile, field by field: what it announces (its status's gpu, model and
 * tp), else what its config entry names, else DEFAULT_PROFILE. Pure.
 */
export function resolveWorkerProfile(
  spec: WorkerSpec,
  status: Pick<WorkerStatusReport, 'gpu' | 'model' | 'tp'> | null,
): ResolvedProfile {
  const gpu = status?.gpu ?? spec.gpu ?? DEFAULT_PROFILE.gpu;
  const model = status?.model ?? spec.model ?? DEFAULT_PROFILE.model;
  const tp = status?.tp ?? spec.tp ?? DEFAULT_PROFILE.tp;
  const source = status?.gpu && status.model ? 'announced' : spec.gpu || spec.model ? 'config' : 'default';
  try {
    return { value: engineProfile(gpu, model, tp), gpu, model, tp, source };
  } catch (error) {
    return {
      value: engineProfile(DEFAULT_PROFILE.gpu, DEFAULT_PROFILE.model, DEFAULT_PROFILE.tp),
      gpu: DEFAULT_PROFILE.gpu,
      model: DEFAULT_PROFILE.model,
      tp: DEFAULT_PROFILE.tp,
      source: 'default',
      unknown: { gpu, model, tp, message: (error as Error).message },
    };
  }
}
