// Number formatting for the status page. Inputs are the feed's units (seconds, per second,
// shares 0-1); null means "not measured yet" and prints as an en dash.

const DASH = '\u2013';

/** Seconds as "12.3 ms" or "1.24 s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return DASH;
  if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
  return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
}

/** Seconds as a short axis label: "250ms", "1.5s". */
export function shortDuration(seconds) {
  if (seconds === null || seconds === undefined) return DASH;
  if (seconds < 1) return `${Number((seconds * 1000).toPrecision(3))}ms`;
  return `${Number(seconds.toPrecision(3))}s`;
}

/** A share 0-1 as "42.0 %". */
export function percent(share) {
  if (share === null || share === undefined) return DASH;
  return `${(share * 100).toFixed(1)} %`;
}

/** A rate or count with at most `digits` decimals, thousands grouped. */
export function number(value, digits = 1) {
  if (value === null || value === undefined) return DASH;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A clock time "14:03:22" for Unix ms. */
export function clockTime(ms) {
  if (!ms) return DASH;
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

/** "3 s ago", "2 min ago" for Unix ms, against `nowMs`. */
export function ago(ms, nowMs) {
  if (!ms) return DASH;
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  return s < 90 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}
