export { streamCompletion, type CompletionTarget, type StreamMeasurement } from './completion-request.ts';
export { drive, type DriveOptions, type DriveResult, type StopReason } from './driver.ts';
export {
  startFakeServer,
  type CompletionBody,
  type FakeReply,
  type FakeServer,
  type FakeServerOptions,
  type ReceivedRequest,
} from './fake-server.ts';
export { createMonotonicClock } from '../../common/clock.ts';
export { createProgressDisplay, type ProgressDisplay, type ProgressOptions } from './progress.ts';
export { normalizeBase, runLive, type LiveOptions } from './run-live.ts';
export { benchLive, parseParams, type LiveFlags } from './command.ts';
