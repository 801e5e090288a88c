/** The orchestrator process: assembly from config, listening, reload and graceful shutdown. */
export { createOrchestrator, type Orchestrator, type OrchestratorDeps } from './create-orchestrator.ts';
export { runOrchestrator, type RunOrchestratorOptions } from './run.ts';
