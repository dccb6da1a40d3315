// prompt.ts: how a sample's prompt becomes the token ids a rollout starts from. With a tokenizer
// that has a chat template, the template renders it (a string prompt is one user message;
// add_generation_prompt). Otherwise an explicit format does: plainPromptFormat() is steprl's own
// `[bos, ...encode(prefix + prompt + suffix)]` (BOS skipped when the tokenizer has none), and its
// defaults are exactly what the embedded tasks were trained with, `[bos, ...encode(prompt + "\n")]`.
import { ArgumentError } from '../errors';
import type { ChatMessage, Tokenizer } from '../model/tokenizer';
import type { Sample } from './dataset';

/** Turns a sample's prompt into token ids. */
export type PromptFormat = (sample: Pick<Sample, 'prompt'>, tokenizer: Tokenizer) => Int32Array;

export interface PlainPromptOptions {
  /** Text before the prompt. Default "". */
  prefix?: string;
  /** Text after the prompt. Default "\n". */
  suffix?: string;
  /** Put the tokenizer's BOS first (when it has one). Default true. */
  bos?: boolean;
  /** How chat messages become one string; without it, messages need a chat template. */
  renderMessages?: (messages: readonly ChatMessage[]) => string;
}

export function plainPromptFormat(options: PlainPromptOptions = {}): PromptFormat {
  const prefix = options.prefix ?? '', suffix = options.suffix ?? '\n', bos = options.bos ?? true;
  return (sample, tokenizer) => {
    let text: string;
    if (typeof sample.prompt === 'string') text = sample.prompt;
    else if (options.renderMessages) text = options.renderMessages(sample.prompt);
    else
      throw new ArgumentError('prompt', 'Expected a string prompt for a tokenizer without a chat template (or plainPromptFormat({ renderMessages })) but received chat messages');
    const ids = tokenizer.encode(prefix + text + suffix);
    return !bos || tokenizer.bosId === null ? ids : Int32Array.from([tokenizer.bosId, ...ids]);
  };
}

/** The default format: `[bos, ...encode(prompt + "\n")]`. */
export const defaultPromptFormat: PromptFormat = plainPromptFormat();

export interface ChatPromptOptions {
  /** A system message put before a string prompt (messages prompts carry their own). */
  system?: string;
}

/** Renders with the tokenizer's chat template and add_generation_prompt, then encodes. */
export function chatPromptFormat(options: ChatPromptOptions = {}): PromptFormat {
  return (sample, tokenizer) => {
    if (!tokenizer.applyChatTemplate) throw new ArgumentError('tokenizer', 'Expected a tokenizer with a chat template (applyChatTemplate) for chatPromptFormat but received one without');
    const messages: ChatMessage[] = typeof sample.prompt === 'string'
      ? [...(options.system !== undefined ? [{ role: 'system', content: options.system }] : []), { role: 'user', content: sample.prompt }]
      : [...sample.prompt];
    return tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true }));
  };
}

/** The format used when none is named: the chat template when the tokenizer has one, else the default. */
export function promptFormatFor(tokenizer: Tokenizer, format?: PromptFormat | 'chat' | 'plain'): PromptFormat {
  if (typeof format === 'function') return format;
  if (format === 'chat') return chatPromptFormat();
  if (format === 'plain') return defaultPromptFormat;
  if (format !== undefined) throw ArgumentError.expected('promptFormat', 'a function, "chat" or "plain"', format);
  return tokenizer.applyChatTemplate ? chatPromptFormat() : defaultPromptFormat;
}
