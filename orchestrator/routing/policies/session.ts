import { murmur3x86128 } from '../../hashing/index.ts';
import { argminAll, type PolicyFactory } from '../policy.ts';

const encoder = new TextEncoder();
const hash32 = (text: string): number => murmur3x86128(encoder.encode(text), 0x5e55)[0]!;

interface Ring {
  /** Sorted ring positions (uint32). */
  readonly points: Uint32Array;
  /** Index into the candidate list of the worker at each point. */
  readonly owners: Int32Array;
}

function buildRing(ids: readonly string[], virtualNodes: number): Ring {
  const entries: [number, number][] = [];
  ids.forEach((id, owner) => {
    for (let v = 0; v < virtualNodes; v++) entries.push([hash32(`${id}#${v}`), owner]);
  });
  entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { points: Uint32Array.from(entries, (e) => e[0]), owners: Int32Array.from(entries, (e) => e[1]) };
}

/**
 * `session`: consistent hashing of the session key (a session header or the body's `user`) on
 * a ring of `virtual_nodes` points per worker, built over every candidate, healthy or not, so a
 * worker that flaps does not remap everyone else. When the target is not eligible (unhealthy,
 * or held back by the hotspot guard) the request spills to the next eligible worker clockwise,
 * which spreads a lost worker's sessions over the others. No session key: least loaded.
 */
export const createSessionPolicy: PolicyFactory = (config) => {
  const virtualNodes = config.session.virtual_nodes;
  let cachedKey = '';
  let ring: Ring = { points: new Uint32Array(0), owners: new Int32Array(0) };
  return {
    name: 'session',
    choose({ eligible, all, sessionKey, tieBreak }) {
      if (sessionKey === undefined || sessionKey === '') {
        for (const c of eligible) c.score = c.load.inflightRequests;
        const chosen = tieBreak(argminAll(eligible, (c) => c.load.inflightRequests));
        return { chosen, reason: `no session key: least loaded ${chosen.id}` };
      }
      const key = all.map((c) => c.id).join('\n');
      if (key !== cachedKey) {
        ring = buildRing(
          all.map((c) => c.id),
          virtualNodes,
        );
        cachedKey = key;
      }
      const h = hash32(sessionKey);
      // First point at or after h (wrapping), then clockwise to the first eligible owner.
      let lo = 0;
      let hi = ring.points.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ring.points[mid]! < h) lo = mid + 1;
        else hi = mid;
      }
      const target = all[ring.owners[lo % ring.points.length]!]!;
      for (let step = 0; step < ring.points.length; step++) {
        const owner = all[ring.owners[(lo + step) % ring.points.length]!]!;
        if (!owner.eligible) continue;
        owner.score = step;
        if (owner === target) return { chosen: owner, reason: `session key maps to ${owner.id}` };
        return {
          chosen: owner,
          reason: `session target ${target.id} is not eligible (${target.excluded ?? 'excluded'}): spilled over to ${owner.id}, next on the ring`,
        };
      }
      // Unreachable while `eligible` is non-empty: every candidate owns points on the ring.
      return { chosen: tieBreak(eligible), reason: 'no eligible worker on the ring' };
    },
  };
};
