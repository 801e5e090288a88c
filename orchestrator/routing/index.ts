export { estimateCost, prefillSecondsPerToken, type CostInput, type CostWeights } from './cost-model.ts';
export { committableSeal, type Seal } from './decision-seal.ts';
export { createRoutingCore, type RoutingCore, type RoutingCoreDeps } from './create-routing-core.ts';
export { hotspotExclusions, type GuardOptions } from './guard.ts';
export type { PolicyChoice, PolicyFactory, PolicyInput, RoutingConfig, RoutingPolicy } from './policy.ts';
export { createPolicy, POLICIES, policyNames, type PolicyName } from './registry.ts';
export { createRouter, type RouteOptions, type Router, type RouterOptions } from './router.ts';
export type { Candidate, CandidateReport, CostTerms, RouteRequest, RoutingDecision, WorkerRole } from './types.ts';
