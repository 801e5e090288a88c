import { fail, ok, TandemError, type Result } from '../../common/errors.ts';

/**
 * Parses a rate (or concurrency) sweep as a flag gives it: `8`, `1,2,4,8`, or `start:end:points`
 * (inclusive, evenly spaced: `3:60:6` is 3, 14.4, 25.8, 37.2, 48.6, 60). Values must be > 0.
 */
export function parseSweep(text: string, what = 'rate'): Result<number[]> {
  const bad = (why: string) => fail(new TandemError('invalid_request', `${what} "${text}": ${why}`));
  const trimmed = text.trim();
  if (trimmed.includes(':')) {
    const parts = trimmed.split(':').map((part) => Number(part));
    if (parts.length !== 3 || parts.some((n) => !Number.isFinite(n)))
      return bad('expected start:end:points, e.g. 3:60:6');
    const [start, end, points] = parts as [number, number, number];
    if (!(start > 0) || !(end >= start)) return bad('needs 0 < start <= end');
    if (!Number.isInteger(points) || points < 1) return bad('points must be an integer >= 1');
    if (points === 1) return start === end ? ok([start]) : bad('one point needs start = end');
    return ok(Array.from({ length: points }, (_, i) => round(start + ((end - start) * i) / (points - 1))));
  }
  const values = trimmed.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((n) => !Number.isFinite(n) || n <= 0))
    return bad('expected positive numbers, e.g. 8 or 1,2,4');
  return ok(values);
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
