// hf_tokenizer.ts: Hugging Face tokenizers behind steprl's Tokenizer interface. tokenizer.json is
// run by @huggingface/tokenizers (the tokenizer of transformers.js: BPE, WordPiece, Unigram, byte
// level, added and special tokens); the special-token names and the chat template come from
// tokenizer_config.json (or chat_template.jinja / chat_template.json, where newer transformers save
// the template), stop ids also from generation_config.json. Chat templates are rendered by
// @huggingface/jinja with transformers' settings (trim_blocks, lstrip_blocks) and variables
// (messages, add_generation_prompt, the special-token strings, plus whatever the caller adds, e.g.
// enable_thinking).
//
// encode(text) is transformers' `tokenizer.encode(text, add_special_tokens=False)`: special-token
// strings inside the text (e.g. "<|im_start|>") become their ids, but no BOS/EOS is added; the
// trainer places BOS itself where the tokenizer would (bosId is non-null only when tokenizer.json's
// post-processor prepends the bos_token, as Llama's does and Qwen's does not). A chat template that
// writes bos_token itself (Llama 3) already puts it in the rendered text, so a prompt rendered by
// the template needs no second BOS (transformers tokenizes templates without special tokens too).
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Template } from '@huggingface/jinja' with { 'resolution-mode': 'import' };
import type { Tokenizer as HFTokenizerImpl } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };

import { checkOptionsObject } from '../validate';
import { ArgumentError, FormatError, describe } from '../errors';
import type { ChatMessage, Tokenizer } from './tokenizer';

// Both packages ship CommonJS builds beside their ES modules (the types are those of the ES build);
// they are loaded on first use, so require('steprl') does not load them.
const jinja = (): { Template: typeof Template } => require('@huggingface/jinja');
const tokenizers = (): { Tokenizer: typeof HFTokenizerImpl } => require('@huggingface/tokenizers');

/** The parsed contents of a tokenizer's files (what `loadTokenizer` reads from a directory). */
export interface HuggingFaceTokenizerFiles {
  /** tokenizer.json, parsed. Required. */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json, parsed. */
  tokenizerConfig?: Record<string, unknown>;
  /** generation_config.json, parsed (its eos_token_id adds stop ids). */
  generationConfig?: Record<string, unknown>;
  /** A chat template that overrides tokenizer_config.json's (chat_template.jinja). */
  chatTemplate?: string;
  /** The files as read (name -> bytes), copied verbatim by savePretrained; built from the objects above when absent. */
  raw?: ReadonlyMap<string, Uint8Array>;
}

export interface ChatTemplateOptions {
  /** End with the assistant turn's opening (add_generation_prompt). Default false. */
  addGenerationPrompt?: boolean;
  /** Further template variables, e.g. { enable_thinking: false } for Qwen3. */
  variables?: Record<string, unknown>;
}

const SPECIAL_KEYS = ['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const;

/** A special token as tokenizer_config.json writes it: a string, an AddedToken dict, or null. */
function tokenString(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string')
    return (value as { content: string }).content;
  return null;
}

/** Ids as generation_config.json / config.json write them: a number or a list of numbers. */
function idList(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return list.filter((id): id is number => Number.isSafeInteger(id) && (id as number) >= 0);
}

function pickChatTemplate(value: unknown, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  // Named templates: [{ name: 'default', template: '...' }, { name: 'tool_use', ... }].
  if (Array.isArray(value)) {
    const named = value.find((t) => t !== null && typeof t === 'object' && (t as { name?: unknown }).name === 'default');
    if (named !== undefined && typeof (named as { template?: unknown }).template === 'string') return (named as { template: string }).template;
    throw new FormatError(file, 'chat_template is a list without a template named "default"');
  }
  throw new FormatError(file, `expected chat_template to be a string but received ${describe(value)}`);
}

export class HuggingFaceTokenizer implements Tokenizer {
  /** Ids 0..vocabSize-1 cover the vocabulary and the added tokens. */
  readonly vocabSize: number;
  /** The bos_token's id when the tokenizer prepends it (add_special_tokens), else null. */
  readonly bosId: number | null;
  readonly eosId: number;
  readonly padId: number;
  readonly stopIds: readonly number[];
  /** The Jinja chat template source, or null when the tokenizer has none. */
  readonly chatTemplate: string | null;
  /** The special-token strings the template sees (bos_token, eos_token, ...), as in tokenizer_config.json. */
  readonly specialTokens: Readonly<Record<string, string>>;
  readonly #impl: HFTokenizerImpl;
  readonly #files: HuggingFaceTokenizerFiles;
  #template: Template | null = null;

  constructor(files: HuggingFaceTokenizerFiles, source = 'tokenizer') {
    if (files === null || typeof files !== 'object' || files.tokenizer === null || typeof files.tokenizer !== 'object')
      throw ArgumentError.expected('files.tokenizer', 'the parsed tokenizer.json object', files?.tokenizer);
    this.#files = files;
    const config = files.tokenizerConfig ?? {};
    const configFile = path.join(source, 'tokenizer_config.json');
    try {
      this.#impl = new (tokenizers().Tokenizer)(files.tokenizer, config);
    } catch (error) {
      throw new FormatError(path.join(source, 'tokenizer.json'), `cannot build the tokenizer (${(error as Error).message})`);
    }
    const vocab = this.#impl.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const special: Record<string, string> = {};
    for (const key of SPECIAL_KEYS) {
      const token = tokenString(config[key]);
      if (token !== null) special[key] = token;
    }
    this.specialTokens = special;
    const idOf = (key: string): number | null => {
      const token = special[key];
      if (token === undefined) return null;
      const id = this.#impl.token_to_id(token);
      if (id === undefined) throw new FormatError(configFile, `${key} ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    const generationEos = idList(files.generationConfig?.eos_token_id);
    const eos = idOf('eos_token') ?? generationEos[0] ?? null;
    if (eos === null) throw new FormatError(configFile, 'expected an eos_token (tokenizer_config.json) or eos_token_id (generation_config.json) but found neither');
    this.eosId = eos;
    // generation_config.json's bos_token_id is not used: Qwen's names <|endoftext|> but no BOS is ever prepended.
    const bos = idOf('bos_token');
    this.bosId = bos !== null && this.#impl.encode('a', { add_special_tokens: true }).ids[0] === bos ? bos : null;
    this.padId = idOf('pad_token') ?? idList(files.generationConfig?.pad_token_id)[0] ?? eos;
    this.stopIds = [...new Set([eos, ...generationEos])];
    for (const id of this.stopIds)
      if (id >= this.vocabSize) throw new FormatError(path.join(source, 'generation_config.json'), `eos_token_id ${id} is outside the vocabulary of ${this.vocabSize}`);
    this.chatTemplate = files.chatTemplate ?? pickChatTemplate(config.chat_template, configFile);
    if (this.chatTemplate !== null) {
      try {
        this.#template = new (jinja().Template)(this.chatTemplate);
      } catch (error) {
        throw new FormatError(configFile, `the chat template does not parse (${(error as Error).message})`);
      }
    }
  }

  encode(text: string): Int32Array {
    if (typeof text !== 'string') throw ArgumentError.expected('text', 'a string', text);
    return Int32Array.from(this.#impl.encode(text, { add_special_tokens: false }).ids);
  }

  /**
   * Decodes ids; special tokens are dropped (skip_special_tokens). Ids the tokenizer does not know
   * (a model's embedding is often padded past the vocabulary, e.g. Qwen's 151936 rows for 151669
   * tokens) are skipped, as Hugging Face tokenizers skip them.
   */
  decode(ids: ArrayLike<number>): string {
    const list: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isSafeInteger(id) || id < 0) throw ArgumentError.expected(`ids[${i}]`, 'a non-negative integer token id', id);
      if (id < this.vocabSize && this.#impl.id_to_token(id) !== undefined) list.push(id);
    }
    if (list.length === 0) return '';
    return this.#impl.decode(list, { skip_special_tokens: true });
  }

  /**
   * The tokenizer's files for a model directory (name -> contents): the files it was loaded from,
   * byte for byte, or tokenizer.json / tokenizer_config.json / generation_config.json /
   * chat_template.jinja written from the objects it was built from.
   */
  files(): Record<string, Uint8Array | string> {
    if (this.#files.raw !== undefined) return Object.fromEntries(this.#files.raw);
    const out: Record<string, string> = { 'tokenizer.json': JSON.stringify(this.#files.tokenizer) };
    if (this.#files.tokenizerConfig !== undefined) out['tokenizer_config.json'] = JSON.stringify(this.#files.tokenizerConfig, null, 2) + '\n';
    if (this.#files.generationConfig !== undefined) out['generation_config.json'] = JSON.stringify(this.#files.generationConfig, null, 2) + '\n';
    if (this.#files.chatTemplate !== undefined) out['chat_template.jinja'] = this.#files.chatTemplate;
    return out;
  }

  /** The id of a token string (e.g. "<|im_end|>"), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#impl.token_to_id(token);
  }

  /** Renders messages with the chat template, as transformers' apply_chat_template(tokenize=False). */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.#template === null) throw new ArgumentError('messages', 'this tokenizer has no chat template (tokenizer_config.json has no chat_template)');
    if (!Array.isArray(messages) || messages.length === 0) throw ArgumentError.expected('messages', 'a non-empty array of { role, content } messages', messages);
    messages.forEach((m, i) => {
      if (m === null || typeof m !== 'object' || typeof m.role !== 'string' || typeof m.content !== 'string')
        throw ArgumentError.expected(`messages[${i}]`, 'a { role: string, content: string } message', m);
    });
    checkOptionsObject('options', options, ['addGenerationPrompt', 'variables']);
    const variables = options.variables ?? {};
    if (variables === null || typeof variables !== 'object') throw ArgumentError.expected('options.variables', 'an object of template variables', variables);
    try {
      return this.#template.render({
        ...this.specialTokens,
        ...variables,
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: options.addGenerationPrompt ?? false,
      });
    } catch (error) {
      throw new ArgumentError('messages', `the chat template refused these messages: ${(error as Error).message}`);
    }
  }
}

function readJson(file: string, required: boolean, raw?: Map<string, Uint8Array>): Record<string, unknown> | undefined {
  let text: string;
  try {
    const bytes = fs.readFileSync(file);
    raw?.set(path.basename(file), bytes);
    text = bytes.toString('utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FormatError(file, `cannot read the file (${(error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FormatError(file, `the file is not JSON (${(error as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new FormatError(file, `expected a JSON object but received ${describe(json)}`);
  return json as Record<string, unknown>;
}

/**
 * Loads the Hugging Face tokenizer of a model directory: tokenizer.json (required),
 * tokenizer_config.json, generation_config.json, and chat_template.jinja / chat_template.json.
 */
export function loadTokenizer(dir: string): HuggingFaceTokenizer {
  if (typeof dir !== 'string' || dir.length === 0) throw ArgumentError.expected('dir', 'a directory path', dir);
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    const hint = fs.existsSync(path.join(dir, 'vocab.json')) || fs.existsSync(path.join(dir, 'tokenizer.model'))
      ? ' (only slow-tokenizer files are present; save the tokenizer with transformers to get tokenizer.json)' : '';
    throw new FormatError(path.join(dir, 'tokenizer.json'), `no such file${hint}`);
  }
  const raw = new Map<string, Uint8Array>();
  const files: HuggingFaceTokenizerFiles = {
    tokenizer: readJson(path.join(dir, 'tokenizer.json'), true, raw)!,
    tokenizerConfig: readJson(path.join(dir, 'tokenizer_config.json'), false, raw),
    generationConfig: readJson(path.join(dir, 'generation_config.json'), false, raw),
    raw,
  };
  // Files the tokenizer does not read but a model directory carries (copied on save).
  for (const name of ['special_tokens_map.json', 'added_tokens.json', 'vocab.json', 'merges.txt']) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) raw.set(name, fs.readFileSync(file));
  }
  const jinja = path.join(dir, 'chat_template.jinja');
  if (fs.existsSync(jinja)) {
    const bytes = fs.readFileSync(jinja);
    raw.set('chat_template.jinja', bytes);
    files.chatTemplate = bytes.toString('utf8');
  } else {
    const json = readJson(path.join(dir, 'chat_template.json'), false, raw);
    const template = json === undefined ? null : pickChatTemplate(json.chat_template, path.join(dir, 'chat_template.json'));
    if (template !== null) files.chatTemplate = template;
  }
  return new HuggingFaceTokenizer(files, dir);
}
