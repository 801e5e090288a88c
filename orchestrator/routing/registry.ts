import { getByName } from '../../common/registry.ts';
import { createCacheAwarePolicy } from './policies/cache-aware.ts';
import { createKvPolicy } from './policies/kv.ts';
import { createLeastLoadedPolicy } from './policies/least-loaded.ts';
import { createPowerOfTwoPolicy } from './policies/power-of-two.ts';
import { createRandomPolicy } from './policies/random.ts';
import { createRoundRobinPolicy } from './policies/round-robin.ts';
import { createSessionPolicy } from './policies/session.ts';
import type { PolicyFactory, RoutingConfig, RoutingPolicy } from './policy.ts';

/** Every routing policy, by the name config `routing.policy` uses. */
export const POLICIES = {
  kv: createKvPolicy,
  'cache-aware': createCacheAwarePolicy,
  'round-robin': createRoundRobinPolicy,
  random: createRandomPolicy,
  'least-loaded': createLeastLoadedPolicy,
  'power-of-two': createPowerOfTwoPolicy,
  session: createSessionPolicy,
} as const satisfies Record<string, PolicyFactory>;

export type PolicyName = keyof typeof POLICIES;

export const policyNames = (): PolicyName[] => Object.keys(POLICIES) as PolicyName[];

/** A new instance of the named policy; an unknown name fails listing the known ones. */
export function createPolicy(name: string, config: RoutingConfig): RoutingPolicy {
  return getByName<PolicyFactory>(POLICIES, name, 'routing policy', 'routing.policy')(config);
}
