/** The orchestrator side of vLLM's KV-event wire: one subscriber per worker (and DP rank). */
export {
  createKvEventSubscriber,
  type KvEventSubscriber,
  type KvEventSubscriberOptions,
  type KvEventSubscriberStats,
} from './subscriber.ts';
export {
  createKvEventSequencer,
  type KvEventSequencer,
  type KvEventSequencerOptions,
  type KvEventSequencerStats,
  type KvResetReason,
  type ReplayFn,
  type ReplayOutcome,
} from './sequencer.ts';
export { requestReplay, type ReplayRequest } from './replay-client.ts';
