// Small live line charts (uPlot, served from node_modules by the orchestrator). Each chart keeps
// its own columns; `push` appends one point and drops the oldest beyond `maxPoints`.
import uPlot from '/ui/vendor/uPlot.esm.js';

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/** Dots only while a series has few values, so its first points are visible before a line forms. */
const sparse = (u, seriesIdx) =>
  (u.data?.[seriesIdx] ?? []).reduce((n, v) => (v === null || v === undefined ? n : n + 1), 0) < 12;

/**
 * `series`: [{ label, key, color (a CSS variable name), dash? }], read from history points by
 * key; `format` turns a y value into text for the legend and the accessible label, `axis`
 * (default `format`) into the y axis's shorter labels.
 */
export function createChart(figure, { title, series, format, axis = format, maxPoints, yMin = 0, yMax }) {
  const host = figure.querySelector('.chart');
  const columns = [[], ...series.map(() => [])];
  const options = {
    width: Math.max(240, host.clientWidth),
    height: 150,
    legend: { show: true, live: false },
    cursor: { show: false },
    scales: {
      x: { time: true },
      y: { range: (_u, min, max) => [Math.min(yMin, min ?? 0), yMax ?? Math.max((max ?? 0) * 1.15, yMin + 1e-9)] },
    },
    axes: [
      { stroke: css('--muted'), grid: { stroke: css('--grid'), width: 1 }, ticks: { stroke: css('--grid') } },
      {
        stroke: css('--muted'),
        grid: { stroke: css('--grid'), width: 1 },
        ticks: { stroke: css('--grid') },
        size: 60,
        values: (_u, ticks) => ticks.map(axis),
      },
    ],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: css(s.color),
        width: 2,
        dash: s.dash,
        spanGaps: false,
        points: { show: sparse, size: 5 },
        value: (_u, v) => (v === null || v === undefined ? '\u2013' : format(v)),
      })),
    ],
  };
  const plot = new uPlot(options, columns, host);
  let lastLabel = '';

  const describe = () => {
    const latest = series.map((s, i) => `${s.label} ${format(columns[i + 1].at(-1) ?? null)}`).join(', ');
    const label = `${title}: ${latest}`;
    if (label !== lastLabel) figure.setAttribute('aria-label', (lastLabel = label));
  };

  return {
    reset(points) {
      columns.forEach((column) => (column.length = 0));
      for (const point of points.slice(-maxPoints)) append(point);
      plot.setData(columns);
      describe();
    },
    push(point) {
      append(point);
      if (columns[0].length > maxPoints) columns.forEach((column) => column.shift());
      plot.setData(columns);
      describe();
    },
    resize() {
      plot.setSize({ width: Math.max(240, host.clientWidth), height: 150 });
    },
  };

  function append(point) {
    columns[0].push(point.t / 1000);
    series.forEach((s, i) => columns[i + 1].push(point[s.key] ?? null));
  }
}
