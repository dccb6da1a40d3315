// checkpoint.ts: TinyLM checkpoints in Hugging Face layout: a folder with config.json and
// model.safetensors, or model.safetensors.index.json + shards (model-00001-of-0000N.safetensors),
// tensors under their HF names, f32 or bf16 (f16 read too).
//
// Loading is two steps. planWeights reads config-independent headers only (every shard's, checked
// in safetensors_header.ts) and matches them against the parameter table: missing, unexpected, misshapen
// or unreadable tensors and the parameter count are all reported before any memory is allocated
// or any weight copied. fillWeights then reads shard by shard, each tensor with positioned reads
// straight into its place in the flat buffer (never a whole file in memory).
//
// Saving streams each tensor from the flat buffer into shards of at most `maxShardSize` bytes
// (a single tensor larger than that gets a shard of its own, as in transformers), inside a
// temporary folder that is renamed into place, so a crash leaves the previous checkpoint intact.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ArgumentError, FormatError, SteprlError } from '../errors';
import { resolveDirectory, writeDirectoryAtomic, writeFileAtomic } from '../util/atomic';
import { fromHuggingFace, toHuggingFace, type TinyLMConfig } from './config';
import { checkConfigLimits } from './config_limits';
import type { ParamSpec } from './params';
import {
  readSafetensorsHeader, readTensorInto, storedBytes, withCheckpointFile, writeSafetensorsFile, type SafetensorsEntry, type SafetensorsHeader,
  type TensorToWrite,
} from './safetensors';

/** Buffers some checkpoints carry that are not parameters. */
const IGNORED = [/\.rotary_emb\.inv_freq$/];
/** config.json and the index are small; anything larger is not one. */
const MAX_JSON_BYTES = 64 * 2 ** 20;
export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
/** transformers' default max_shard_size ("5GB" = 5 * 10^9 bytes). */
export const DEFAULT_MAX_SHARD_SIZE = 5e9;

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_JSON_BYTES) throw new FormatError(file, `expected ${what} of at most ${MAX_JSON_BYTES} bytes but received ${size}`);
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof FormatError) throw error;
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is this a checkpoint folder?)' : (error as Error).message;
    throw new FormatError(file, `cannot read ${what}: ${reason}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FormatError(file, `expected ${what} to be JSON (${(error as Error).message})`);
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The checkpoint's config, checked against CONFIG_LIMITS (nothing is sized from it before that). */
export function readConfig(dir: string): TinyLMConfig {
  const file = path.join(resolveDirectory(dir), 'config.json');
  const json = readJson(file, 'the model config');
  if (!isObject(json)) throw new FormatError(file, 'expected the model config to be a JSON object');
  if (json.architectures !== undefined && (!Array.isArray(json.architectures) || json.architectures.some((a) => typeof a !== 'string')))
    throw new FormatError(file, `expected architectures to be an array of strings but received ${JSON.stringify(json.architectures)}`);
  let config: TinyLMConfig;
  try {
    config = fromHuggingFace(json, file);
  } catch (error) {
    if (error instanceof SteprlError) throw error;
    throw new FormatError(file, `cannot read the model config (${(error as Error).message})`);
  }
  checkConfigLimits(config, file);
  return config;
}

interface Shard {
  file: string;
  header: SafetensorsHeader;
}

interface Located {
  shard: number;
  entry: SafetensorsEntry;
}

/** Every shard's header, and where each tensor lives; checks the index against the shards. */
function inspectCheckpoint(folder: string): { shards: Shard[]; tensors: Map<string, Located> } {
  const single = path.join(folder, SINGLE_FILE);
  if (fs.existsSync(single)) {
    const header = readSafetensorsHeader(single);
    return { shards: [{ file: single, header }], tensors: new Map([...header.entries].map(([name, entry]) => [name, { shard: 0, entry }])) };
  }
  const indexFile = path.join(folder, INDEX_FILE);
  if (!fs.existsSync(indexFile)) throw new FormatError(folder, `expected ${SINGLE_FILE} or ${INDEX_FILE}`);
  const index = readJson(indexFile, 'the shard index');
  if (!isObject(index) || !isObject(index.weight_map))
    throw new FormatError(indexFile, 'expected an object with a weight_map object {tensor name: shard file}');
  const weightMap = index.weight_map;
  const names: string[] = [];
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '' || shard.includes('/') || shard.includes('\\') || shard === '.' || shard === '..')
      throw new FormatError(indexFile, `weight_map[${JSON.stringify(name)}]: expected a plain shard file name but received ${JSON.stringify(shard)}`);
    if (!names.includes(shard)) names.push(shard);
  }
  const shards: Shard[] = [];
  const tensors = new Map<string, Located>();
  for (const name of names) {
    const file = path.join(folder, name);
    const header = readSafetensorsHeader(file);
    for (const [tensor, entry] of header.entries) {
      const other = tensors.get(tensor);
      if (other !== undefined)
        throw new FormatError(file, `tensor ${tensor} is also in ${path.basename(shards[other.shard].file)}`);
      if (weightMap[tensor] !== name)
        throw new FormatError(file, `tensor ${tensor} is in this shard but ${INDEX_FILE} places it in ${JSON.stringify(weightMap[tensor] ?? null)}`);
      tensors.set(tensor, { shard: shards.length, entry });
    }
    shards.push({ file, header });
  }
  for (const [tensor, shard] of Object.entries(weightMap))
    if (!tensors.has(tensor)) throw new FormatError(indexFile, `weight_map places tensor ${tensor} in ${shard}, which does not hold it`);
  return { shards, tensors };
}

/** Which tensor of which shard fills which parameter: checked, nothing allocated or read yet. */
export interface WeightPlan {
  folder: string;
  shards: Shard[];
  /** Per shard, in file order: the entry and the parameter it fills. */
  reads: { entry: SafetensorsEntry; spec: ParamSpec }[][];
}

/**
 * Reads the checkpoint's headers and matches them with `specs`: every parameter present with its
 * shape and a float dtype, no tensor the model does not have (a tied model ignores lm_head.weight),
 * parameter counts equal. Throws a FormatError naming the folder and tensors otherwise.
 */
export function planWeights(dir: string, specs: readonly ParamSpec[]): WeightPlan {
  const folder = resolveDirectory(dir);
  const { shards, tensors } = inspectCheckpoint(folder);
  const expected = new Map(specs.map((s) => [s.name, s]));
  const problems: string[] = [];
  let implied = 0n;
  for (const spec of specs) {
    implied += BigInt(spec.numel);
    const found = tensors.get(spec.name);
    if (found === undefined) problems.push(`missing tensor ${spec.name} [${spec.shape.join(', ')}]`);
    else if (found.entry.shape.length !== spec.shape.length || found.entry.shape.some((d, i) => d !== spec.shape[i]))
      problems.push(`tensor ${spec.name}: expected shape [${spec.shape.join(', ')}] but received [${found.entry.shape.join(', ')}]`);
    else if (!['F32', 'BF16', 'F16'].includes(found.entry.dtype))
      problems.push(`tensor ${spec.name}: expected dtype F32, BF16 or F16 but received ${found.entry.dtype}`);
  }
  let present = 0n;
  const unexpected: string[] = [];
  for (const [name, { entry }] of tensors) {
    if (expected.has(name)) present += BigInt(entry.numel);
    else if (!IGNORED.some((re) => re.test(name)) && !(name === 'lm_head.weight' && expected.has('model.embed_tokens.weight'))) {
      unexpected.push(name);
      present += BigInt(entry.numel);
    }
  }
  if (unexpected.length > 0)
    problems.push(`unexpected tensors ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? `, … (${unexpected.length} in all)` : ''} (a different architecture?)`);
  if (problems.length > 0) {
    const counts = implied === present ? '' : ` (the config implies ${implied} parameters, the files hold ${present})`;
    throw new FormatError(folder, `${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; … (${problems.length} problems)` : ''}${counts}`);
  }
  const reads = shards.map(() => [] as { entry: SafetensorsEntry; spec: ParamSpec }[]);
  for (const spec of specs) {
    const { shard, entry } = tensors.get(spec.name)!;
    reads[shard].push({ entry, spec });
  }
  for (const list of reads) list.sort((a, b) => a.entry.begin - b.entry.begin);
  return { folder, shards, reads };
}

/**
 * Reads a planned checkpoint into `values` (the flat parameter buffer), shard by shard. An I/O
 * error (a file truncated since it was planned) throws a FormatError, with `values` partly written:
 * callers fill a buffer no model uses yet.
 */
export function fillWeights(plan: WeightPlan, values: Float32Array): void {
  plan.shards.forEach((shard, i) => withCheckpointFile(shard.file, (fd) => {
    if (fs.fstatSync(fd).size !== shard.header.fileBytes)
      throw new FormatError(shard.file, `the file changed size while loading (${shard.header.fileBytes} -> ${fs.fstatSync(fd).size} bytes)`);
    for (const { entry, spec } of plan.reads[i])
      readTensorInto(fd, shard.header, entry, values.subarray(spec.offset, spec.offset + spec.numel));
  }));
}

/** Fills `values` (the flat parameter buffer) from the checkpoint's tensors. */
export function readWeights(dir: string, specs: readonly ParamSpec[], values: Float32Array): void {
  fillWeights(planWeights(dir, specs), values);
}

export interface SaveOptions {
  /** Storage dtype of the weights. Default 'float32' (bit-exact round trips). */
  dtype?: 'float32' | 'bfloat16';
  /**
   * Largest shard in bytes (default 5e9, as transformers). A checkpoint that fits is one
   * model.safetensors; otherwise shards model-0000i-of-0000N.safetensors and an index.
   */
  maxShardSize?: number;
  /** Extra files to place in the checkpoint folder (e.g. trainer state), written in the same swap. */
  extraFiles?: Record<string, string | Uint8Array>;
}

/** Groups tensors into shards of at most `limit` bytes, in order (a larger tensor is alone). */
function shardTensors(tensors: readonly TensorToWrite[], limit: number): TensorToWrite[][] {
  const shards: TensorToWrite[][] = [];
  let current: TensorToWrite[] = [];
  let size = 0;
  for (const t of tensors) {
    const bytes = storedBytes(t);
    if (current.length > 0 && size + bytes > limit) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(t);
    size += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

export function writeCheckpoint(dir: string, config: TinyLMConfig, specs: readonly ParamSpec[], values: Float32Array, options: SaveOptions = {}): void {
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'bfloat16') throw ArgumentError.expected('options.dtype', "'float32' or 'bfloat16'", dtype);
  const maxShardSize = options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE;
  if (typeof maxShardSize !== 'number' || !Number.isSafeInteger(maxShardSize) || maxShardSize < 1)
    throw ArgumentError.expected('options.maxShardSize', 'a positive integer number of bytes', maxShardSize);
  const tensors: TensorToWrite[] = specs.map((spec) => ({
    name: spec.name,
    dtype: dtype === 'float32' ? 'F32' : 'BF16',
    shape: spec.shape,
    data: values.subarray(spec.offset, spec.offset + spec.numel),
  }));
  const metadata = { format: 'pt', producer: 'steprl' };
  const shards = shardTensors(tensors, maxShardSize);
  writeDirectoryAtomic(dir, (tmp) => {
    writeFileAtomic(path.join(tmp, 'config.json'), JSON.stringify(toHuggingFace(config, dtype), null, 2) + '\n');
    if (shards.length === 1) {
      writeSafetensorsFile(path.join(tmp, SINGLE_FILE), shards[0], metadata);
    } else {
      const width = Math.max(5, String(shards.length).length);
      const pad = (i: number) => String(i).padStart(width, '0');
      const weightMap: Record<string, string> = {};
      shards.forEach((shard, i) => {
        const name = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
        writeSafetensorsFile(path.join(tmp, name), shard, metadata);
        for (const t of shard) weightMap[t.name] = name;
      });
      const totalSize = tensors.reduce((n, t) => n + storedBytes(t), 0);
      writeFileAtomic(path.join(tmp, INDEX_FILE), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2) + '\n');
    }
    for (const [name, content] of Object.entries(options.extraFiles ?? {}))
      writeFileAtomic(path.join(tmp, name), content);
  });
}
