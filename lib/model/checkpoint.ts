// checkpoint.ts: TinyLM checkpoints in Hugging Face layout: a folder with config.json and
// model.safetensors (or model.safetensors.index.json + shards), tensors under their HF names, f32 or
// bf16. Saving writes a temporary folder and renames it into place, so a crash leaves the previous
// checkpoint intact.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FormatError } from '../errors';
import { toBFloat16 } from '../tensor';
import { resolveDirectory, writeDirectoryAtomic, writeFileAtomic } from '../util/atomic';
import { fromHuggingFace, toHuggingFace, type TinyLMConfig } from './config';
import type { ParamSpec } from './params';
import { encodeSafetensors, readSafetensors, toFloat32, type SafetensorsTensor } from './safetensors';

/** Buffers some checkpoints carry that are not parameters. */
const IGNORED = [/\.rotary_emb\.inv_freq$/];

export function readConfig(dir: string): TinyLMConfig {
  const file = path.join(resolveDirectory(dir), 'config.json');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is this a checkpoint folder?)' : (error as Error).message;
    throw new FormatError(file, `cannot read the model config: ${reason}`);
  }
  return fromHuggingFace(json, file);
}

function readTensors(dir: string): Map<string, SafetensorsTensor> {
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(single)) return readSafetensors(single).tensors;
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (!fs.existsSync(indexFile)) throw new FormatError(dir, 'expected model.safetensors or model.safetensors.index.json');
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (error) {
    throw new FormatError(indexFile, `the index is not JSON (${(error as Error).message})`);
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const shard of new Set(Object.values(index.weight_map ?? {}))) {
    if (shard.includes('/') || shard.includes('\\')) throw new FormatError(indexFile, `shard name ${JSON.stringify(shard)} is not a plain file name`);
    for (const [name, tensor] of readSafetensors(path.join(dir, shard)).tensors) tensors.set(name, tensor);
  }
  return tensors;
}

/** Fills `values` (the flat parameter buffer) from the checkpoint's tensors. */
export function readWeights(dir: string, specs: readonly ParamSpec[], values: Float32Array): void {
  const folder = resolveDirectory(dir);
  const tensors = readTensors(folder);
  const expected = new Set(specs.map((s) => s.name));
  for (const spec of specs) {
    const tensor = tensors.get(spec.name);
    if (tensor === undefined) throw new FormatError(folder, `missing tensor ${spec.name} [${spec.shape.join(', ')}]`);
    if (tensor.shape.length !== spec.shape.length || tensor.shape.some((d, i) => d !== spec.shape[i]))
      throw new FormatError(folder, `tensor ${spec.name}: expected shape [${spec.shape.join(', ')}] but received [${tensor.shape.join(', ')}]`);
    values.set(toFloat32(tensor), spec.offset);
  }
  const unexpected = [...tensors.keys()].filter((name) => !expected.has(name) && !IGNORED.some((re) => re.test(name)) &&
    !(name === 'lm_head.weight' && expected.has('model.embed_tokens.weight') && !expected.has('lm_head.weight')));
  if (unexpected.length > 0)
    throw new FormatError(folder, `unexpected tensors ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ', …' : ''} (a different architecture?)`);
}

export interface SaveOptions {
  /** Storage dtype of the weights. Default 'float32' (bit-exact round trips). */
  dtype?: 'float32' | 'bfloat16';
  /** Extra files to place in the checkpoint folder (e.g. trainer state), written in the same swap. */
  extraFiles?: Record<string, string | Uint8Array>;
}

export function writeCheckpoint(dir: string, config: TinyLMConfig, specs: readonly ParamSpec[], values: Float32Array, options: SaveOptions = {}): void {
  const dtype = options.dtype ?? 'float32';
  const tensors = specs.map((spec) => {
    const data = values.subarray(spec.offset, spec.offset + spec.numel);
    return dtype === 'float32'
      ? { name: spec.name, dtype: 'F32' as const, shape: spec.shape, data }
      : { name: spec.name, dtype: 'BF16' as const, shape: spec.shape, data: toBFloat16(data) };
  });
  writeDirectoryAtomic(dir, (tmp) => {
    writeFileAtomic(path.join(tmp, 'config.json'), JSON.stringify(toHuggingFace(config, dtype), null, 2) + '\n');
    writeFileAtomic(path.join(tmp, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt', producer: 'steprl' }));
    for (const [name, content] of Object.entries(options.extraFiles ?? {}))
      writeFileAtomic(path.join(tmp, name), typeof content === 'string' ? content : content);
  });
}
