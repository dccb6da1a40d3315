// tokenizer.ts: the Tokenizer interface the trainer talks to, and the byte-level tokenizer the
// embedded tasks use: ids 0..255 are the UTF-8 bytes, then a few special tokens. Any other
// tokenizer (e.g. a Hugging Face one wrapped by the user) plugs in through the same interface.
/** One chat turn, as Hugging Face chat templates take it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface Tokenizer {
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or null for tokenizers without one (Qwen). */
  readonly bosId: number | null;
  readonly eosId: number;
  readonly padId: number;
  /** Ids that end a generation (EOS and e.g. `<|im_end|>`); [eosId] when absent. */
  readonly stopIds?: readonly number[];
  encode(text: string): Int32Array;
  /** Decodes ids; special tokens are dropped. */
  decode(ids: ArrayLike<number>): string;
  /** Renders chat messages with the model's chat template (tokenizers that have one). */
  applyChatTemplate?(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}

export class ByteTokenizer implements Tokenizer {
  static readonly BOS = 256;
  static readonly EOS = 257;
  static readonly PAD = 258;
  /** Step separator for process reward models (placed after each step, like Qwen's <extra_0>). */
  static readonly STEP = 259;
  readonly vocabSize = 260;
  readonly bosId: number = ByteTokenizer.BOS;
  readonly eosId = ByteTokenizer.EOS;
  readonly padId = ByteTokenizer.PAD;
  readonly stepId = ByteTokenizer.STEP;

  encode(text: string): Int32Array {
    return Int32Array.from(Buffer.from(text, 'utf8'));
  }

  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) if (ids[i] >= 0 && ids[i] < 256) bytes.push(ids[i]);
    return Buffer.from(bytes).toString('utf8');
  }
}
