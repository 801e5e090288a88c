/** The worker process: an engine served over gRPC, vLLM's HTTP API and vLLM's KV events. */
export { ENGINE_FACTORIES, engineFactory, type EngineFactory, type EngineFactoryInput } from './engine-factory.ts';
export { startWorker, type RunningWorker, type StartWorkerOptions, type WorkerAddresses } from './start-worker.ts';
export { advertisedHost } from './addresses.ts';
