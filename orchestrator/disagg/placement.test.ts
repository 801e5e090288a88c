import { describe, expect, it } from 'vitest';
import { engineProfile, forwardSeconds, prefillSeconds } from '../../common/profiles/index.ts';
import { comparePlacements, localPrefill, queuedPrefillSeconds, type PlacementInput } from './placement.ts';

// Qwen3-32B on 2 x H100 (the mixed-isl fleet): a 4,000-token prefill alone takes 0.270 s, a
// 16,000-token one 1.260 s; a decode step of 32 sequences over 1,000 tokens each 0.0157 s.
const profile = engineProfile('h100-sxm', 'qwen3-32b', 2);

/** Both placements for `tokens` uncached tokens: local beside `decoding` sequences of 1,000-token context. */
function placements(
  tokens: number,
  decoding: number,
  remote: { queueSeconds: number; transferSeconds: number },
  local: { queueSeconds: number } = { queueSeconds: 0 },
  stallWeight = 1,
  ttftTargetSeconds = Number.POSITIVE_INFINITY,
): PlacementInput {
  const here = localPrefill(profile, {
    newTokens: tokens,
    cachedTokens: 0,
    decodeSequences: decoding,
    decodeContextTokens: decoding * 1000,
  });
  return {
    local: { queueSeconds: local.queueSeconds, ...here, stalledSequences: decoding },
    remote: { ...remote, prefillSeconds: prefillSeconds(profile, tokens) },
    stallWeight,
    ttftTargetSeconds,
  };
}

describe('localPrefill', () => {
  it('is the prompt alone on an idle worker, with no stall', () => {
    const idle = localPrefill(profile, {
      newTokens: 4000,
      cachedTokens: 0,
      decodeSequences: 0,
      decodeContextTokens: 0,
    });
    expect(idle.prefillSeconds).toBeCloseTo(prefillSeconds(profile, 4000), 9);
    expect(idle.stallSeconds).toBe(0);
  });

  it('chunks a long prompt beside the decode batch: each decoding sequence waits about the prefill time', () => {
    const batch = { decodeSequences: 32, decodeContextTokens: 32_000 };
    const busy = localPrefill(profile, { newTokens: 16_000, cachedTokens: 0, ...batch, chunkTokens: 8192 });
    const step = forwardSeconds(profile, { prefill: [], ...batch });
    // Two chunks (8,192 + 7,808 tokens), each carrying the 32 decodes.
    const chunks = [
      { newTokens: 8192, contextTokens: 0 },
      { newTokens: 7808, contextTokens: 8192 },
    ].map((chunk) => forwardSeconds(profile, { prefill: [chunk], ...batch }));
    expect(busy.prefillSeconds).toBeCloseTo(chunks[0]! + chunks[1]!, 9);
    expect(busy.stallSeconds).toBeCloseTo(busy.prefillSeconds - 2 * step, 9);
    // Hand check: about 1.27 s of prefill, about 1.23 s of stall for every one of the 32.
    expect(busy.prefillSeconds).toBeGreaterThan(1.25);
    expect(busy.prefillSeconds).toBeLessThan(1.3);
    expect(busy.stallSeconds).toBeGreaterThan(1.2);
  });
});

describe('queuedPrefillSeconds', () => {
  // The routing cost model's rate per queued token: a 2,048-token chunk's time / 2,048 (66.1 us here).
  const perToken = prefillSeconds(profile, 2048) / 2048;
  const load = (reported: number, booked: number) => ({
    queuedPrefillTokens: reported,
    booked: { inflightRequests: 1, queuedPrefillTokens: booked, activeDecodeBlocks: 0 },
  });

  it('prices the queued tokens the load book reports when they are at least what the router booked', () => {
    expect(perToken * 1e6).toBeCloseTo(66.06, 1);
    expect(queuedPrefillSeconds(profile, load(15_000, 12_000))).toBeCloseTo(15_000 * perToken, 12); // 0.991 s
  });

  it("floors them by the router's own bookings: a report that dropped a prompt still being prefilled does not empty the queue", () => {
    // 12,000 tokens booked and not yet answered by a first token; the corrected report says 0.
    expect(queuedPrefillSeconds(profile, load(0, 12_000))).toBeCloseTo(12_000 * perToken, 12); // 0.793 s
    expect(queuedPrefillSeconds(profile, load(0, 0))).toBe(0);
  });
});

describe('comparePlacements', () => {
  it('keeps a medium prompt on an idle decode worker: nothing to stall, and remote adds the transfer', () => {
    // Local 0.270 s; remote 0.270 s + 0.025 s of transfer with an empty prefill queue.
    const terms = comparePlacements(placements(4000, 0, { queueSeconds: 0, transferSeconds: 0.025 }));
    expect(terms.remote).toBe(false);
    expect(terms.stallSeconds).toBe(0);
    expect(terms.localCostSeconds).toBeCloseTo(0.27, 2);
    expect(terms.remoteTtftSeconds).toBeCloseTo(0.295, 2);
  });

  it('sends a long prompt on a busy decode batch remote', () => {
    // Local: 1.27 s + 1 x 1.23 s x 32 sequences = about 40.7 s; remote 1.26 + 0.5 queued + 0.1 transfer = 1.86 s.
    const terms = comparePlacements(placements(16_000, 32, { queueSeconds: 0.5, transferSeconds: 0.1 }));
    expect(terms.remote).toBe(true);
    expect(terms.remoteTtftSeconds).toBeCloseTo(1.86, 2);
    expect(terms.localCostSeconds).toBeGreaterThan(40);
    // The TTFT alone would be shorter locally: it is the stalled batch that sends it away.
    expect(terms.localTtftSeconds).toBeLessThan(terms.remoteTtftSeconds);
  });

  it('keeps a prompt local when the prefill pool is saturated', () => {
    // 20 s queued on the best prefill worker: remote 21.4 s; local with 8 decoding: 1.27 + 8 x 1.2 = about 11 s.
    const terms = comparePlacements(placements(16_000, 8, { queueSeconds: 20, transferSeconds: 0.1 }));
    expect(terms.remote).toBe(false);
    expect(terms.localCostSeconds).toBeLessThan(12);
    expect(terms.remoteTtftSeconds).toBeCloseTo(21.36, 2);
  });

  it('weighs the stall by stall_weight, and a tie stays local', () => {
    const input = placements(16_000, 8, { queueSeconds: 2, transferSeconds: 0.1 });
    expect(comparePlacements(input).remote).toBe(true); // 3.36 s against about 11 s
    expect(comparePlacements({ ...input, stallWeight: 0 }).remote).toBe(false); // against 1.27 s
    const tie: PlacementInput = {
      local: { queueSeconds: 0.5, prefillSeconds: 0.5, stallSeconds: 0, stalledSequences: 0 },
      remote: { queueSeconds: 0.25, prefillSeconds: 0.5, transferSeconds: 0.25 },
      stallWeight: 1,
      ttftTargetSeconds: Number.POSITIVE_INFINITY,
    };
    expect(comparePlacements(tie)).toMatchObject({ localCostSeconds: 1, remoteTtftSeconds: 1, remote: false });
  });

  it('takes the one placement whose expected TTFT meets the target, whatever the stall; else the cheaper', () => {
    // 8,000 tokens (0.58 s alone) beside 32 decoding sequences, 1 s queued on the prefill pool:
    // remote 1.0 + 0.58 + 0.05 = 1.63 s misses a 1 s target, local about 0.6 s meets it.
    const feasible = comparePlacements(
      placements(8000, 32, { queueSeconds: 1, transferSeconds: 0.05 }, undefined, 1, 1),
    );
    expect(feasible.localTtftSeconds).toBeLessThan(1);
    expect(feasible.remoteTtftSeconds).toBeGreaterThan(1);
    expect(feasible.localCostSeconds).toBeGreaterThan(feasible.remoteTtftSeconds); // the stall alone would send it away
    expect(feasible.remote).toBe(false);
    // With the prefill pool idle both meet it: the stall decides, remote.
    expect(
      comparePlacements(placements(8000, 32, { queueSeconds: 0, transferSeconds: 0.05 }, undefined, 1, 1)).remote,
    ).toBe(true);
    // 16,000 tokens miss 1 s on either side (1.26 s alone): the stall decides, remote.
    const hopeless = comparePlacements(
      placements(16_000, 32, { queueSeconds: 1, transferSeconds: 0.1 }, undefined, 1, 1),
    );
    expect(hopeless.localTtftSeconds).toBeGreaterThan(1);
    expect(hopeless.remote).toBe(true);
    // Only remote meets it (a backed-up decode worker): remote, even with no batch to stall.
    const busyLocal = comparePlacements(
      placements(4000, 0, { queueSeconds: 0, transferSeconds: 0.025 }, { queueSeconds: 2 }, 1, 1),
    );
    expect(busyLocal.remote).toBe(true);
  });
});
