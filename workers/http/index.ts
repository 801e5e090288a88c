/** The vLLM-compatible HTTP facade of a worker. */
export { createHttpFacade, type HttpFacade, type HttpFacadeOptions } from './server.ts';
export {
  kvTransferParamsFor,
  readKvTransferParams,
  type KvTransferMode,
  type RemotePrefill,
} from './kv-transfer-params.ts';
export { parseChat, parseCompletion, type FacadeRequest } from './parse-request.ts';
export { createStopMatcher, type StopMatcher } from '../../common/stop-strings.ts';
