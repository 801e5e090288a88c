/** The dispatcher: the orchestrator's ServingCore (route, book, stream, retry, queue). */
export { createCapacityQueue, type CapacityQueue, type CapacityQueueOptions, type QueueTicket } from './capacity-queue.ts';
export { createDispatcher, type Dispatcher, type DispatcherOptions } from './dispatcher.ts';
export { isRetryable, isWorkerFault } from './failures.ts';
