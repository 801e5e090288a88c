/**
 * BlockStored runs whose parent block the index does not know yet ("parent not found": the
 * router joined late, an event was lost, or events arrived out of order). The router hash of a
 * block depends on every token before it, so such a run cannot be indexed until its parent is.
 * It waits here, keyed by its parent's engine key, and is attached when a block with that key
 * gets indexed; runs whose parent never comes are dropped oldest first past `maxRuns`.
 *
 * Keys are 64-bit engine keys as (lo, hi); maps are keyed by a 53-bit digest of them and every
 * hit is checked against the full key.
 */
export interface ParkedRun {
  /** Engine key of the missing parent. */
  readonly parentLo: number;
  readonly parentHi: number;
  /** Engine keys of the run's blocks, (lo, hi) pairs. */
  readonly keys: Uint32Array;
  /** The event's token ids: blockSize per block. */
  readonly tokens: readonly number[];
  readonly blockSize: number;
  readonly loraName: string | null;
  readonly extraKeys: readonly unknown[] | null;
  /** Per block: 1 when a BlockRemoved arrived for it while parked. */
  readonly removed: Uint8Array;
}

const digest = (lo: number, hi: number) => (hi >>> 0) * 2097152 + ((lo >>> 0) >>> 11);

export class ParkedRuns {
  private readonly byParent = new Map<number, ParkedRun[]>();
  private readonly byBlock = new Map<number, ParkedRun[]>();
  /** Insertion order = age. */
  private readonly order = new Set<ParkedRun>();

  constructor(private readonly maxRuns: number) {}

  get count(): number {
    return this.order.size;
  }

  /** Parks a run; returns the runs dropped to respect the bound. */
  park(run: ParkedRun): ParkedRun[] {
    this.order.add(run);
    push(this.byParent, digest(run.parentLo, run.parentHi), run);
    for (let k = 0; k < run.keys.length; k += 2) push(this.byBlock, digest(run.keys[k]!, run.keys[k + 1]!), run);
    const dropped: ParkedRun[] = [];
    while (this.order.size > this.maxRuns) {
      const oldest = this.order.values().next().value as ParkedRun;
      this.unlink(oldest);
      dropped.push(oldest);
    }
    return dropped;
  }

  /** Removes and returns the runs waiting for the block with engine key (lo, hi). */
  takeChildren(lo: number, hi: number): ParkedRun[] {
    if (this.order.size === 0) return NONE;
    const waiting = this.byParent.get(digest(lo, hi));
    if (!waiting) return NONE;
    const children = waiting.filter((run) => run.parentLo === lo >>> 0 && run.parentHi === hi >>> 0);
    for (const child of children) this.unlink(child);
    return children;
  }

  /** Marks the parked block with engine key (lo, hi) removed; returns whether any was parked. */
  markRemoved(lo: number, hi: number): boolean {
    if (this.order.size === 0) return false;
    const runs = this.byBlock.get(digest(lo, hi));
    if (!runs) return false;
    let found = false;
    for (const run of runs) {
      for (let k = 0; k < run.keys.length; k += 2) {
        if (run.keys[k] === lo >>> 0 && run.keys[k + 1] === hi >>> 0 && run.removed[k >>> 1] === 0) {
          run.removed[k >>> 1] = 1;
          found = true;
          break;
        }
      }
      if (found) break;
    }
    return found;
  }

  clear(): void {
    this.byParent.clear();
    this.byBlock.clear();
    this.order.clear();
  }

  private unlink(run: ParkedRun): void {
    this.order.delete(run);
    pull(this.byParent, digest(run.parentLo, run.parentHi), run);
    for (let k = 0; k < run.keys.length; k += 2) pull(this.byBlock, digest(run.keys[k]!, run.keys[k + 1]!), run);
  }
}

const NONE: ParkedRun[] = [];

function push(map: Map<number, ParkedRun[]>, key: number, run: ParkedRun): void {
  const list = map.get(key);
  if (list) list.push(run);
  else map.set(key, [run]);
}

function pull(map: Map<number, ParkedRun[]>, key: number, run: ParkedRun): void {
  const list = map.get(key);
  if (!list) return;
  const at = list.indexOf(run);
  if (at !== -1) list.splice(at, 1);
  if (list.length === 0) map.delete(key);
}
