/** A map from data values to pixels, with the ticks an axis draws. */
export interface Scale {
  readonly kind: 'linear' | 'log';
  /** Data value -> pixel. */
  map(value: number): number;
  /** Labelled ticks, in data values. */
  readonly ticks: readonly number[];
  /** Unlabelled ticks between them (log scales: 2..9 x each decade). */
  readonly minorTicks: readonly number[];
  readonly domain: readonly [number, number];
}

/** When a log axis is worth it: every value positive and the largest at least this many times the smallest. */
export const LOG_RANGE_RATIO = 20;

export function wantsLog(values: readonly number[]): boolean {
  if (values.length < 2 || values.some((v) => !(v > 0))) return false;
  return Math.max(...values) / Math.min(...values) >= LOG_RANGE_RATIO;
}

/** A 1-2-5 step near range / target, and the ticks on its multiples covering [min, max]. */
export function niceTicks(min: number, max: number, target = 5): { ticks: number[]; domain: [number, number] } {
  if (!(max > min)) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, target);
  }
  const raw = (max - min) / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return { ticks, domain: [lo, hi] };
}

export function linearScale(
  values: readonly number[],
  range: readonly [number, number],
  options: { includeZero?: boolean; domain?: readonly [number, number] } = {},
): Scale {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (options.includeZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  // 4% headroom, so a line at the maximum does not run along the frame.
  const nice = options.domain ? niceTicks(options.domain[0], options.domain[1]) : niceTicks(lo, hi + (hi - lo) * 0.04);
  const domain = options.domain ?? nice.domain;
  const [r0, r1] = range;
  const span = domain[1] - domain[0] || 1;
  return {
    kind: 'linear',
    map: (v) => r0 + ((v - domain[0]) / span) * (r1 - r0),
    ticks: nice.ticks.filter((t) => t >= domain[0] - 1e-9 && t <= domain[1] + 1e-9),
    minorTicks: [],
    domain: [domain[0], domain[1]],
  };
}

/** Whole decades covering the values; 2 and 5 labelled too when there are few decades. */
export function logScale(values: readonly number[], range: readonly [number, number]): Scale {
  const positive = values.filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...positive)));
  let hi = Math.ceil(Math.log10(Math.max(...positive)));
  if (hi === lo) hi = lo + 1;
  const decades = hi - lo;
  const ticks: number[] = [];
  const minorTicks: number[] = [];
  for (let e = lo; e <= hi; e++) {
    const base = 10 ** e;
    ticks.push(Number(base.toPrecision(12)));
    if (e === hi) break;
    for (let m = 2; m <= 9; m++) {
      const v = Number((m * base).toPrecision(12));
      if (decades <= 2 && (m === 2 || m === 5)) ticks.push(v);
      else minorTicks.push(v);
    }
  }
  const [r0, r1] = range;
  return {
    kind: 'log',
    map: (v) => r0 + ((Math.log10(v) - lo) / decades) * (r1 - r0),
    ticks,
    minorTicks,
    domain: [10 ** lo, 10 ** hi],
  };
}

/** 1.5k, 20M, 0.05, 12: short tick labels with at most three significant digits. */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  const units: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, suffix] of units) if (abs >= size) return `${trim(value / size)}${suffix}`;
  return trim(value);
}

function trim(value: number): string {
  return String(Number(value.toPrecision(3)));
}
