export { simulate, sweepPoints, type SimulateFlags, type SweepPoint } from './command.ts';
export { createSimFleet, type SimFleet, type SimFleetOptions, type SimWorker, type SimWorkerState } from './fleet.ts';
export { createIntervalStats, type IntervalStats } from './interval-stats.ts';
export { checkSimOptions, DEFAULT_LATENCIES, type ProbeSample, type SimLatencies, type SimOptions } from './options.ts';
export { createPlannerLoop, type PlannerLoop, type PlannerLoopOptions } from './planner-loop.ts';
export { runSimulation, type SimResult, type SimStats } from './run-sim.ts';
