/**
 * The most a prefix cache could serve: every distinct prefix computed once, everything else a
 * hit. For one request that is its `sharedPrefixTokens` (the longest prefix it shares with any
 * earlier request of the run), rounded down to whole blocks, since engines cache full blocks
 * only. With blockSize 1 the bound is per token. Null when there are no prompt tokens.
 */
export function hitRateUpperBound(
  requests: Iterable<{ readonly promptTokens: number; readonly sharedPrefixTokens: number }>,
  blockSize = 1,
): number | null {
  let prompt = 0;
  let reusable = 0;
  for (const request of requests) {
    prompt += request.promptTokens;
    reusable += reusableTokens(request.sharedPrefixTokens, blockSize);
  }
  return prompt > 0 ? reusable / prompt : null;
}

/** Tokens of a shared prefix a block-granular cache can serve. */
export function reusableTokens(sharedPrefixTokens: number, blockSize: number): number {
  return Math.floor(sharedPrefixTokens / blockSize) * blockSize;
}
