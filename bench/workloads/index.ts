export { exponentialDelayMs, poissonArrivals, varyingPoissonArrivals, type Arrivals } from './arrivals.ts';
export { createIndependentSource } from './independent-source.ts';
export {
  createBlockPrefixTrie,
  createTokenPrefixTrie,
  type BlockPrefixTrie,
  type TokenPrefixTrie,
} from './prefix-trie.ts';
export { parseSweep } from './rate-list.ts';
export { createWorkload, getWorkloadDefinition, workloadNames, WORKLOADS, type WorkloadName } from './registry.ts';
export { createSessionSource, type SessionScript, type SessionSourceOptions } from './session-source.ts';
export { parseTrace, type TraceEntry, type TracePrompt } from './trace-reader.ts';
export { REGULAR_VOCAB, VOCAB_SIZE } from './tokens.ts';
export type { BenchRequest, CompletionReport, ParamDoc, RequestSource, Workload, WorkloadDefinition } from './types.ts';
export { drainSource, type DrainedRequest, type DrainOptions } from './drain.ts';
export { describeWorkloads, sampleWorkload } from './describe.ts';
