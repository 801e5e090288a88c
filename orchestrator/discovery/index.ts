/** Discovery and health: where workers come from, and the live fleet built from them. */
export { createStaticDiscovery, type StaticDiscovery, type WorkerDiscovery, type WorkerSpec } from './discovery.ts';
export { createFleet, type Fleet, type FleetChange, type FleetOptions, type Placement } from './fleet.ts';
export { createHealthTracker, type HealthSnapshot, type HealthState, type HealthThresholds, type HealthTracker } from './health.ts';
export { createKvFeeds, type FeedSnapshot, type KvFeeds, type KvFeedsOptions, type SubscriberFactory } from './kv-feeds.ts';
export { connectable, hostOf, kvEventEndpointsFor, ranksOf } from './worker-endpoints.ts';
export { createWorkerHandle, DEFAULT_PROFILE, type WorkerHandle, type WorkerHandleOptions, type WorkerSnapshot, type WorkerState } from './worker-handle.ts';
export { createTemplateCheck, firstDifference, PROBE_CHAT, type TemplateCheck, type TemplateCheckOptions, type TemplateCheckOutcome } from './template-check.ts';
