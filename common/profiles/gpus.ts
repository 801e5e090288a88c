/**
 * GPU profiles: the figures the roofline timing model needs. One row per GPU kind; names are
 * kebab-case and are what configs and --gpu flags use.
 *
 * Sources (vendor datasheets; dense figures, i.e. without 2:4 sparsity):
 * - h100-sxm: NVIDIA H100 datasheet, SXM5: 989 TFLOP/s BF16, 3.35 TB/s HBM3, 80 GB, NVLink 900 GB/s.
 * - h200: NVIDIA H200 datasheet, SXM: 989 TFLOP/s BF16, 4.8 TB/s HBM3e, 141 GB, NVLink 900 GB/s.
 * - a100-80g: NVIDIA A100 datasheet, 80GB SXM: 312 TFLOP/s BF16, 2.039 TB/s HBM2e, NVLink 600 GB/s.
 * - l40s: NVIDIA L40S datasheet: 362 TFLOP/s BF16 (733 with sparsity), 864 GB/s GDDR6, 48 GB,
 *   no NVLink (PCIe Gen4 x16, 32 GB/s per direction).
 * - a10g: AWS G5 instances; NVIDIA publishes no A10G datasheet. It is a GA102 part like the A10,
 *   whose datasheet gives 125 TFLOP/s BF16, 600 GB/s GDDR6, 24 GB; used here as stated. PCIe Gen4.
 * - h20: NVIDIA H20 (export variant of Hopper) as published by NVIDIA partners: 148 TFLOP/s
 *   BF16, 4.0 TB/s HBM3, 96 GB, NVLink 900 GB/s.
 * - b200: NVIDIA HGX B200 datasheet, per GPU: 2.25 PFLOP/s BF16 dense (4.5 with sparsity),
 *   7.7 TB/s HBM3e, 180 GB, NVLink 5 1.8 TB/s.
 */
export interface GpuProfile {
  readonly name: string;
  /** Peak dense BF16 tensor throughput, FLOP/s. */
  readonly peakFlops: number;
  /** HBM (or GDDR) bandwidth, bytes/s. */
  readonly memoryBandwidth: number;
  /** Device memory, bytes. */
  readonly memoryBytes: number;
  /** GPU-to-GPU bandwidth inside a node (NVLink, or PCIe when there is none), bytes/s per direction. */
  readonly interconnectBandwidth: number;
}

const TERA = 1e12;
const GB = 1e9;

export const GPU_PROFILES = {
  'h100-sxm': {
    name: 'h100-sxm',
    peakFlops: 989 * TERA,
    memoryBandwidth: 3.35 * TERA,
    memoryBytes: 80 * GB,
    interconnectBandwidth: 450 * GB,
  },
  h200: {
    name: 'h200',
    peakFlops: 989 * TERA,
    memoryBandwidth: 4.8 * TERA,
    memoryBytes: 141 * GB,
    interconnectBandwidth: 450 * GB,
  },
  'a100-80g': {
    name: 'a100-80g',
    peakFlops: 312 * TERA,
    memoryBandwidth: 2.039 * TERA,
    memoryBytes: 80 * GB,
    interconnectBandwidth: 300 * GB,
  },
  l40s: {
    name: 'l40s',
    peakFlops: 362 * TERA,
    memoryBandwidth: 0.864 * TERA,
    memoryBytes: 48 * GB,
    interconnectBandwidth: 32 * GB,
  },
  a10g: {
    name: 'a10g',
    peakFlops: 125 * TERA,
    memoryBandwidth: 0.6 * TERA,
    memoryBytes: 24 * GB,
    interconnectBandwidth: 32 * GB,
  },
  h20: {
    name: 'h20',
    peakFlops: 148 * TERA,
    memoryBandwidth: 4.0 * TERA,
    memoryBytes: 96 * GB,
    interconnectBandwidth: 450 * GB,
  },
  b200: {
    name: 'b200',
    peakFlops: 2250 * TERA,
    memoryBandwidth: 7.7 * TERA,
    memoryBytes: 180 * GB,
    interconnectBandwidth: 900 * GB,
  },
} as const satisfies Record<string, GpuProfile>;
// NVLink figures above are per direction (the datasheets' 900 GB/s and 1.8 TB/s are bidirectional).

export type GpuName = keyof typeof GPU_PROFILES;
