import { TandemError } from '../../common/errors.ts';
import type { BackendKind, WorkerBackend } from './backend.ts';
import { createGrpcBackend } from './grpc-backend.ts';
import { createVllmHttpBackend } from './vllm-http-backend.ts';

/** What every backend factory takes: the worker's config entry, as far as the wire needs it. */
export interface BackendSpec {
  readonly name: string;
  readonly address: string;
  readonly servedModelName?: string | undefined;
}

export type BackendFactory = (spec: BackendSpec) => WorkerBackend;

/** Every worker backend, by the name config `workers[].backend` uses. */
export const BACKENDS = {
  grpc: (spec) => createGrpcBackend({ name: spec.name, address: spec.address }),
  'vllm-http': (spec) =>
    createVllmHttpBackend({ name: spec.name, address: spec.address, servedModelName: spec.servedModelName }),
} as const satisfies Record<BackendKind, BackendFactory>;

export const backendNames = (): BackendKind[] => Object.keys(BACKENDS) as BackendKind[];

/** A backend of the named kind; an unknown name fails listing the known ones. */
export function createBackend(kind: string, spec: BackendSpec): WorkerBackend {
  const factory = (BACKENDS as Record<string, BackendFactory>)[kind];
  if (!factory)
    throw new TandemError('invalid_request', `unknown worker backend "${kind}" (known: ${backendNames().join(', ')})`, {
      param: 'workers.backend',
    });
  return factory(spec);
}
