/**
 * KV-transfer links: what moving a prompt's KV blocks from a prefill worker to a decode worker
 * costs. A transfer takes `setupSeconds + bytes / (bandwidth * efficiency)`.
 *
 * Figures: NVLink 4 within a node (450 GB/s per direction, H100 datasheet); InfiniBand NDR
 * 400 Gb/s and RoCE 100 GbE line rates; TCP as 25 GbE with kernel-stack efficiency. Setup covers
 * the pull's control round trip (NIXL notification, descriptor exchange): a few microseconds on
 * RDMA fabrics in the best case, rounded up to what disaggregated-serving reports show end to end.
 */
export interface LinkProfile {
  readonly name: string;
  /** Line rate, bytes/s. */
  readonly bandwidth: number;
  /** Fraction of line rate a large transfer achieves. */
  readonly efficiency: number;
  /** Fixed cost per transfer, seconds. */
  readonly setupSeconds: number;
}

export const LINK_PROFILES = {
  nvlink: { name: 'nvlink', bandwidth: 450e9, efficiency: 0.8, setupSeconds: 0.0002 },
  'ib-400g': { name: 'ib-400g', bandwidth: 50e9, efficiency: 0.85, setupSeconds: 0.0005 },
  'roce-100g': { name: 'roce-100g', bandwidth: 12.5e9, efficiency: 0.8, setupSeconds: 0.001 },
  tcp: { name: 'tcp', bandwidth: 3.125e9, efficiency: 0.6, setupSeconds: 0.002 },
} as const satisfies Record<string, LinkProfile>;

export type LinkName = keyof typeof LINK_PROFILES;

/** Seconds to move `bytes` over `link`; zero bytes cost nothing (no pull is issued). */
export function transferSeconds(link: LinkProfile, bytes: number): number {
  if (bytes <= 0) return 0;
  return link.setupSeconds + bytes / (link.bandwidth * link.efficiency);
}
