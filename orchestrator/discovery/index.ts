/** Discovery and health: where workers come from, and the live fleet built from them. */
export { createStaticDiscovery, type StaticDiscovery, type WorkerDiscovery, type WorkerSpec } from './discovery.ts';
export { createFleet, type Fleet, type FleetChange, type FleetOptions, type Placement } from './fleet.ts';
export {
  createHealthTracker,
  type HealthSnapshot,
  type HealthState,
  type HealthThresholds,
  type HealthTracker,
} from './health.ts';
export {
  createKvFeeds,
  type FeedSnapshot,
  type KvFeeds,
  type KvFeedsOptions,
  type SubscriberFactory,
} from './kv-feeds.ts';
export { connectable, hostOf, kvEventEndpointsFor, ranksOf } from './worker-endpoints.ts';
export { DEFAULT_PROFILE, type ResolvedProfile, resolveWorkerProfile } from './worker-profile.ts';
export {
  createWorkerHandle,
  type WorkerHandle,
  type WorkerHandleOptions,
  type WorkerSnapshot,
  type WorkerState,
} from './worker-handle.ts';
export { createDiscovery } from './from-config.ts';
export {
  createKubernetesDiscovery,
  loadKubernetesAccess,
  type KubernetesDiscovery,
  type KubernetesDiscoveryOptions,
} from './kubernetes-discovery.ts';
export {
  podVerdict,
  POD_CONTRACT,
  POD_PORTS,
  workersFromPods,
  type PodLike,
  type PodVerdict,
  type SkipReason,
} from './pod-worker.ts';
export {
  createTemplateCheck,
  PROBE_CHAT,
  type TemplateCheck,
  type TemplateCheckOptions,
  type TemplateCheckOutcome,
} from './template-check.ts';
