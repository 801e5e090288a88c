export { decisionToJson } from './decision-json.ts';
export { createPlannerFromConfig, plannerOptionsFromConfig } from './from-config.ts';
export * from './hooks/index.ts';
export * from './observe/index.ts';
export { planOnce } from './once.ts';
export { createPlanner, type Planner, type PlannerOptions } from './planner.ts';
export { DEFAULT_POOLS, resolvePools, type PlannedPool } from './pools.ts';
export * from './predict/index.ts';
export { startPlanner, type RunningPlanner, type StartPlannerOptions } from './run.ts';
export * from './size/index.ts';
export * from './stability/index.ts';
export type {
  Decision,
  Distribution,
  LoadForecast,
  Observation,
  PoolDecision,
  PoolObservation,
  PoolRole,
} from './types.ts';
