import { formatTick, linearScale, logScale, wantsLog, type Scale } from './scale.ts';

export interface ChartPoint {
  readonly x: number;
  /** null leaves a gap in the line. */
  readonly y: number | null;
}

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly ChartPoint[];
  /** `step`: the value holds until the next point (replica counts). Default `line`. */
  readonly shape?: 'line' | 'step';
  /** For steps: the last value holds until this x (the run's end). */
  readonly stepUntil?: number;
  /** A reference line (an upper bound): dashed, grey, no markers. */
  readonly reference?: boolean;
  readonly dashed?: boolean;
}

export interface LineChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
  /** `auto` (default): log when every value is positive and they span 20x or more. */
  readonly yScale?: 'auto' | 'linear' | 'log';
  readonly xScale?: 'auto' | 'linear' | 'log';
  /** Fixed y range for a linear axis (hit rates: [0, 1]). */
  readonly yDomain?: readonly [number, number];
  readonly yTickFormat?: (value: number) => string;
  readonly width?: number;
  readonly height?: number;
}

/** Okabe-Ito: distinguishable with the common colour-vision deficiencies. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';
/** One marker shape per series as well as a colour, so overlapping or grey-printed lines stay apart. */
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'triangle-down'] as const;

function marker(shape: (typeof MARKERS)[number], cx: number, cy: number, fill: string): string {
  const r = 4;
  const poly = (pts: [number, number][]) =>
    `<polygon points="${pts.map(([px, py]) => `${round(cx + px)},${round(cy + py)}`).join(' ')}" fill="${fill}"/>`;
  switch (shape) {
    case 'circle':
      return `<circle cx="${cx}" cy="${cy}" r="${r - 0.5}" fill="${fill}"/>`;
    case 'square':
      return `<rect x="${round(cx - r + 0.5)}" y="${round(cy - r + 0.5)}" width="${2 * r - 1}" height="${2 * r - 1}" fill="${fill}"/>`;
    case 'triangle':
      return poly([
        [0, -r - 0.5],
        [r, r - 0.5],
        [-r, r - 0.5],
      ]);
    case 'diamond':
      return poly([
        [0, -r - 0.5],
        [r + 0.5, 0],
        [0, r + 0.5],
        [-r - 0.5, 0],
      ]);
    case 'triangle-down':
      return poly([
        [0, r + 0.5],
        [r, -r + 0.5],
        [-r, -r + 0.5],
      ]);
  }
}

/**
 * A self-contained SVG line chart: title, both axes with ticks, tick labels and grid, axis
 * labels, a legend, markers at data points, log scales where the range calls for one (labelled
 * "log scale" on the axis). Plain SVG 1.1 that any browser and GitHub render.
 */
export function renderLineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 760;
  const height = spec.height ?? 440;
  const legendWidth = Math.min(260, 40 + 7 * Math.max(8, ...spec.series.map((s) => s.name.length)));
  const plot = { left: 78, right: width - legendWidth - 20, top: 48, bottom: height - 62 };
  const points = spec.series.flatMap((s) =>
    s.points.filter((p): p is { x: number; y: number } => p.y !== null && Number.isFinite(p.y) && Number.isFinite(p.x)),
  );
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(spec.title)}">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${(plot.left + plot.right) / 2}" y="28" text-anchor="middle" font-size="16" font-weight="bold" ${FONT}>${escapeXml(spec.title)}</text>`,
  ];
  if (points.length === 0) {
    out.push(
      `<text x="${(plot.left + plot.right) / 2}" y="${(plot.top + plot.bottom) / 2}" text-anchor="middle" font-size="14" fill="#666666" ${FONT}>no data</text>`,
      '</svg>',
    );
    return `${out.join('\n')}\n`;
  }

  const xs = [
    ...points.map((p) => p.x),
    ...spec.series.flatMap((s) => (s.stepUntil === undefined ? [] : [s.stepUntil])),
  ];
  const ys = points.map((p) => p.y);
  const xLog = spec.xScale === 'log' || (spec.xScale === 'auto' && wantsLog(xs));
  const yLog = !spec.yDomain && (spec.yScale === 'log' || ((spec.yScale ?? 'auto') === 'auto' && wantsLog(ys)));
  const x = xLog
    ? logScale(xs, [plot.left, plot.right])
    : linearScale(xs, [plot.left, plot.right], { includeZero: true });
  const y = yLog
    ? logScale(ys, [plot.bottom, plot.top])
    : linearScale(ys, [plot.bottom, plot.top], spec.yDomain ? { domain: spec.yDomain } : { includeZero: true });
  const yFormat = spec.yTickFormat ?? formatTick;

  out.push(...axis(x, 'x', plot, formatTick), ...axis(y, 'y', plot, yFormat));
  out.push(
    `<rect x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${plot.bottom - plot.top}" fill="none" stroke="#333333" stroke-width="1"/>`,
  );
  out.push(
    `<text x="${(plot.left + plot.right) / 2}" y="${height - 18}" text-anchor="middle" font-size="13" ${FONT}>${escapeXml(spec.xLabel + (xLog ? ' (log scale)' : ''))}</text>`,
  );
  const yMid = (plot.top + plot.bottom) / 2;
  out.push(
    `<text x="20" y="${yMid}" text-anchor="middle" font-size="13" transform="rotate(-90 20 ${yMid})" ${FONT}>${escapeXml(spec.yLabel + (yLog ? ' (log scale)' : ''))}</text>`,
  );

  let colour = 0;
  const legend: string[] = [];
  spec.series.forEach((series, index) => {
    const stroke = series.reference ? '#777777' : PALETTE[colour++ % PALETTE.length]!;
    const dash = series.reference || series.dashed ? ' stroke-dasharray="7 4"' : '';
    const path = seriesPath(series, x, y);
    if (path)
      out.push(`<path d="${path}" fill="none" stroke="${stroke}" stroke-width="2"${dash} stroke-linejoin="round"/>`);
    const shape = MARKERS[index % MARKERS.length]!;
    if (!series.reference) {
      for (const p of series.points) {
        if (p.y === null || !Number.isFinite(p.y) || (yLog && p.y <= 0)) continue;
        out.push(marker(shape, round(x.map(p.x)), round(y.map(p.y)), stroke));
      }
    }
    const ly = plot.top + 14 + index * 22;
    const lx = plot.right + 18;
    legend.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${stroke}" stroke-width="2"${dash}/>`);
    if (!series.reference) legend.push(marker(shape, lx + 13, ly, stroke));
    legend.push(`<text x="${lx + 34}" y="${ly + 4}" font-size="12" ${FONT}>${escapeXml(series.name)}</text>`);
  });
  out.push('<g aria-label="legend">', ...legend, '</g>', '</svg>');
  return `${out.join('\n')}\n`;
}

function axis(
  scale: Scale,
  which: 'x' | 'y',
  plot: { left: number; right: number; top: number; bottom: number },
  format: (v: number) => string,
): string[] {
  const out: string[] = [];
  for (const tick of scale.minorTicks) {
    const at = round(scale.map(tick));
    out.push(
      which === 'x'
        ? `<line x1="${at}" y1="${plot.bottom}" x2="${at}" y2="${plot.bottom + 3}" stroke="#333333"/>`
        : `<line x1="${plot.left - 3}" y1="${at}" x2="${plot.left}" y2="${at}" stroke="#333333"/>`,
    );
  }
  for (const tick of scale.ticks) {
    const at = round(scale.map(tick));
    const label = escapeXml(format(tick));
    if (which === 'x') {
      out.push(`<line x1="${at}" y1="${plot.top}" x2="${at}" y2="${plot.bottom}" stroke="#e6e6e6"/>`);
      out.push(`<line x1="${at}" y1="${plot.bottom}" x2="${at}" y2="${plot.bottom + 6}" stroke="#333333"/>`);
      out.push(`<text x="${at}" y="${plot.bottom + 20}" text-anchor="middle" font-size="12" ${FONT}>${label}</text>`);
    } else {
      out.push(`<line x1="${plot.left}" y1="${at}" x2="${plot.right}" y2="${at}" stroke="#e6e6e6"/>`);
      out.push(`<line x1="${plot.left - 6}" y1="${at}" x2="${plot.left}" y2="${at}" stroke="#333333"/>`);
      out.push(`<text x="${plot.left - 9}" y="${at + 4}" text-anchor="end" font-size="12" ${FONT}>${label}</text>`);
    }
  }
  return out;
}

/** An SVG path through the series' points in x order; gaps at nulls; steps hold until the next point (the last until `stepUntil`). */
function seriesPath(series: ChartSeries, x: Scale, y: Scale): string {
  const sorted = [...series.points].sort((a, b) => a.x - b.x);
  const parts: string[] = [];
  let pen = false;
  for (const p of sorted) {
    if (p.y === null || !Number.isFinite(p.y) || (y.kind === 'log' && p.y <= 0)) {
      pen = false;
      continue;
    }
    const px = round(x.map(p.x));
    const py = round(y.map(p.y));
    if (!pen) parts.push(`M${px} ${py}`);
    else if (series.shape === 'step') parts.push(`H${px} V${py}`);
    else parts.push(`L${px} ${py}`);
    pen = true;
  }
  const last = sorted.at(-1);
  if (series.shape === 'step' && pen && last && series.stepUntil !== undefined && series.stepUntil > last.x)
    parts.push(`H${round(x.map(series.stepUntil))}`);
  return parts.join(' ');
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Text and attribute escaping for SVG. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
