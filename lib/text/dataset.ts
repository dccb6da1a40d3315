// dataset.ts: text-level training data. A sample is a prompt (a string, or chat messages) with
// whatever else its reward function needs (`answer`, test cases, metadata: extra fields are kept;
// type them with `Sample & { tests: string[] }`). Samples come from a
// JSON Lines file, an array, or any sync or async iterable (a stream is read up to a limit).
import * as fs from 'node:fs';

import { ArgumentError, FormatError, describe } from '../errors';
import type { ChatMessage } from '../model/tokenizer';

export interface Sample {
  /** Stable key; samples without one get their position ("0", "1", ...). */
  id?: string;
  /** The prompt text, or chat messages rendered by the tokenizer's chat template. */
  prompt: string | readonly ChatMessage[];
  /** The reference answer, when the reward function wants one. */
  answer?: string;
  /** "train" (default) or "test" (held out). */
  split?: 'train' | 'test';
}

/** A sample after loading: it always has an id. */
export type LoadedSample = Sample & { id: string };

export type SampleSource = string | readonly Sample[] | Iterable<Sample> | AsyncIterable<Sample>;

/** Throws a typed error unless `value` is a usable sample; `where` names it in the message. */
export function checkSample(value: unknown, where: string, file?: string): asserts value is Sample {
  const fail = (what: string): never => {
    if (file) throw new FormatError(file, `${where}: ${what}`);
    throw new ArgumentError(where, `Expected ${what} for ${where} but received ${describe(value)}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('an object {"prompt": string | messages, ...}');
  const s = value as Record<string, unknown>;
  if (typeof s.prompt === 'string') {
    // ok
  } else if (Array.isArray(s.prompt)) {
    if (s.prompt.length === 0) fail('"prompt" to be a string or a non-empty array of {"role", "content"} messages');
    for (const m of s.prompt as unknown[])
      if (typeof m !== 'object' || m === null || typeof (m as ChatMessage).role !== 'string' || typeof (m as ChatMessage).content !== 'string')
        fail('"prompt" messages to be objects {"role": string, "content": string}');
  } else fail('"prompt" to be a string or an array of {"role", "content"} messages');
  if (s.answer !== undefined && typeof s.answer !== 'string') fail('"answer" to be a string when present');
  if (s.id !== undefined && typeof s.id !== 'string') fail('"id" to be a string when present');
  if (s.split !== undefined && s.split !== 'train' && s.split !== 'test') fail(`"split" to be "train" or "test" (received ${JSON.stringify(s.split)})`);
}

/** The samples of a JSON Lines file; a malformed line stops with its line number. */
export function readJsonl(file: string): LoadedSample[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new FormatError(file, `cannot read the data file (${(error as Error).message})`);
  }
  const out: LoadedSample[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      throw new FormatError(file, `line ${index + 1} is not JSON (${(error as Error).message})`);
    }
    checkSample(record, `line ${index + 1}`, file);
    out.push({ ...record, id: record.id ?? String(index) });
  });
  return out;
}

/**
 * Samples from a JSONL path, an array or a (sync or async) iterable, at most `limit` of them
 * (a stream is not read past it). Ids default to the position.
 */
export async function loadSamples(source: SampleSource, options: { limit?: number } = {}): Promise<LoadedSample[]> {
  const limit = options.limit ?? Infinity;
  if (!(limit >= 0)) throw ArgumentError.expected('limit', 'a number >= 0', limit);
  if (typeof source === 'string') return readJsonl(source).slice(0, limit);
  const out: LoadedSample[] = [];
  const add = (s: unknown) => {
    const where = `samples[${out.length}]`;
    checkSample(s, where);
    out.push({ ...s, id: s.id ?? String(out.length) });
  };
  if (Array.isArray(source)) return samplesOf(source).slice(0, limit);
  if (source !== null && typeof source === 'object' && Symbol.asyncIterator in source) {
    for await (const s of source as AsyncIterable<Sample>) {
      if (out.length >= limit) break;
      add(s);
    }
    return out;
  }
  if (source !== null && typeof source === 'object' && Symbol.iterator in source) {
    for (const s of source as Iterable<Sample>) {
      if (out.length >= limit) break;
      add(s);
    }
    return out;
  }
  throw ArgumentError.expected('samples', 'a JSONL path, an array or an (async) iterable of samples', source);
}

/** An array of samples checked, with ids (their position when they have none). */
export function samplesOf(samples: readonly Sample[]): LoadedSample[] {
  if (!Array.isArray(samples)) throw ArgumentError.expected('samples', 'an array of samples', samples);
  return samples.map((s, i) => {
    checkSample(s, `samples[${i}]`);
    return { ...s, id: s.id ?? String(i) };
  });
}

/** The samples of one split ("train" takes those without a split). */
export function splitOf<S extends Sample>(samples: readonly S[], split: 'train' | 'test'): S[] {
  return samples.filter((s) => (s.split ?? 'train') === split);
}

/** The prompt as one string: itself, or the last user message's content (what a PRM is shown). */
export function promptText(sample: Pick<Sample, 'prompt'>): string {
  if (typeof sample.prompt === 'string') return sample.prompt;
  const users = sample.prompt.filter((m) => m.role === 'user');
  return (users.at(-1) ?? sample.prompt.at(-1)!).content;
}
