export {
  INITIAL_POOL_STABILITY,
  stabilizePool,
  stabilizeThreshold,
  type PoolStability,
  type PoolStep,
  type PoolStepResult,
  type StabilityOptions,
} from './stabilize.ts';
