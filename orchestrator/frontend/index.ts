export { createAdmissionQueue, type AdmissionOptions, type AdmissionQueue } from './admission.ts';
export { toHttpError } from './http-errors.ts';
export { createRequestParsers, type OutputOptions, type ParsedRequest, type RequestParsers } from './parse-request.ts';
export { prepareRequest, type PreparedRequest } from './prepare-request.ts';
export { runGeneration, STOP_DRAIN_MS, type OutputEvent } from './run-generation.ts';
export { createFrontend, type FrontendOptions, type OrchestratorConfig } from './server.ts';
export { CLOSE_FLUSH_MS, closeFrontend, trackOpenResponses, type OpenResponses } from './open-responses.ts';
export { createStopMatcher, type StopMatcher } from '../../common/stop-strings.ts';
export { registerUiRoutes, type UiRoutesOptions } from './ui-routes.ts';
