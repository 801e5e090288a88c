export {
  createByteLevelDetokenizer,
  createByteTable,
  spellingToBytes,
  type ByteLevelVocabulary,
} from './byte-level.ts';
export {
  toConversation,
  toolDicts,
  type ChatPromptRequest,
  type ContentFormat,
  type Conversation,
  type TemplateMessage,
  type TemplateChatMessage,
  type WireContentPart,
} from './chat-request.ts';
export { createChatTemplate, type ChatTemplateSource } from './chat-template.ts';
export { detectContentFormat } from './content-format.ts';
export { createHfTokenizer, tokenContent, type DetokenizerKind, type HfTokenizerOptions } from './hf-tokenizer.ts';
export { BUNDLED_TOKENIZERS, loadModelTokenizer, type ModelTokenizer } from './load.ts';
export { createOffsetDetokenizer, type OffsetVocabulary } from './offset-detokenizer.ts';
export type {
  ChatMessage,
  ChatRenderOptions,
  ChatTemplate,
  Detokenizer,
  RenderedChat,
  DetokenizerOptions,
  Tokenizer,
  BoundedEncoding,
  TextLength,
} from './tokenizer.ts';
