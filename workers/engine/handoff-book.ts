/**
 * Blocks a prefill-only request holds for a remote decode, by handoff id, until released or
 * expired. Every hold lasts the same `timeoutMs`, so expiry order is insertion order and the
 * book is a Map walked from its oldest entry. Also counts distinct held blocks (a block shared
 * by two holds, a common prefix, counts once).
 */
export interface HeldHandoff {
  readonly handoffId: string;
  readonly requestId: string;
  /** In prompt order. */
  readonly blockIds: readonly number[];
  readonly numTokens: number;
  readonly expiresAtMs: number;
}

export interface HandoffBook {
  readonly size: number;
  /** Distinct blocks referenced by any hold. */
  readonly heldBlocks: number;
  /** Records a hold expiring `timeoutMs` after `nowMs`; returns it. */
  hold(
    handoffId: string,
    requestId: string,
    blockIds: readonly number[],
    numTokens: number,
    nowMs: number,
  ): HeldHandoff;
  has(handoffId: string): boolean;
  /** The hold under `handoffId`, left in place; undefined when there is none. */
  get(handoffId: string): HeldHandoff | undefined;
  /** Removes and returns a hold (release); undefined when there is none. */
  take(handoffId: string): HeldHandoff | undefined;
  /** Removes and returns every hold expired at `nowMs`, oldest first. */
  takeExpired(nowMs: number): readonly HeldHandoff[];
  nextExpiryMs(): number | undefined;
  /** Removes and returns every hold (engine close). */
  takeAll(): HeldHandoff[];
}

const NONE: readonly HeldHandoff[] = Object.freeze([]);

export function createHandoffBook(numBlocks: number, timeoutMs: number): HandoffBook {
  const holds = new Map<string, HeldHandoff>();
  const heldRefs = new Int32Array(numBlocks);
  let heldBlocks = 0;

  const forget = (hold: HeldHandoff) => {
    holds.delete(hold.handoffId);
    for (const id of hold.blockIds) if (--heldRefs[id]! === 0) heldBlocks--;
    return hold;
  };

  return {
    get size() {
      return holds.size;
    },
    get heldBlocks() {
      return heldBlocks;
    },
    hold(handoffId, requestId, blockIds, numTokens, nowMs) {
      if (holds.has(handoffId)) throw new Error(`handoff ${handoffId} is already held`);
      const hold: HeldHandoff = { handoffId, requestId, blockIds, numTokens, expiresAtMs: nowMs + timeoutMs };
      holds.set(handoffId, hold);
      for (const id of blockIds) if (heldRefs[id]!++ === 0) heldBlocks++;
      return hold;
    },
    has: (handoffId) => holds.has(handoffId),
    get: (handoffId) => holds.get(handoffId),
    take(handoffId) {
      const hold = holds.get(handoffId);
      return hold ? forget(hold) : undefined;
    },
    takeExpired(nowMs) {
      const oldest = holds.values().next().value;
      if (oldest === undefined || oldest.expiresAtMs > nowMs) return NONE;
      const expired: HeldHandoff[] = [];
      for (const hold of holds.values()) {
        if (hold.expiresAtMs > nowMs) break;
        expired.push(hold);
      }
      for (const hold of expired) forget(hold);
      return expired;
    },
    nextExpiryMs: () => holds.values().next().value?.expiresAtMs,
    takeAll() {
      const all = [...holds.values()];
      for (const hold of all) forget(hold);
      return all;
    },
  };
}
