import type { Config } from '../common/config/index.ts';
import { decisionToJson } from './decision-json.ts';
import { createPlannerFromConfig } from './from-config.ts';
import { loadObservationsFile } from './observe/index.ts';

/**
 * `tandem planner --once --observations FILE`: feeds the file's observations (one object, or an
 * array oldest first) to a fresh planner and returns its one decision as JSON. Throws a
 * TandemError (invalid_request) for a bad file or config.
 */
export function planOnce(config: Readonly<Config>, observationsFile: string, nowMs: number): Record<string, unknown> {
  const built = createPlannerFromConfig(config);
  if (!built.ok) throw built.error;
  const observations = loadObservationsFile(observationsFile, nowMs, config.planner.interval_s);
  if (!observations.ok) throw observations.error;
  for (const observation of observations.value) built.value.planner.observe(observation);
  const last = observations.value.at(-1)!;
  return decisionToJson(built.value.planner.decide(Math.max(nowMs, last.atMs)));
}
