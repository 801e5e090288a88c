/**
 * What `tandem up` prints once the fleet is up: where everything is, and requests to paste.
 * Plain text; URLs use a loopback address when the orchestrator binds a wildcard.
 */
export interface BannerInput {
  /** Orchestrator base URL, e.g. http://127.0.0.1:8000. */
  readonly url: string;
  readonly model: string;
  /** e.g. "2 prefill + 2 decode simulated workers (qwen3-8b on h100-sxm, time scale 1)". */
  readonly fleet: string;
  readonly processes: readonly { readonly name: string; readonly pid: number; readonly detail?: string }[];
  /** The planner's base URL, or undefined without one. */
  readonly plannerUrl: string | undefined;
  readonly apiKey: boolean;
  /** Null when the orchestrator serves; else why not. */
  readonly notReady: string | null;
  /** Whether the fleet has workers of role both (aggregated serving needs no prefill/decode split). */
  readonly hasBothWorkers: boolean;
}

export function bannerText(input: BannerInput): string {
  const { url, model } = input;
  const auth = input.apiKey ? ` -H "Authorization: Bearer $OPENAI_API_KEY"` : '';
  const rows: [string, string][] = [
    ['API (OpenAI)', `${url}/v1   (model "${model}")`],
    ['Status page', `${url}/ui`],
    ['Metrics', `${url}/metrics`],
    ['Planner', input.plannerUrl ? `${input.plannerUrl}/decision   (dry run: decides, scales nothing)` : 'not started'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const lines = [
    '',
    `Tandem is up: an orchestrator in front of ${input.fleet}.`,
    '',
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}${value}`),
    `  ${'Processes'.padEnd(width)}${input.processes.map((p) => `${p.name} ${p.pid}${p.detail ? ` (${p.detail})` : ''}`).join(', ')}`,
    '',
  ];
  if (input.notReady !== null) {
    lines.push(`  Not serving yet: ${input.notReady}`);
    if (!input.hasBothWorkers)
      lines.push(
        '  (Workers of role both serve without a prefill/decode split: tandem up --workers 4, or npm start -- --workers 4.)',
      );
    lines.push('');
  }
  if (input.apiKey)
    lines.push('  The API needs orchestrator.api_key: export OPENAI_API_KEY=<that key> for the examples below.', '');
  lines.push(
    'Try it:',
    '',
    `  curl ${url}/v1/completions -H 'Content-Type: application/json'${auth} \\`,
    `    -d '{"model": "${model}", "prompt": "The capital of France is", "max_tokens": 32}'`,
    '',
    '  # Python (pip install openai)',
    ...(input.apiKey ? ['  import os'] : []),
    '  from openai import OpenAI',
    `  client = OpenAI(base_url="${url}/v1", api_key=${input.apiKey ? 'os.environ["OPENAI_API_KEY"]' : '"unused"'})`,
    `  reply = client.chat.completions.create(model="${model}", messages=[{"role": "user", "content": "Hello!"}], max_tokens=32)`,
    '  print(reply.choices[0].message.content)',
    '',
    '  // JavaScript (npm install openai), in an ES module',
    "  import OpenAI from 'openai';",
    `  const client = new OpenAI({ baseURL: '${url}/v1', apiKey: ${input.apiKey ? 'process.env.OPENAI_API_KEY' : "'unused'"} });`,
    `  const reply = await client.chat.completions.create({ model: '${model}', messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 32 });`,
    '  console.log(reply.choices[0].message.content);',
    '',
    'Simulated workers produce random tokens, with the timing of the GPU profile. Ctrl-C stops everything.',
    '',
  );
  return lines.join('\n');
}
