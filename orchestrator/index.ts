/**
 * The orchestrator's public surface: the process (assembled from the typed config) and the
 * seam the frontend and the core meet at. Each subfolder's index.ts names its own surface.
 */
export {
  createOrchestrator,
  runOrchestrator,
  type Orchestrator,
  type OrchestratorDeps,
  type RunOrchestratorOptions,
} from './server/index.ts';
export { createDispatcher, type Dispatcher, type DispatcherOptions } from './dispatch/index.ts';
export {
  createFleet,
  createStaticDiscovery,
  type Fleet,
  type StaticDiscovery,
  type WorkerDiscovery,
  type WorkerSpec,
} from './discovery/index.ts';
export {
  BACKENDS,
  createBackend,
  type BackendKind,
  type WorkerBackend,
  type WorkerStatusReport,
} from './backends/index.ts';
export type {
  FinishReason,
  GenerationEvent,
  Readiness,
  RouteSummary,
  SamplingOptions,
  ServingCore,
  ServingMode,
  TokenizedRequest,
  Usage,
} from './serving.ts';
