import { createVirtualClock, type VirtualClock } from '../../../common/clock.ts';
import { parseConfig } from '../../../common/config/index.ts';
import { engineProfile } from '../../../common/profiles/index.ts';
import { createRoutingCore, type RoutingCore } from '../create-routing-core.ts';
import type { Candidate } from '../types.ts';

/** `n` healthy candidates named w0..w(n-1) on one profile. */
export function candidates(
  n: number,
  options: { gpu?: string; model?: string; blockSize?: number; prefix?: string } = {},
): Candidate[] {
  const profile = engineProfile(options.gpu ?? 'h100-sxm', options.model ?? 'qwen3-8b');
  return Array.from({ length: n }, (_, i) => ({
    id: `${options.prefix ?? 'w'}${i}`,
    role: 'both' as const,
    profile,
    blockSize: options.blockSize ?? 16,
    healthy: true,
  }));
}

/** A routing core from defaulted config with `routing` overrides, on a virtual clock. */
export function core(
  routing: Record<string, unknown> = {},
  clock: VirtualClock = createVirtualClock(),
): RoutingCore & { clock: VirtualClock } {
  const parsed = parseConfig({ routing });
  if (!parsed.ok) throw parsed.error;
  return { ...createRoutingCore(parsed.value.routing, { clock }), clock };
}

/** Token ids: `blocks` full blocks of `blockSize` starting at `start`. */
export const tokens = (count: number, start = 0): number[] => Array.from({ length: count }, (_, i) => start + i);
