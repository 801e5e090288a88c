export { createByteLevelDetokenizer, createByteTable, spellingToBytes, type ByteLevelVocabulary } from './byte-level.ts';
export { createChatTemplate, type ChatTemplateSource } from './chat-template.ts';
export { createHfTokenizer, tokenContent, type DetokenizerKind, type HfTokenizerOptions } from './hf-tokenizer.ts';
export { BUNDLED_TOKENIZERS, loadModelTokenizer, type ModelTokenizer } from './load.ts';
export { createOffsetDetokenizer, type OffsetVocabulary } from './offset-detokenizer.ts';
export type { ChatMessage, ChatRenderOptions, ChatTemplate, Detokenizer, DetokenizerOptions, Tokenizer } from './tokenizer.ts';
