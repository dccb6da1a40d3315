// user_modules.ts: what the CLI loads from the user's files: reward functions, a PRM (a module or
// a served one by URL), a step splitter, text samples, and the tokenizer of a model directory.
// Modules are ES modules (or CommonJS) loaded with import(); their default export is used.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { loadTokenizer as loadHuggingFaceTokenizer } from '../model/hf_tokenizer';
import { checkTokenizerFits } from '../model/pretrained';
import type { TinyLM } from '../model/tinylm';
import { ByteTokenizer, type Tokenizer } from '../model/tokenizer';
import type { ProcessRewardModel } from '../reward/prm';
import { fixedLengthSplitter, newlineSplitter, numberedListSplitter, type StepSplitter } from '../reward/splitters';
import { RemotePRM } from '../remote/prm';
import { readJsonl, splitOf, type LoadedSample } from '../text/dataset';
import { textSplitter, type PrmFunction, type RewardFunction, type WeightedReward } from '../text/reward';
import { UsageError } from './args';

async function importModule(file: string, flag: string, command: string): Promise<Record<string, unknown>> {
  const full = path.resolve(file);
  if (!fs.existsSync(full)) throw new UsageError(`--${flag} ${file}: no such file`, command);
  try {
    return (await import(pathToFileURL(full).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`--${flag} ${file}: cannot load the module (${(error as Error)?.message ?? String(error)})`, command);
  }
}

/** The module's default export, or its export named `name`. */
function exported(mod: Record<string, unknown>, name: string): unknown {
  const d = mod.default as Record<string, unknown> | undefined;
  // A CommonJS module's exports arrive as `default`.
  return mod[name] ?? (d && typeof d === 'object' && !Array.isArray(d) && name in d ? d[name] : d);
}

export type RewardSpec = RewardFunction<LoadedSample> | (RewardFunction<LoadedSample> | WeightedReward<LoadedSample>)[];

/** `--reward <module>`: default export (or `reward`) a function (completion, sample) => number, or a list of them / { fn, weight }. */
export async function loadReward(file: string, command: string): Promise<RewardSpec> {
  const r = exported(await importModule(file, 'reward', command), 'reward');
  const ok = (x: unknown) => typeof x === 'function' || (typeof x === 'object' && x !== null && typeof (x as WeightedReward).fn === 'function');
  if (typeof r === 'function' || (Array.isArray(r) && r.length > 0 && r.every(ok))) return r as RewardSpec;
  throw new UsageError(`--reward ${file}: expected the default export to be a function (completion, sample) => number or a list of them (or { fn, weight })`, command);
}

export interface PrmFlags {
  format?: string;
  model?: string;
  timeoutMs?: number;
  concurrency?: number;
  batchSize?: number;
}

/** `--prm <module | http(s)://url>`: a PRM function/object from a module, or a served PRM. */
export async function loadPrm(spec: string, flags: PrmFlags, command: string): Promise<ProcessRewardModel | PrmFunction> {
  if (/^https?:\/\//.test(spec)) {
    try {
      return new RemotePRM({
        url: spec, format: (flags.format ?? 'pooling') as 'pooling', model: flags.model, timeoutMs: flags.timeoutMs, concurrency: flags.concurrency, batchSize: flags.batchSize,
      });
    } catch (error) {
      throw new UsageError(`--prm ${spec}: ${(error as Error).message}`, command);
    }
  }
  const p = exported(await importModule(spec, 'prm', command), 'prm');
  if (typeof p === 'function' || (typeof p === 'object' && p !== null && typeof (p as ProcessRewardModel).scoreSteps === 'function'))
    return p as ProcessRewardModel | PrmFunction;
  throw new UsageError(`--prm ${spec}: expected the default export to be a function (prompt, steps, sample) => number[] or an object with scoreSteps`, command);
}

/** `--splitter newline | numbered | fixed:<tokens> | entropy | <module>` (a module's default export splits the completion text into steps). */
export async function loadSplitter(spec: string, command: string): Promise<StepSplitter | 'entropy'> {
  if (spec === 'entropy') return 'entropy';
  if (spec === 'newline') return newlineSplitter;
  if (spec === 'numbered') return numberedListSplitter;
  const fixed = /^fixed:(\d+)$/.exec(spec);
  if (fixed && Number(fixed[1]) >= 1) return fixedLengthSplitter(Number(fixed[1]));
  if (!/\.(m?js|cjs)$/.test(spec)) throw new UsageError(`--splitter must be newline, numbered, fixed:<tokens>, entropy or a .mjs/.js module (received ${JSON.stringify(spec)})`, command);
  const s = exported(await importModule(spec, 'splitter', command), 'splitter');
  if (typeof s !== 'function') throw new UsageError(`--splitter ${spec}: expected the default export to be a function (completion) => string[]`, command);
  return textSplitter(s as (completion: string) => string[]);
}

/** `--data <file.jsonl>`: its training samples (and held-out ones). */
export function loadData(file: string, command: string): { train: LoadedSample[]; test: LoadedSample[] } {
  let all: LoadedSample[];
  try {
    all = readJsonl(path.resolve(file));
  } catch (error) {
    throw new UsageError(`--data: ${(error as Error).message}`, command);
  }
  return { train: splitOf(all, 'train'), test: splitOf(all, 'test') };
}

/**
 * The tokenizer of a model directory (or of `--tokenizer <dir>`): the Hugging Face tokenizer when
 * the directory has tokenizer.json (loadPretrained's loader, chat template included), otherwise
 * steprl's byte tokenizer for checkpoints with its 260-token vocabulary. Either must fit the model.
 */
export function loadTokenizer(dir: string | null, model: TinyLM, command: string): Tokenizer {
  if (dir !== null && fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    const tokenizer = loadHuggingFaceTokenizer(dir);
    try {
      checkTokenizerFits(tokenizer, model.vocabSize, dir);
    } catch (error) {
      throw new UsageError(`--tokenizer ${dir}: ${(error as Error).message}`, command);
    }
    return tokenizer;
  }
  const tokenizer = new ByteTokenizer();
  if (model.vocabSize !== tokenizer.vocabSize)
    throw new UsageError(`the model's vocabulary has ${model.vocabSize} tokens but the byte tokenizer has ${tokenizer.vocabSize}; pass --tokenizer <dir with tokenizer.json>`, command);
  return tokenizer;
}
