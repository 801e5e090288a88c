import { z } from 'zod';
import { disaggregationSection } from './sections/disaggregation.ts';
import { discoverySection } from './sections/discovery.ts';
import { logSection } from './sections/log.ts';
import { orchestratorSection } from './sections/orchestrator.ts';
import { plannerSection } from './sections/planner.ts';
import { routingSection } from './sections/routing.ts';
import { uiSection } from './sections/ui.ts';
import { upSection } from './sections/up.ts';
import { workerSection } from './sections/worker.ts';
import { workersSection } from './sections/workers.ts';

/**
 * Every knob Tandem has, one section per component (each section in its own file, defaults
 * beside the fields). A config file may hold any subset; every component reads the whole,
 * fully defaulted, frozen object.
 */
export const configSchema = z.strictObject({
  log: logSection.prefault({}),
  orchestrator: orchestratorSection.prefault({}),
  routing: routingSection.prefault({}),
  disaggregation: disaggregationSection.prefault({}),
  workers: workersSection,
  discovery: discoverySection.prefault({}),
  worker: workerSection.prefault({}),
  planner: plannerSection.prefault({}),
  ui: uiSection.prefault({}),
  up: upSection.prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
