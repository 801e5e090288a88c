/** The worker side of vLLM's KV-event wire: a ZMQ PUB publisher with vLLM's replay ROUTER. */
export {
  createKvEventPublisher,
  type KvEventPublisher,
  type KvEventPublisherOptions,
  type KvEventPublisherStats,
} from './publisher.ts';
export { createReplayRing, type ReplayEntry, type ReplayRing } from './replay-ring.ts';
