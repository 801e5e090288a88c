export { decideDisaggregation, type DecideInput } from './decide.ts';
export {
  priceDecodeCandidate,
  selectDecodeWorker,
  type DecodeCandidateInput,
  type DecodeSelectionInput,
} from './decode-selection.ts';
export { createDisaggregator, type Disaggregator, type DisaggregatorDeps } from './disaggregator.ts';
export { disaggOptionsFromConfig } from './options.ts';
export { comparePlacements, localPrefill, type LocalPrefillInput, type PlacementInput } from './placement.ts';
export type {
  DecodeCandidateReport,
  DecodeLoad,
  DecodeSelection,
  DecodeTerms,
  DisaggBookings,
  DisaggDecision,
  DisaggMode,
  DisaggOptions,
  PlacementTerms,
} from './types.ts';
