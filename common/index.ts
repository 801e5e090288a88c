export { createRealClock, createVirtualClock, realClock, type Clock, type VirtualClock } from './clock.ts';
export { loadConfig, parseConfig, type Config, type ConfigInput, type ConfigSources } from './config/index.ts';
export {
  codeFromGrpcStatus,
  ERROR_CODES,
  fail,
  isTandemError,
  ok,
  TandemError,
  toOpenAIErrorBody,
  toTandemError,
  type ErrorCode,
  type OpenAIErrorBody,
  type Result,
} from './errors.ts';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './log.ts';
export { createRng, type Rng } from './rng.ts';
