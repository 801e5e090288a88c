import { parsePrometheusText } from '../../common/prometheus-text.ts';

/**
 * The value of one series in a Prometheus text exposition (a /metrics body, a `render()`), or
 * undefined when no sample matches. `series` is written as the exposition writes it,
 * `name{label="value",...}`: the first sample of that name carrying every label given matches,
 * whatever else it carries (a registry's default labels, say) and in whatever order. Throws on
 * text that does not parse (a test reading it wants to know).
 */
export function sample(text: string, series: string): number | undefined {
  const wanted = parsePrometheusText(`${series} 0`);
  if (!wanted.ok || wanted.value.length !== 1) throw new Error(`not a series: ${series}`);
  const { name, labels } = wanted.value[0]!;
  const samples = parsePrometheusText(text);
  if (!samples.ok) throw samples.error;
  const found = samples.value.find(
    (s) => s.name === name && Object.entries(labels).every(([label, value]) => s.labels[label] === value),
  );
  return found?.value;
}

/**
 * `sample` for each series named, keyed by the series as written: compare it with a table of
 * expected figures, `expect(samples(text, Object.keys(expected))).toEqual(expected)`, and a
 * failure shows every figure at once.
 */
export function samples(text: string, series: readonly string[]): Record<string, number | undefined> {
  return Object.fromEntries(series.map((one) => [one, sample(text, one)]));
}
