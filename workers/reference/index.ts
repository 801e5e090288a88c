/**
 * The reference engine's own parts: a tiny seeded transformer over a paged float32 KV pool, and
 * the TCP block transfer between workers. The block manager and scheduler come from
 * workers/engine; the assembler wires them to these.
 */
export { referenceSection, type ReferenceSection } from './config-section.ts';
export * from './kv/index.ts';
export { modelConfigFromSection } from './model-config-from-section.ts';
export * from './model/index.ts';
export * from './transfer/index.ts';
export * from './engine/index.ts';
