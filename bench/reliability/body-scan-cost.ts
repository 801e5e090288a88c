/**
 * What the front doors' body scan (common/openai/body-scan.ts) costs per MB of body, fed in the
 * 64 kB chunks a socket gives, for the shapes it meets (not a test): a completion's ASCII prompt,
 * a chat in raw UTF-8 and in escaped form (Python's json.dumps default), a large field it does not
 * count, and an ordinary 1001-token chat request (what every request pays). Best of 5 rounds.
 *
 *   npx tsx bench/reliability/body-scan-cost.ts
 */
import { loadavg } from 'node:os';
import { createBodyScanner, type BodyScanOptions } from '../../common/openai/body-scan.ts';

const escaped = (json: string) =>
  json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const cjk = JSON.stringify({ messages: [{ role: 'user', content: '中文的文本，'.repeat(120_000) }] });
const cases: [string, Buffer, BodyScanOptions['prompt']][] = [
  [
    '7 MB ASCII completion prompt',
    Buffer.from(JSON.stringify({ prompt: 'lorem ipsum dolor sit amet, '.repeat(250_000) })),
    'completion',
  ],
  [
    '7 MB ASCII prompt, a newline escape every 80 bytes',
    Buffer.from(JSON.stringify({ prompt: `${'lorem ipsum dolor sit amet, '.repeat(3)}\n`.repeat(83_000) })),
    'completion',
  ],
  ['2 MB CJK chat content, UTF-8', Buffer.from(cjk), 'chat'],
  ['4 MB CJK chat content, \\u escapes', Buffer.from(escaped(cjk)), 'chat'],
  [
    '7 MB field not counted (tools)',
    Buffer.from(JSON.stringify({ tools: [{ d: 'lorem ipsum '.repeat(580_000) }] })),
    'chat',
  ],
  [
    '1001-token chat request',
    Buffer.from(
      JSON.stringify({
        model: 'm',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'hello world token '.repeat(333) }],
      }),
    ),
    'chat',
  ],
];

console.log(`load average: ${loadavg()[0]!.toFixed(2)}`);
for (const [name, body, prompt] of cases) {
  const reps = Math.max(5, Math.round(50e6 / body.length));
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) {
      const scanner = createBodyScanner({ prompt, maxDepth: 128 });
      for (let at = 0; at < body.length; at += 65_536) scanner.push(body.subarray(at, at + 65_536));
    }
    best = Math.min(best, Number(process.hrtime.bigint() - started) / reps / 1e6);
  }
  const perMb = best / (body.length / 1024 / 1024);
  console.log(`${name} (${body.length} bytes): ${best.toFixed(3)} ms per body, ${perMb.toFixed(2)} ms/MB`);
}
