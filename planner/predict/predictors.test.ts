import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { createPredictor, PREDICTORS, type Predictor } from './index.ts';

const MINUTE = 60_000;

function feed(predictor: Predictor, values: readonly number[], intervalMs = MINUTE, startMs = 0): void {
  values.forEach((value, i) => predictor.observe(value, startMs + (i + 1) * intervalMs));
}

describe('predictors', () => {
  it('predict nothing before the first observation', () => {
    for (const name of Object.keys(PREDICTORS)) expect(createPredictor(name).predict(0)).toBeUndefined();
  });

  it('constant: predicts the last value', () => {
    const p = createPredictor('constant');
    feed(p, [5, 9, 3]);
    expect(p.predict(4 * MINUTE)).toBe(3);
  });

  it('moving-average: averages the last `window` values', () => {
    const p = createPredictor('moving-average', { window: 3 });
    feed(p, [100, 1, 2, 6]);
    expect(p.predict(5 * MINUTE)).toBe(3);
  });

  it('holt: follows a linear ramp without lag, where an average trails it', () => {
    // 10, 12, 14, ...: Holt's level and trend converge to the line, so the forecast is the next point.
    const ramp = Array.from({ length: 40 }, (_, i) => 10 + 2 * i);
    const holt = createPredictor('holt', { alpha: 0.5, beta: 0.3 });
    const average = createPredictor('moving-average', { window: 6 });
    feed(holt, ramp);
    feed(average, ramp);
    const next = 10 + 2 * 40;
    expect(holt.predict(41 * MINUTE)).toBeCloseTo(next, 3);
    // The 6-point average of the last six values (78..88) is 83: five points behind.
    expect(average.predict(41 * MINUTE)).toBe(83);
  });

  it('holt: never predicts a negative load on a falling ramp', () => {
    const p = createPredictor('holt', { alpha: 0.9, beta: 0.9 });
    feed(p, [100, 50, 5, 0]);
    expect(p.predict(5 * MINUTE)).toBeGreaterThanOrEqual(0);
  });

  it("daily: after two days, predicts the third day's shape, including its ramps", () => {
    // A day of 96 quarter-hours: 2 req/s at night, 20 req/s at the midday peak (a raised cosine),
    // with 3% noise; the third day runs 10% busier than the first two.
    const binMs = 15 * MINUTE;
    const rng = createRng('daily');
    const shape = (t: number) => 2 + 18 * (0.5 - 0.5 * Math.cos((2 * Math.PI * (t % (96 * binMs))) / (96 * binMs)));
    const daily = createPredictor('daily', { periodS: 86_400, binS: 900, alpha: 0.5, seasonAlpha: 0.5 });
    const holt = createPredictor('holt');
    let dailyError = 0;
    let holtError = 0;
    for (let i = 0; i < 96 * 3; i++) {
      const start = i * binMs;
      const truth = shape(start + binMs / 2) * (i >= 192 ? 1.1 : 1);
      if (i >= 192 + 8) {
        // Day three, past the first two hours (the ratio to usual needs a few points to settle).
        dailyError += Math.abs(daily.predict(start)! - truth) / truth;
        holtError += Math.abs(holt.predict(start)! - truth) / truth;
      }
      const observed = truth * (1 + rng.uniform(-0.03, 0.03));
      daily.observe(observed, start + binMs);
      holt.observe(observed, start + binMs);
    }
    const points = 96 - 8;
    expect(dailyError / points).toBeLessThan(0.04);
    expect(dailyError).toBeLessThan(holtError);
  });

  it('rejects an unknown predictor name, listing the known ones', () => {
    expect(() => createPredictor('arima')).toThrow(
      /unknown predictor "arima" \(known: constant, moving-average, holt, daily\)/,
    );
  });
});
