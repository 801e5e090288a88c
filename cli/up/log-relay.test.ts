import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bannerText } from './banner.ts';
import { createLogRelay, formatEntry } from './log-relay.ts';

function collect() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out, text: () => text };
}

describe('the log relay', () => {
  it('tags JSON lines with their process for machines, and passes other lines through', () => {
    const sink = collect();
    const relay = createLogRelay({ out: sink.out, human: false, color: false });
    relay.line('{"level":30,"time":1,"msg":"worker ready"}', 'prefill-0');
    relay.line('tandem worker: bad flag', 'decode-1');
    const lines = sink
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toEqual({ proc: 'prefill-0', level: 30, time: 1, msg: 'worker ready' });
    expect(lines[1]).toEqual({ proc: 'decode-1', msg: 'tandem worker: bad flag' });
  });

  it("prints one readable line per entry on a terminal, without repeating a request line's fields", () => {
    const plain = formatEntry(
      {
        level: 40,
        time: Date.UTC(2026, 0, 1, 12, 0, 0, 7),
        pid: 3,
        hostname: 'h',
        name: 'up',
        msg: 'restarting',
        child: 'decode-0',
        code: null,
      },
      'up',
      false,
    );
    expect(plain).toMatch(/^\d\d:\d\d:\d\d\.007 WARN {2}\[up\] +restarting child=decode-0 code=null$/);
    const request = formatEntry(
      {
        level: 30,
        time: 0,
        msg: 'request r1 success aggregated on worker-0',
        requestId: 'r1',
        outcome: 'success',
        ttftMs: 3,
      },
      'orchestrator',
      false,
    );
    expect(request).toMatch(/\[orchestrator\] request r1 success aggregated on worker-0$/);
    expect(formatEntry({ level: 50, msg: 'x' }, 'p', true)).toContain('\x1b[31mERROR\x1b[0m');
    // The worker's ready line: no time, no level, no msg; its event names it, in the same columns.
    const ready = formatEntry({ event: 'tandem-worker-ready', role: 'both', grpc: '127.0.0.1:1' }, 'worker-0', false);
    expect(ready).toBe(`${' '.repeat(12)} INFO  [worker-0]     tandem-worker-ready role=both grpc=127.0.0.1:1`);
    expect(ready.indexOf('[worker-0]')).toBe(plain.indexOf('[up]'));
  });

  it("feeds tandem up's own logger through the same format", async () => {
    const sink = collect();
    const relay = createLogRelay({ out: sink.out, human: false, color: false });
    relay.ownStream.write('{"level":30,"msg":"starting"}\n{"level":30,"msg":"sta');
    relay.ownStream.write('rted"}\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(
      sink
        .text()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).msg),
    ).toEqual(['starting', 'started']);
  });
});

describe('the banner', () => {
  it('says where everything is and gives requests to paste, for the URL and model served', () => {
    const text = bannerText({
      url: 'http://127.0.0.1:8000',
      model: 'Qwen/Qwen3-8B',
      fleet: '2 prefill + 2 decode simulated workers',
      processes: [{ name: 'orchestrator', pid: 42 }],
      plannerUrl: 'http://127.0.0.1:9400',
      apiKey: false,
      notReady: null,
      hasBothWorkers: false,
    });
    for (const expected of [
      'http://127.0.0.1:8000/v1',
      'http://127.0.0.1:8000/ui',
      'http://127.0.0.1:8000/metrics',
      'http://127.0.0.1:9400/decision',
      'orchestrator 42',
      `curl http://127.0.0.1:8000/v1/completions -H 'Content-Type: application/json' \\`,
      `-d '{"model": "Qwen/Qwen3-8B", "prompt": "The capital of France is", "max_tokens": 32}'`,
      'client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")',
      "const client = new OpenAI({ baseURL: 'http://127.0.0.1:8000/v1', apiKey: 'unused' });",
    ]) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain('Not serving yet');
    const keyed = bannerText({
      url: 'http://h:1',
      model: 'm',
      fleet: 'f',
      processes: [],
      plannerUrl: undefined,
      apiKey: true,
      notReady: 'no healthy worker',
      hasBothWorkers: false,
    });
    expect(keyed).toContain('Authorization: Bearer $OPENAI_API_KEY');
    expect(keyed).toContain('Not serving yet: no healthy worker');
    expect(keyed).toContain('tandem up --workers 4');
    expect(keyed).toMatch(/Planner +not started/);
  });
});
