export { loadConfig, parseConfig, type ConfigSources } from './load.ts';
export { configSchema, type Config, type ConfigInput } from './schema.ts';
export { processCount, queueTimeoutSeconds } from './sections/orchestrator.ts';
