import { setFlagsFromString } from 'node:v8';
/**
 * Bounds this process's heap growth between full collections (`orchestrator.heap_growth_percent`;
 * 0 leaves V8's factor). V8 reads the flag at each collection, so setting it at start-up holds
 * for the process's whole life; it is process-wide, as the orchestrator is.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
