import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prometheus-text.ts';

describe('Prometheus text parsing', () => {
  it('reads names, labels (with escapes) and values, skipping comments', () => {
    const text = [
      '# HELP vllm:num_requests_running Number of requests in model execution batches.',
      '# TYPE vllm:num_requests_running gauge',
      'vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-8B"} 3.0',
      'odd{path="a\\"b\\\\c\\nd", empty=""} +Inf 1700000000000',
      'plain 42',
      'nan_metric NaN',
      '',
    ].join('\n');
    const parsed = parsePrometheusText(text);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value).toHaveLength(4);
    expect(parsed.value[0]).toEqual({
      name: 'vllm:num_requests_running',
      labels: { engine: '0', model_name: 'Qwen/Qwen3-8B' },
      value: 3,
    });
    expect(parsed.value[1]).toEqual({
      name: 'odd',
      labels: { path: 'a"b\\c\nd', empty: '' },
      value: Number.POSITIVE_INFINITY,
    });
    expect(parsed.value[2]).toEqual({ name: 'plain', labels: {}, value: 42 });
    expect(Number.isNaN(parsed.value[3]!.value)).toBe(true);
  });

  it("reads NaN and the infinities in any case, as Prometheus does (prom-client writes NaN as 'Nan')", () => {
    const parsed = parsePrometheusText(
      ['lag Nan', 'a nan', 'b +inf', 'c -Inf', 'd Infinity', 'e -infinity', 'f Inf', ''].join('\n'),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const [lag, a, ...infinities] = parsed.value.map((sample) => sample.value);
    expect(Number.isNaN(lag) && Number.isNaN(a)).toBe(true);
    expect(infinities).toEqual([Infinity, -Infinity, Infinity, -Infinity, Infinity]);
  });

  it('fails on a line that does not parse, naming it', () => {
    for (const bad of [
      'metric{unclosed="x 1',
      'metric notanumber',
      '{nolabel="x"} 1',
      'metric{a=x} 1',
      'metric nann',
    ]) {
      const parsed = parsePrometheusText(`ok 1\n${bad}\n`);
      expect(parsed.ok, bad).toBe(false);
      if (!parsed.ok) expect(parsed.error.message).toContain('line 2');
    }
  });
});
