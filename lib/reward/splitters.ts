// splitters.ts: step splitting of a response, in token space. A splitter returns the index of the
// last token of each step (the response's last token always ends the last step) and the step
// texts. Newline (one step per line; PRL's "n" split), numbered list (PSPO's extract_steps
// markers), fixed length (PRL's "length" split, K tokens) and entropy spikes (PRPO, through
// ops.entropySegments) are provided; any function of this shape plugs in.
import type { Tokenizer } from '../model/tokenizer';

export interface StepSplit {
  /** Token index (0-based, < length) of the last token of each step, ascending. */
  ends: number[];
  texts: string[];
}

export interface SplitInput {
  /** The response's tokens (without padding). */
  tokens: Int32Array;
  tokenizer: Tokenizer;
  /** Per-token entropy of the rollout distribution, for entropy-based splitters. */
  entropy?: Float32Array;
}

export type StepSplitter = (input: SplitInput) => StepSplit;

/** Text of each token and the character offset where it starts. */
function pieces(input: SplitInput): { text: string; starts: number[] } {
  const starts: number[] = [];
  let text = '';
  for (const id of input.tokens) {
    starts.push(text.length);
    text += input.tokenizer.decode([id]);
  }
  return { text, starts };
}

/** Steps from token end indices (deduplicated, sorted, closed at the last token). */
export function stepsFromEnds(input: SplitInput, ends: Iterable<number>): StepSplit {
  const L = input.tokens.length;
  if (L === 0) return { ends: [], texts: [] };
  const sorted = [...new Set([...ends].filter((e) => e >= 0 && e < L))].sort((a, b) => a - b);
  if (sorted[sorted.length - 1] !== L - 1) sorted.push(L - 1);
  const texts: string[] = [];
  let begin = 0;
  for (const end of sorted) {
    texts.push(input.tokenizer.decode(input.tokens.subarray(begin, end + 1)));
    begin = end + 1;
  }
  return { ends: sorted, texts };
}

/** Steps end at every token whose text contains a newline. */
export const newlineSplitter: StepSplitter = (input) => {
  const ends: number[] = [];
  input.tokens.forEach((id, t) => {
    if (input.tokenizer.decode([id]).includes('\n')) ends.push(t);
  });
  return stepsFromEnds(input, ends);
};

/** A step every `length` tokens (PRL's default split uses 256). */
export function fixedLengthSplitter(length: number): StepSplitter {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`Expected an integer >= 1 for length but received ${length}`);
  return (input) => stepsFromEnds(input, Array.from({ length: Math.floor(input.tokens.length / length) }, (_, i) => (i + 1) * length - 1));
}

/**
 * PSPO's numbered-list split (repo `extract_steps`): a step starts at "N. " after a sentence end or
 * at the start, at "\nN." or at "[N]". Text before the first marker is dropped (it joins the first
 * step here, since token spans must cover the response), empty pieces vanish.
 */
export const numberedListSplitter: StepSplitter = (input) => {
  const { text, starts } = pieces(input);
  const marker = /(?:^|(?<=[.!?]\s)|(?<=\n))\d+\.\s|\[\d+\]/g;
  const stepStarts: number[] = [];
  for (const m of text.matchAll(marker)) stepStarts.push(m.index!);
  const ends: number[] = [];
  for (const start of stepStarts.slice(1)) {
    // The token that contains the character just before the next marker ends a step.
    let t = starts.findIndex((s) => s >= start);
    if (t === -1) t = input.tokens.length;
    if (t - 1 >= 0) ends.push(t - 1);
  }
  return stepsFromEnds(input, ends);
};
