/** The dispatcher: the orchestrator's ServingCore (decide, book, stream aggregated or disaggregated, retry, queue). */
export { createBookings, type Booking, type Bookings, type BookingShape, type BookingsOptions } from './booking.ts';
export {
  createCapacityQueue,
  type CapacityQueue,
  type CapacityQueueOptions,
  type QueueTicket,
} from './capacity-queue.ts';
export { createDispatcher, type Dispatcher, type DispatcherOptions } from './dispatcher.ts';
export { dispatcherSettingsFromConfig } from './settings.ts';
export { isRetryable, isWorkerFault } from './failures.ts';
export { streamAggregated, type AggregatedRun } from './serve-aggregated.ts';
export { streamDisaggregated, type DisaggregatedRun } from './serve-disaggregated.ts';
export type { DispatchContext, Progress } from './context.ts';
