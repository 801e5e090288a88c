export { loadConfig, parseConfig, type ConfigSources } from './load.ts';
export { configSchema, type Config, type ConfigInput } from './schema.ts';
export { processCount } from './sections/orchestrator.ts';
