/** `tandem up`: an orchestrator, a local fleet of workers and the planner, started and looked after. */
export { nextRestart, type BackoffPolicy } from './backoff.ts';
export { bannerText, type BannerInput } from './banner.ts';
export { createUpFleet, type UpFleet, type UpFleetOptions } from './fleet-runner.ts';
export { parseWorkersSpec, settingsFromFlags, WORKERS_SYNTAX, type FlagSettings, type UpFlags } from './flags.ts';
export { createLogRelay, formatEntry, type LogRelay, type LogRelayOptions } from './log-relay.ts';
export {
  describeExit,
  spawnManaged,
  type ManagedProcess,
  type ProcessExit,
  type SpawnOptions,
} from './managed-process.ts';
export {
  orchestratorConfigFile,
  planFleet,
  plannerConfigFile,
  workerConfigFile,
  type FleetPlan,
  type LaunchedWorker,
  type WorkerPlan,
} from './plan.ts';
export { probePort } from './ports.ts';
export { describeFleet, runUp } from './run-up.ts';
