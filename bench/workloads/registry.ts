import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import { findByName } from '../../common/registry.ts';
import { createRng } from '../../common/rng.ts';
import { agenticWorkload } from './agentic.ts';
import { diurnalWorkload } from './diurnal.ts';
import { llmdSharedPrefixWorkload } from './llmd-shared-prefix.ts';
import { longContextRagWorkload } from './long-context-rag.ts';
import { mixedIslWorkload } from './mixed-isl.ts';
import { multiTurnChatWorkload } from './multi-turn-chat.ts';
import { traceWorkload } from './trace.ts';
import type { Workload, WorkloadDefinition } from './types.ts';

/** Every workload, by the kebab-case name flags and result files use. */
export const WORKLOADS = {
  'llmd-shared-prefix': llmdSharedPrefixWorkload,
  'multi-turn-chat': multiTurnChatWorkload,
  'long-context-rag': longContextRagWorkload,
  agentic: agenticWorkload,
  'mixed-isl': mixedIslWorkload,
  diurnal: diurnalWorkload,
  trace: traceWorkload,
} as const satisfies Record<string, WorkloadDefinition>;

export type WorkloadName = keyof typeof WORKLOADS;

export function workloadNames(): WorkloadName[] {
  return Object.keys(WORKLOADS) as WorkloadName[];
}

export function getWorkloadDefinition(name: string): Result<WorkloadDefinition> {
  return findByName<WorkloadDefinition>(WORKLOADS, name, 'workload', 'workload');
}

/**
 * A workload with its parameters validated and defaulted and its inputs read (the trace file),
 * ready to open as many identical streams as a run needs. `seed` fixes every draw.
 */
export function createWorkload(
  name: string,
  rawParams: Readonly<Record<string, unknown>>,
  seed: number | string,
): Result<Workload> {
  const definition = getWorkloadDefinition(name);
  if (!definition.ok) return definition;
  const params = definition.value.parseParams(rawParams);
  if (!params.ok)
    return fail(
      new TandemError('invalid_request', `workload ${name}: ${params.error.message}`, {
        param: params.error.param ?? 'params',
      }),
    );
  const prepared = definition.value.prepare(params.value);
  if (!prepared.ok)
    return fail(
      new TandemError('invalid_request', `workload ${name}: ${prepared.error.message}`, { cause: prepared.error }),
    );
  const seedText = String(seed);
  return ok({
    name,
    description: definition.value.description,
    params: params.value,
    seed: seedText,
    open: () => definition.value.open(params.value, prepared.value, createRng(`workload/${name}/${seedText}`)),
  });
}
