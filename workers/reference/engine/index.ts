/** The assembled reference engine: the shared engine core and driver with the model and TCP transfer plugged in. */
export { createReferenceEngine, type ReferenceEngine, type ReferenceEngineDeps } from './reference-engine.ts';
export {
  referenceEngineOptionsFromConfig,
  resolveReferenceOptions,
  type ReferenceEngineOptions,
  type ResolvedReferenceOptions,
} from './options.ts';
export { createModelExecutor } from './model-executor.ts';
export { createTcpKvTransfer, type TcpKvTransferOptions } from './tcp-transfer.ts';
