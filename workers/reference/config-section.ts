/**
 * The `worker.reference` config section. Its schema lives with the rest of the config in
 * common/config/sections/worker.ts (mounted there as `worker.reference`); this re-export keeps
 * the name the reference folder has always used. config-section.test.ts checks its defaults
 * against DEFAULT_REFERENCE_MODEL_CONFIG so the two cannot drift.
 */
export { referenceSection, type ReferenceConfig as ReferenceSection } from '../../common/config/sections/worker.ts';
