export * from './shapes.ts';
export * from './chunk-template.ts';
export * from './sse-writer.ts';
export * from './sse-reader.ts';
export * from './errors.ts';
export * from './request-schema.ts';
export * from './parse-request.ts';
export * from './vllm-metric-names.ts';
