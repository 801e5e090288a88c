import type { BlockStored, ExternalBlockHash, KvEventBatch } from '../../../proto/kv-events/types.ts';
import { chainHashAt, createBlockHasher, hashChain, type BlockHashChain } from '../../hashing/index.ts';
import { isSalted, saltInto } from '../engine-key.ts';

/**
 * Deliberately simple models of the two index modes, for the conformance suite: strings and
 * bigints in plain Maps and arrays, no typed arrays, no bitsets, no slot reuse. They follow
 * the contracts written in precise-index.ts and approximate-index.ts; the fast indexes must
 * agree with them on every query and counter.
 */

const u64 = (hash: ExternalBlockHash): bigint => {
  if (typeof hash === 'bigint') return BigInt.asUintN(64, hash);
  let value = 0n;
  for (const byte of hash.subarray(Math.max(0, hash.length - 8))) value = (value << 8n) | BigInt(byte);
  return value;
};
const engineKey = (hash: ExternalBlockHash, group: number | null) => `${u64(hash)}/${group ?? 0}`;

/** Router hash of one block chained from `parent`. */
function routerHash(
  seed: number,
  parent: bigint,
  tokens: readonly number[],
  offset: number,
  blockSize: number,
  extra: unknown,
  loraName: string | null,
): bigint {
  const lo = Number(parent & 0xffffffffn);
  const hi = Number(parent >> 32n);
  let hash = chainHashAt(hashChain(seed, lo, hi, tokens, offset, blockSize, blockSize), 0);
  if (extra !== undefined && isSalted(extra, loraName)) {
    const out = new Uint32Array(2);
    saltInto(seed, Number(hash & 0xffffffffn), Number(hash >> 32n), extra, out, 0);
    hash = (BigInt(out[1]!) << 32n) | BigInt(out[0]!);
  }
  return hash;
}

interface RefRun {
  parent: string;
  keys: string[];
  event: BlockStored;
  removed: boolean[];
}

export interface RefPreciseTenant {
  blockSize: number;
  engine: Map<string, { router: bigint; count: number }>;
  refs: Map<bigint, number>;
  parked: RefRun[];
  counters: Record<
    | 'parentMissing'
    | 'parkedResolved'
    | 'parkedDropped'
    | 'removedUnknown'
    | 'blockSizeErrors'
    | 'malformedEvents'
    | 'otherMediumEvents'
    | 'conflicts'
    | 'blocksStored'
    | 'blocksRemoved',
    number
  >;
}

export class ReferencePreciseIndex {
  readonly tenants = new Map<string, RefPreciseTenant>();
  private readonly hasher;

  constructor(
    private readonly seed: number,
    private readonly defaultBlockSize: number,
    private readonly maxParkedRuns: number,
  ) {
    this.hasher = createBlockHasher(seed);
  }

  tenant(id: string, blockSize = this.defaultBlockSize): RefPreciseTenant {
    let t = this.tenants.get(id);
    if (!t) {
      const counters = {
        parentMissing: 0,
        parkedResolved: 0,
        parkedDropped: 0,
        removedUnknown: 0,
        blockSizeErrors: 0,
        malformedEvents: 0,
        otherMediumEvents: 0,
        conflicts: 0,
        blocksStored: 0,
        blocksRemoved: 0,
      };
      t = { blockSize, engine: new Map(), refs: new Map(), parked: [], counters };
      this.tenants.set(id, t);
    }
    return t;
  }

  clear(id: string): void {
    const t = this.tenants.get(id);
    if (!t) return;
    t.engine.clear();
    t.refs.clear();
    t.parked = [];
  }

  applyBatch(id: string, batch: KvEventBatch): void {
    const t = this.tenant(id);
    for (const event of batch.events) {
      if (event.type === 'AllBlocksCleared') this.clear(id);
      else if (event.medium !== null && event.medium !== 'GPU') t.counters.otherMediumEvents++;
      else if (event.type === 'BlockRemoved')
        for (const hash of event.blockHashes) this.remove(t, engineKey(hash, event.groupIdx));
      else this.stored(t, event);
    }
  }

  private stored(t: RefPreciseTenant, event: BlockStored): void {
    if (event.blockSize !== t.blockSize) {
      t.counters.blockSizeErrors++;
      return;
    }
    if (event.blockHashes.length === 0) return;
    if (event.tokenIds.length !== event.blockSize * event.blockHashes.length) {
      t.counters.malformedEvents++;
      return;
    }
    const keys = event.blockHashes.map((h) => engineKey(h, event.groupIdx));
    const run: RefRun = { parent: '', keys, event, removed: keys.map(() => false) };
    if (event.parentBlockHash === null) {
      const [lo, hi] = this.hasher.root(event.loraName ?? undefined);
      this.attach(t, run, (BigInt(hi) << 32n) | BigInt(lo));
      return;
    }
    run.parent = engineKey(event.parentBlockHash, event.groupIdx);
    const parent = t.engine.get(run.parent);
    if (parent) {
      this.attach(t, run, parent.router);
      return;
    }
    t.counters.parentMissing++;
    t.parked.push(run);
    while (t.parked.length > this.maxParkedRuns) {
      t.parked.shift();
      t.counters.parkedDropped++;
    }
  }

  private attach(t: RefPreciseTenant, first: RefRun, firstParent: bigint): void {
    const work: [RefRun, bigint][] = [[first, firstParent]];
    while (work.length > 0) {
      const [run, start] = work.pop()!;
      let parent = start;
      run.keys.forEach((key, k) => {
        const e = run.event;
        parent = routerHash(this.seed, parent, e.tokenIds, k * e.blockSize, e.blockSize, e.extraKeys?.[k], e.loraName);
        if (!run.removed[k]) this.store(t, key, parent);
        const children = t.parked.filter((p) => p.parent === key);
        t.parked = t.parked.filter((p) => p.parent !== key);
        for (const child of children) {
          t.counters.parkedResolved++;
          work.push([child, parent]);
        }
      });
    }
  }

  private store(t: RefPreciseTenant, key: string, router: bigint): void {
    t.counters.blocksStored++;
    const known = t.engine.get(key);
    if (known) {
      if (known.router !== router) t.counters.conflicts++;
      known.count++;
      return;
    }
    t.engine.set(key, { router, count: 1 });
    t.refs.set(router, (t.refs.get(router) ?? 0) + 1);
  }

  private remove(t: RefPreciseTenant, key: string): void {
    const known = t.engine.get(key);
    if (!known) {
      for (const run of t.parked) {
        const k = run.keys.findIndex((candidate, i) => candidate === key && !run.removed[i]);
        if (k !== -1) {
          run.removed[k] = true;
          t.counters.blocksRemoved++;
          return;
        }
      }
      t.counters.removedUnknown++;
      return;
    }
    t.counters.blocksRemoved++;
    if (--known.count > 0) return;
    t.engine.delete(key);
    const refs = t.refs.get(known.router)! - 1;
    if (refs === 0) t.refs.delete(known.router);
    else t.refs.set(known.router, refs);
  }

  overlap(id: string, chain: BlockHashChain): number {
    const t = this.tenants.get(id);
    if (!t || t.blockSize !== chain.blockSize) return 0;
    let i = 0;
    while (i < chain.length && t.refs.has(chainHashAt(chain, i))) i++;
    return i;
  }
}

/** Approximate mode: per tenant, router hash -> expiry; refresh moves to the back. */
export class ReferenceApproximateIndex {
  /** Registration order matters: ties in pruning go to the earliest-registered tenant. */
  readonly tenants = new Map<string, { blockSize: number; entries: Map<bigint, number>; expired: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxBlocks: number,
    private readonly pruneTo: number,
  ) {}

  tenant(id: string, blockSize: number) {
    let t = this.tenants.get(id);
    if (!t) {
      t = { blockSize, entries: new Map(), expired: 0 };
      this.tenants.set(id, t);
    }
    return t;
  }

  record(id: string, chain: BlockHashChain, nowMs: number): void {
    const t = this.tenant(id, chain.blockSize);
    if (t.blockSize !== chain.blockSize) return;
    for (let i = 0; i < chain.length; i++) {
      const hash = chainHashAt(chain, i);
      t.entries.delete(hash);
      t.entries.set(hash, nowMs + this.ttlMs);
    }
    if (this.total() > this.maxBlocks) {
      while (this.total() > this.pruneTo) {
        let oldest: { entries: Map<bigint, number>; expired: number } | undefined;
        let at = Infinity;
        for (const tenant of this.tenants.values()) {
          const head = [...tenant.entries.values()][0];
          if (head !== undefined && head < at) {
            at = head;
            oldest = tenant;
          }
        }
        const first = [...oldest!.entries.keys()][0]!;
        oldest!.entries.delete(first);
        oldest!.expired++;
      }
    }
  }

  expire(nowMs: number): void {
    for (const t of this.tenants.values()) {
      for (const [hash, at] of [...t.entries]) {
        if (at <= nowMs) {
          t.entries.delete(hash);
          t.expired++;
        }
      }
    }
  }

  clear(id: string): void {
    this.tenants.get(id)?.entries.clear();
  }

  total(): number {
    let n = 0;
    for (const t of this.tenants.values()) n += t.entries.size;
    return n;
  }

  overlap(id: string, chain: BlockHashChain): number {
    const t = this.tenants.get(id);
    if (!t || t.blockSize !== chain.blockSize) return 0;
    let i = 0;
    while (i < chain.length && t.entries.has(chainHashAt(chain, i))) i++;
    return i;
  }
}
