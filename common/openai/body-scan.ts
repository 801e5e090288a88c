import { isAscii } from 'node:buffer';
import type { TextLength } from '../tokenizer/tokenizer.ts';
import { isNeutralSpace, isWordSeparator } from '../tokenizer/word-bound.ts';

/**
 * A scan of a request body's bytes as they arrive, chunk by chunk (split anywhere: inside a
 * multi-byte character, an escape, a key), that answers two questions before the body is whole:
 * - how deep does its JSON nest (`tooDeep` once past `maxDepth`: the one depth check; JSON.parse
 *   only ever sees bodies that passed it);
 * - how much prompt text it carries, as lower bounds (TextLength) on what the chat template or the
 *   completion renders, so Tokenizer.minTokensOf can refuse a prompt that cannot fit the context
 *   while the rest of the body is still on the wire.
 *
 * Counted, with escapes decoded: a completion's `prompt` (a string, or the strings of an array;
 * an array of several is refused anyway as a batch), and a chat's `messages[*].content` (a string,
 * bare-string parts, and the `text` of text parts) of messages whose `role` is not `assistant`
 * (templates such as Qwen3's drop earlier assistant turns' thinking, so assistant text bounds
 * nothing). Content is counted as it streams once the message's role is known; content before its
 * role (or a text part's text before its type) is held as a count and settled when the role
 * (type) arrives; a message that never names a usable role counts nothing.
 *
 * Each string counts without its leading and trailing whitespace (templates may `trim` content),
 * and a non-ASCII character that might be whitespace (U+0085, U+00A0, U+1680, U+2000-U+205F,
 * U+3000, U+FEFF: every character whose UTF-8 lead byte is C2, E1, E2, E3 or EF) counts as such.
 * Units are counted per character start (a 4-byte character counts 1 of its 2 units; a stray byte
 * that decodes to U+FFFD, 0 or 1), ASCII characters exactly: both only ever under the truth. Word
 * breaks (common/tokenizer/word-bound.ts: ids, for a vocabulary that keeps words apart) are counted
 * per string as that file defines them, with escapes decoded; a raw character the lead-byte test
 * above calls possible whitespace is neither a word character nor a separator, so they too are
 * only ever under the truth. A 7 MB prompt of ordinary words holds 32,768 breaks in its first
 * ~180 kB, where the length bound needs 4.2 MB.
 * Assumed of the template: it renders every non-assistant message's content, up to surrounding
 * whitespace (every Hugging Face template we know does). A body that repeats a key is counted for
 * every copy (JSON.parse keeps the last): such a body may be refused where its last copy would fit.
 *
 * Cost: one pass over the bytes, no allocation but for short keys; plain ASCII runs are searched
 * and checked natively and their word breaks counted four bytes at a time
 * (bench/reliability/body-scan-cost.ts measures it per MB).
 */
export interface BodyScanOptions {
  /** Which prompt to count: a completion's `prompt`, a chat's `messages`, or none (depth only). */
  readonly prompt: 'completion' | 'chat' | undefined;
  /** Levels of `[`/`{` nesting allowed; undefined: no bound. */
  readonly maxDepth: number | undefined;
}

export interface BodyScanner {
  /** Scans the next bytes of the body. False once the body nests past maxDepth (nothing more is scanned). */
  push(chunk: Uint8Array): boolean;
  readonly tooDeep: boolean;
  /** Lower bounds on the prompt text seen so far (only grows). */
  promptLength(): TextLength;
}

// What a container is, for the containers that matter (depth 1-6); deeper ones are all OTHER.
const OTHER = 0;
const TOP = 1; // the body's object
const PROMPT_LIST = 2; // top.prompt as an array
const MESSAGES = 3; // top.messages
const MESSAGE = 4; // messages[i]
const PARTS = 5; // messages[i].content as an array
const PART = 6; // messages[i].content[j] as an object
const TRACKED_DEPTH = 7;

// Keys that matter (their frame decides which).
const K_NONE = 0;
const K_PROMPT = 1;
const K_MESSAGES = 2;
const K_ROLE = 3;
const K_CONTENT = 4;
const K_TYPE = 5;
const K_TEXT = 6;
const KEYS: Readonly<Record<string, number>> = {
  prompt: K_PROMPT,
  messages: K_MESSAGES,
  role: K_ROLE,
  content: K_CONTENT,
  type: K_TYPE,
  text: K_TEXT,
};
const TEXT_PART_TYPES = new Set(['text', 'input_text', 'output_text']);

// What the string being read is.
const NO_STRING = 0;
const SKIP = 1;
const COUNT = 2;
const CAPTURE = 3;

// Where a counted string's counts go.
const TO_LIVE = 0; // the prompt's total
const TO_MESSAGE = 1; // held until the message's role is known
const TO_PART = 2; // held until the part's type is known
const TO_NOWHERE = 3;

// A message's role, a part's type.
const UNKNOWN = 0;
const COUNTED = 1; // a non-assistant role; a text part
const IGNORED = 2;

const MAX_CAPTURE = 32;

// A counted string's word state (common/tokenizer/word-bound.ts): no word character yet, in a word, past a separator after one.
const NO_WORD = 0;
const IN_WORD = 1;
const SEPARATED = 2;
// A character's class for word breaks: a word character, a separator (ASCII whitespace), neither (other whitespace, or maybe).
const WORD_CHAR = 0;
const SEPARATOR = 1;
const NEUTRAL = 2;

export function createBodyScanner(options: BodyScanOptions): BodyScanner {
  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
  const counting = options.prompt;
  let depth = 0;
  let tooDeep = false;
  // Per tracked depth (index depth - 1): the frame's kind, whether it waits for a key, its current key.
  const kinds = new Uint8Array(TRACKED_DEPTH);
  const expectKey = new Uint8Array(TRACKED_DEPTH);
  const keys = new Uint8Array(TRACKED_DEPTH);

  let mode = NO_STRING;
  let escaping = 0; // 0 none; 1 after a backslash; 2-5: that many hex digits of \uXXXX still to read, minus one
  let hex = 0;
  // A counted string: its committed counts, the whitespace run since its last other character, started?
  let strUnits = 0;
  let strAscii = 0;
  let wsUnits = 0;
  let wsAscii = 0;
  let started = false;
  // Its word breaks (common/tokenizer/word-bound.ts), and where it stands: no word character yet, in a word, past a separator after one.
  let strWords = 0;
  let wordState = NO_WORD;
  let sink = TO_NOWHERE;
  // A captured string (a key, a role, a type): its raw bytes, and what it is.
  const captured: number[] = [];
  let captureEscaped = false;
  let captureFor = 0; // 0: a key; K_ROLE / K_TYPE: that value

  const live = { units: 0, ascii: 0, words: 0 };
  const message = { units: 0, ascii: 0, words: 0, role: UNKNOWN };
  const part = { units: 0, ascii: 0, words: 0, type: UNKNOWN };

  const messageSink = () => (message.role === COUNTED ? TO_LIVE : message.role === UNKNOWN ? TO_MESSAGE : TO_NOWHERE);
  const add = (to: number, units: number, ascii: number, words: number) => {
    const counts = to === TO_LIVE ? live : to === TO_MESSAGE ? message : to === TO_PART ? part : undefined;
    if (counts === undefined) return;
    counts.units += units;
    counts.ascii += ascii;
    counts.words += words;
  };
  const clear = (counts: { units: number; ascii: number; words: number }) => {
    counts.units = counts.ascii = counts.words = 0;
  };
  const settleMessage = () => {
    if (message.role === COUNTED) add(TO_LIVE, message.units, message.ascii, message.words);
    if (message.role !== UNKNOWN) clear(message);
  };
  const settlePart = () => {
    if (part.type === COUNTED) add(messageSink(), part.units, part.ascii, part.words);
    if (part.type !== UNKNOWN) clear(part);
  };

  const startString = () => {
    escaping = 0;
    const d = depth;
    const kind = d >= 1 && d <= TRACKED_DEPTH ? kinds[d - 1]! : OTHER;
    if (kind === OTHER) {
      mode = SKIP;
      return;
    }
    if ((kind === TOP || kind === MESSAGE || kind === PART) && expectKey[d - 1]) {
      mode = CAPTURE;
      captureFor = 0;
      captured.length = 0;
      captureEscaped = false;
      return;
    }
    const key = keys[d - 1]!;
    let to = TO_NOWHERE;
    if (kind === TOP && key === K_PROMPT && counting === 'completion') to = TO_LIVE;
    else if (kind === PROMPT_LIST) to = TO_LIVE;
    else if ((kind === MESSAGE && key === K_CONTENT) || kind === PARTS) to = messageSink();
    else if (kind === PART && key === K_TEXT)
      to = part.type === COUNTED ? messageSink() : part.type === UNKNOWN ? TO_PART : TO_NOWHERE;
    else if ((kind === MESSAGE && key === K_ROLE) || (kind === PART && key === K_TYPE)) {
      mode = CAPTURE;
      captureFor = key;
      captured.length = 0;
      captureEscaped = false;
      return;
    }
    if (to === TO_NOWHERE) {
      mode = SKIP;
      return;
    }
    mode = COUNT;
    sink = to;
    strUnits = strAscii = wsUnits = wsAscii = strWords = 0;
    started = false;
    wordState = NO_WORD;
  };

  const endCapture = () => {
    let text: string | undefined;
    if (captured.length <= MAX_CAPTURE) {
      // At most MAX_CAPTURE bytes; ASCII ones (every key that matters) without a Buffer.
      const raw = captured.every((b) => b < 0x80)
        ? String.fromCharCode(...captured)
        : Buffer.from(captured).toString('utf8');
      try {
        text = captureEscaped ? (JSON.parse(`"${raw}"`) as string) : raw;
      } catch {
        text = undefined; // JSON.parse reports it later
      }
    }
    const d = depth - 1;
    if (captureFor === 0) {
      keys[d] = text === undefined ? K_NONE : (KEYS[text] ?? K_NONE);
      expectKey[d] = 0;
    } else if (captureFor === K_ROLE) {
      message.role = text === 'assistant' ? IGNORED : text === undefined ? UNKNOWN : COUNTED;
      settleMessage();
    } else {
      part.type = text !== undefined && TEXT_PART_TYPES.has(text) ? COUNTED : IGNORED;
      settlePart();
    }
  };

  const open = (isObject: boolean) => {
    depth++;
    if (depth > maxDepth) {
      tooDeep = true;
      return;
    }
    if (depth > TRACKED_DEPTH) return;
    const d = depth - 1;
    let kind = OTHER;
    if (d === 0) kind = isObject && counting !== undefined ? TOP : OTHER;
    else {
      const parent = kinds[d - 1]!;
      const key = keys[d - 1]!;
      if (!isObject && parent === TOP && key === K_PROMPT && counting === 'completion') kind = PROMPT_LIST;
      else if (!isObject && parent === TOP && key === K_MESSAGES && counting === 'chat') kind = MESSAGES;
      else if (isObject && parent === MESSAGES) kind = MESSAGE;
      else if (!isObject && parent === MESSAGE && key === K_CONTENT) kind = PARTS;
      else if (isObject && parent === PARTS) kind = PART;
    }
    kinds[d] = kind;
    expectKey[d] = isObject ? 1 : 0;
    keys[d] = K_NONE;
    if (kind === MESSAGE) {
      clear(message);
      message.role = UNKNOWN;
    } else if (kind === PART) {
      clear(part);
      part.type = UNKNOWN;
    }
  };

  const close = () => {
    if (depth >= 1 && depth <= TRACKED_DEPTH) {
      const kind = kinds[depth - 1];
      // What is still held was never claimed by a role or a type: it counts nothing.
      if (kind === MESSAGE) clear(message);
      else if (kind === PART) clear(part);
    }
    if (depth > 0) depth--; // more closing than opening: JSON.parse reports it
  };

  /** The rest of a string nobody counts: jumps from quote to quote (a native search); returns where it ends, or n. */
  const skip = (chunk: Uint8Array, from: number, n: number): number => {
    let i = from;
    if (escaping !== 0) {
      escaping = 0;
      i++;
    }
    for (;;) {
      const quote = chunk.indexOf(0x22, i);
      const end = quote < 0 ? n : quote;
      let slashes = 0;
      while (end - 1 - slashes >= i && chunk[end - 1 - slashes] === 0x5c) slashes++;
      if (quote < 0) {
        escaping = slashes & 1; // a backslash ending the chunk escapes the next one's first byte
        return n;
      }
      if ((slashes & 1) === 0) {
        mode = NO_STRING;
        return quote + 1;
      }
      i = quote + 1;
    }
  };

  /**
   * The rest of a counted string; returns where it ends, or n. It runs over every prompt byte, so:
   * locals in the loop, and once 32 plain ASCII bytes come in a row, the run up to the next quote
   * or backslash (the bulk of most prompts) is checked and counted natively, whole but for
   * whitespace at its edges (a native call per short run would cost more than the loop), its word
   * breaks four bytes at a time (asciiRunWordBreaks).
   */
  const count = (chunk: Uint8Array, from: number, n: number): number => {
    let units = strUnits;
    let ascii = strAscii;
    let spaceUnits = wsUnits;
    let spaceAscii = wsAscii;
    let begun = started;
    let esc = escaping;
    let words = strWords;
    let word = wordState;
    let plainRun = 0;
    // The next quote and backslash at or after i (-1: none in this chunk), searched again only once passed.
    let quote = -2;
    let slash = -2;
    for (let i = from; i < n; i++) {
      if (plainRun >= 32) {
        plainRun = 0;
        if (quote !== -1 && quote < i) quote = chunk.indexOf(0x22, i);
        if (slash !== -1 && slash < i) slash = chunk.indexOf(0x5c, i);
        const end = Math.min(quote < 0 ? n : quote, slash < 0 ? n : slash);
        if (end - i >= 32 && isAscii(chunk.subarray(i, end))) {
          let first = i;
          if (!begun) while (first < end && isSpaceByte(chunk[first]!)) first++;
          let last = end - 1;
          while (last >= first && isSpaceByte(chunk[last]!)) last--;
          if (last >= first) {
            units += spaceUnits + (last - first + 1);
            ascii += spaceAscii + (last - first + 1);
            spaceUnits = spaceAscii = end - 1 - last;
            begun = true;
          } else if (begun) {
            spaceUnits += end - first;
            spaceAscii += end - first;
          }
          const counted = asciiRunWordBreaks(chunk, i, end, word);
          words += counted >>> 2;
          word = counted & 3;
          i = end - 1;
          continue;
        }
      }
      const b = chunk[i]!;
      if (b < 0x80 && b !== 0x22 && b !== 0x5c && esc === 0) {
        plainRun++;
        if (!isSpaceByte(b)) {
          units += spaceUnits + 1;
          ascii += spaceAscii + 1;
          spaceUnits = spaceAscii = 0;
          begun = true;
          if (word === SEPARATED) words++;
          word = IN_WORD;
        } else {
          if (begun) {
            spaceUnits++;
            spaceAscii++;
          }
          if (word === IN_WORD && isWordSeparator(b)) word = SEPARATED;
        }
        continue;
      }
      plainRun = 0;
      // The rarer bytes: a quote, an escape, a non-ASCII character.
      let isSpace = false;
      let isAsciiChar = 0;
      let wordClass = WORD_CHAR;
      if (esc === 1) {
        if (b === 0x75) {
          esc = 5;
          hex = 0;
          continue;
        }
        esc = 0;
        // \" \\ \/ \b \f \n \r \t: one ASCII character; \f \n \r \t are whitespace (and separate words).
        isSpace = b === 0x66 || b === 0x6e || b === 0x72 || b === 0x74;
        if (isSpace) wordClass = SEPARATOR;
        isAsciiChar = 1;
      } else if (esc !== 0) {
        const digit = b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x57;
        hex = (hex << 4) | (digit & 0xf);
        if (--esc !== 1) continue;
        esc = 0;
        isSpace = isSpaceUnit(hex);
        if (isWordSeparator(hex)) wordClass = SEPARATOR;
        else if (isSpace) wordClass = NEUTRAL;
        isAsciiChar = hex < 0x80 ? 1 : 0;
      } else if (b === 0x22) {
        strUnits = units; // trailing whitespace dropped
        strAscii = ascii;
        strWords = words;
        add(sink, units, ascii, words);
        mode = NO_STRING;
        escaping = 0;
        return i + 1;
      } else if (b === 0x5c) {
        esc = 1;
        continue;
      } else if (b < 0xc0)
        continue; // 0x80-0xbf: the rest of a character already counted
      else {
        isSpace = b === 0xc2 || b === 0xe1 || b === 0xe2 || b === 0xe3 || b === 0xef;
        if (isSpace) wordClass = NEUTRAL; // might be Unicode whitespace (U+00A0, U+3000, ...)
      }
      if (isSpace) {
        if (begun) {
          spaceUnits++;
          spaceAscii += isAsciiChar;
        }
      } else {
        units += spaceUnits + 1;
        ascii += spaceAscii + isAsciiChar;
        spaceUnits = spaceAscii = 0;
        begun = true;
      }
      if (wordClass === WORD_CHAR) {
        if (word === SEPARATED) words++;
        word = IN_WORD;
      } else if (wordClass === SEPARATOR && word === IN_WORD) word = SEPARATED;
    }
    strUnits = units;
    strAscii = ascii;
    wsUnits = spaceUnits;
    wsAscii = spaceAscii;
    started = begun;
    escaping = esc;
    strWords = words;
    wordState = word;
    return n;
  };

  /** The rest of a key, a role or a type: its raw bytes (the first MAX_CAPTURE + 1 of them) are kept. */
  const capture = (chunk: Uint8Array, from: number, n: number): number => {
    for (let i = from; i < n; i++) {
      const b = chunk[i]!;
      if (escaping !== 0) escaping = 0;
      else if (b === 0x5c) {
        escaping = 1;
        captureEscaped = true;
      } else if (b === 0x22) {
        mode = NO_STRING;
        endCapture();
        return i + 1;
      }
      if (captured.length <= MAX_CAPTURE) captured.push(b);
    }
    return n;
  };

  const push = (chunk: Uint8Array): boolean => {
    if (tooDeep) return false;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (mode === SKIP) i = skip(chunk, i, n);
      else if (mode === COUNT) i = count(chunk, i, n);
      else if (mode === CAPTURE) i = capture(chunk, i, n);
      else {
        const b = chunk[i++]!;
        if (b === 0x22) startString();
        else if (b === 0x7b || b === 0x5b) {
          open(b === 0x7b);
          if (tooDeep) return false;
        } else if (b === 0x7d || b === 0x5d) close();
        else if (b === 0x2c && depth >= 1 && depth <= TRACKED_DEPTH && kinds[depth - 1] !== OTHER) {
          // A comma in an object: a key comes next.
          const d = depth - 1;
          keys[d] = K_NONE;
          const kind = kinds[d];
          expectKey[d] = kind === TOP || kind === MESSAGE || kind === PART ? 1 : 0;
        }
      }
    }
    return true;
  };

  return {
    push,
    get tooDeep() {
      return tooDeep;
    },
    promptLength: () =>
      // The string being read counts up to its last non-whitespace character so far.
      mode === COUNT && sink === TO_LIVE
        ? { units: live.units + strUnits, ascii: live.ascii + strAscii, words: live.words + strWords }
        : { units: live.units, ascii: live.ascii, words: live.words },
  };
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * The word breaks (common/tokenizer/word-bound.ts) of chunk[from, end), all ASCII, from the word
 * state `state` (NO_WORD, IN_WORD or SEPARATED): returns breaks * 4 + the state after it (breaks
 * of one chunk stay far below 2^29). This is where a huge prompt's scan spends its time, so the
 * bulk goes four bytes at a time (SWAR over 32-bit words), which holds when every byte is a space
 * (0x20) or printable (0x21-0x7f): the only ASCII a JSON string may hold raw. A run with a control
 * byte (invalid JSON, or a separator other than the space) is counted byte by byte instead, with
 * the same result. In 0x20-0x7f, byte b + 0x5f has its top bit clear only for the space, and b +
 * 0x60 only for b < 0x20, with no carry into the next byte.
 */
function asciiRunWordBreaks(chunk: Uint8Array, from: number, end: number, state: number): number {
  let i = from;
  let breaks = 0;
  let word = state;
  // Byte by byte up to the first word character (only a string's start has none before it) and a
  // 4-byte boundary; then the words; then the tail.
  while (i < end && (word === NO_WORD || ((chunk.byteOffset + i) & 3) !== 0)) {
    const counted = byteWordBreak(chunk[i]!, word);
    breaks += counted >>> 2;
    word = counted & 3;
    i++;
  }
  const quads = LITTLE_ENDIAN ? (end - i) >> 2 : 0;
  if (quads >= 8) {
    const words = new Uint32Array(chunk.buffer, chunk.byteOffset + i, quads);
    // 0x80 in the low byte when the byte before the next word is a space after a word character.
    let spaceBefore = word === SEPARATED ? 0x80 : 0;
    let control = 0;
    let found = 0;
    for (let k = 0; k < quads; k++) {
      const x = words[k]!;
      control |= ~(x + 0x60606060);
      const spaces = ~(x + 0x5f5f5f5f) & 0x80808080;
      // A word character right after a space: a break (a word character came before: word !== NO_WORD).
      const starts = (spaces ^ 0x80808080) & ((spaces << 8) | spaceBefore);
      found += Math.imul(starts >>> 7, 0x01010101) >>> 24;
      spaceBefore = (spaces >>> 24) & 0x80;
    }
    if ((control & 0x80808080) === 0) {
      breaks += found;
      word = spaceBefore !== 0 ? SEPARATED : IN_WORD;
      i += quads * 4;
    }
  }
  for (; i < end; i++) {
    const counted = byteWordBreak(chunk[i]!, word);
    breaks += counted >>> 2;
    word = counted & 3;
  }
  return breaks * 4 + word;
}

/** One ASCII byte's step of the word state: breaks (0 or 1) * 4 + the state after it. */
function byteWordBreak(c: number, word: number): number {
  if (c > 0x20 || c < 0x09 || (c > 0x0d && c < 0x1c)) return word === SEPARATED ? 4 + IN_WORD : IN_WORD;
  if (c <= 0x0d || c === 0x20) return word === IN_WORD ? SEPARATED : word;
  return word; // 0x1c-0x1f: neutral
}

/** Whether an ASCII byte is whitespace to JavaScript's trim or Python's strip. */
function isSpaceByte(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d) || (b >= 0x1c && b <= 0x1f);
}

/** Whether a UTF-16 unit is whitespace to JavaScript's trim or Python's strip (either may trim content). */
function isSpaceUnit(unit: number): boolean {
  return isWordSeparator(unit) || isNeutralSpace(unit);
}
