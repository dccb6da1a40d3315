// checkpoint_load.test.ts: TinyLM checkpoints as folders: sharded saves (index + shards) round-trip
// bit-exactly, and every malformed config, index or tensor set is a FormatError naming the file
// and what was expected, found before any weight is allocated (a hostile config.json returns
// within a second instead of exhausting the heap).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ArgumentError, FormatError } from '../../lib/errors';
import { fillWeights, planWeights, readConfig } from '../../lib/model/checkpoint';
import { resolveConfig, type TinyLMConfigInput } from '../../lib/model/config';
import { CONFIG_LIMITS, impliedParameterCount } from '../../lib/model/config_limits';
import { parameterSpecs } from '../../lib/model/params';
import { writeSafetensorsFile } from '../../lib/model/safetensors';
import { TinyLM } from '../../lib/model/tinylm';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-ckpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const small: TinyLMConfigInput = { architecture: 'qwen2', vocabSize: 97, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, tieEmbeddings: true };
const same = (a: TinyLM, b: TinyLM) => Buffer.compare(Buffer.from(a.weightBuffer.toArray().buffer), Buffer.from(b.weightBuffer.toArray().buffer)) === 0;

let n = 0;
/** A saved copy of the small model in a fresh folder. */
function savedCopy(options: Parameters<TinyLM['save']>[1] = {}): string {
  const dir = path.join(tmp, `c${n++}`);
  TinyLM.create(small, { seed: 4 }).save(dir, options);
  return dir;
}

function expectFormatError(run: () => unknown, file: string, message: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(FormatError);
  expect((error as FormatError).file).toBe(file);
  expect((error as Error).message).toMatch(message);
}

describe('sharded checkpoints', () => {
  test('a save split by maxShardSize writes shards and an index, and loads bit-exactly (f32 and bf16)', () => {
    const model = TinyLM.create(small, { seed: 4 });
    const dir = path.join(tmp, 'sharded');
    model.save(dir, { maxShardSize: 20_000 });
    const files = fs.readdirSync(dir).sort();
    const shards = files.filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(2);
    expect(shards[0]).toBe(`model-00001-of-${String(shards.length).padStart(5, '0')}.safetensors`);
    expect(files).toContain('model.safetensors.index.json');
    expect(files).not.toContain('model.safetensors');
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(Object.keys(index.weight_map).sort()).toEqual(model.specs.map((s) => s.name).sort());
    expect(index.metadata.total_size).toBe(model.numParameters * 4);
    // Each shard holds at most maxShardSize bytes of data, unless one tensor alone is larger.
    const biggest = Math.max(...model.specs.map((s) => s.numel * 4));
    for (const shard of shards) expect(fs.statSync(path.join(dir, shard)).size).toBeLessThan(Math.max(20_000, biggest) + 4096);
    expect(same(TinyLM.load(dir), model)).toBe(true);

    model.save(dir, { dtype: 'bfloat16', maxShardSize: 10_000 });
    const half = TinyLM.load(dir);
    const single = path.join(tmp, 'single-bf16');
    model.save(single, { dtype: 'bfloat16' });
    expect(fs.readdirSync(single).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(same(TinyLM.load(single), half)).toBe(true);
    // Saving a sharded folder over a single-file one replaces it whole.
    expect(fs.readdirSync(dir)).not.toContain('model.safetensors');
  });

  test('maxShardSize must be a positive integer', () => {
    const model = TinyLM.create(small);
    expect(() => model.save(path.join(tmp, 'bad'), { maxShardSize: 0 })).toThrow(ArgumentError);
    expect(() => model.save(path.join(tmp, 'bad'), { maxShardSize: 1.5 })).toThrow(/maxShardSize/);
    expect(fs.existsSync(path.join(tmp, 'bad'))).toBe(false);
  });

  test('a value head added at load keeps the stored weights and initializes the head', () => {
    const dir = savedCopy();
    const withHead = TinyLM.load(dir, { valueHead: true });
    const plain = TinyLM.load(dir);
    const a = withHead.weightBuffer.toArray() as Float32Array, b = plain.weightBuffer.toArray() as Float32Array;
    for (const spec of plain.specs) expect(a.subarray(spec.offset, spec.offset + spec.numel)).toEqual(b.subarray(spec.offset, spec.offset + spec.numel));
    const head = withHead.specs.find((s) => s.name === 'v_head.weight')!;
    expect(a.subarray(head.offset, head.offset + head.numel).some((v) => v !== 0)).toBe(true);
  });
});

describe('hostile or malformed configs', () => {
  function withConfig(edit: (json: Record<string, unknown>) => unknown): { dir: string; file: string } {
    const dir = savedCopy();
    const file = path.join(dir, 'config.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    const edited = edit(json);
    fs.writeFileSync(file, typeof edited === 'string' ? edited : JSON.stringify(edited ?? json));
    return { dir, file };
  }

  const cases: [string, (json: Record<string, unknown>) => unknown, RegExp][] = [
    ['num_hidden_layers: 1e9', (j) => { j.num_hidden_layers = 1e9; }, /num_hidden_layers to be an integer in \[1, 1024\] but received 1000000000/],
    ['vocab_size: 1e12', (j) => { j.vocab_size = 1e12; }, /vocab_size to be an integer in \[1, 4194304\] but received 1000000000000/],
    ['hidden_size: 2^40', (j) => { j.hidden_size = 2 ** 40; }, /hidden_size to be an integer in \[1, 65536\]/],
    ['sizes whose product overflows the parameter limit', (j) => Object.assign(j, { vocab_size: 4194304, hidden_size: 65536, num_attention_heads: 64, num_key_value_heads: 64, head_dim: 1024 }), /at most 4294967296 parameters but the config implies \d+/],
    ['intermediate_size: 2^53', (j) => { j.intermediate_size = 2 ** 53; }, /config.intermediateSize|intermediate_size/],
    ['a negative size', (j) => { j.num_attention_heads = -4; }, /numHeads/],
    ['a string size', (j) => { j.vocab_size = '97'; }, /vocabSize/],
    ['a huge max_position_embeddings', (j) => { j.max_position_embeddings = 1e15; }, /max_position_embeddings to be an integer in \[1, 16777216\]/],
    ['head_dim beyond the limit', (j) => { j.head_dim = 8192; }, /head_dim to be an integer in \[1, 4096\]/],
    ['an unknown model type', (j) => { j.model_type = 'gpt2'; j.architectures = ['GPT2LMHeadModel']; }, /expected a llama, qwen2 or qwen3 model/],
    ['architectures that is not an array of strings', (j) => { j.architectures = 7; }, /architectures to be an array of strings but received 7/],
    ['a config that is not an object', () => '[1, 2, 3]', /expected the model config to be a JSON object/],
    ['a config that is null', () => 'null', /expected the model config to be a JSON object/],
    ['a config that is not JSON', () => '{"vocab_size": ', /expected the model config to be JSON/],
    ['a config whose sizes disagree with the tensors', (j) => { j.num_hidden_layers = 3; }, /missing tensor model\.layers\.2\.input_layernorm\.weight.*config implies \d+ parameters, the files hold \d+/],
    ['a config whose widths disagree with the tensors', (j) => { j.intermediate_size = 64; }, /model\.layers\.0\.mlp\.gate_proj\.weight: expected shape \[64, 32\] but received \[48, 32\]/],
  ];
  test.each(cases)('%s is a FormatError', (_, edit, message) => {
    const { dir, file } = withConfig(edit);
    const start = Date.now();
    const folderErrors = /tensor|expected shape/.test(message.source);  // tensor-set errors name the folder
    expectFormatError(() => TinyLM.load(dir), folderErrors ? dir : file, message);
    expect(Date.now() - start).toBeLessThan(1000);
  });

  test('a missing config is a FormatError', () => {
    const dir = savedCopy();
    fs.rmSync(path.join(dir, 'config.json'));
    expectFormatError(() => readConfig(dir), path.join(dir, 'config.json'), /no such file/);
  });

  test('impliedParameterCount equals the parameter table for every architecture variant', () => {
    for (const extra of [{}, { tieEmbeddings: false }, { valueHead: true }, { architecture: 'llama' as const, qkvBias: true, oBias: true }, { numKvHeads: 1, headDim: 16 }, { architecture: 'qwen3' as const, numKvHeads: 1, headDim: 16 }]) {
      const config = resolveConfig({ ...small, ...extra });
      expect(impliedParameterCount(config)).toBe(BigInt(parameterSpecs(config).specs.reduce((s, p) => s + p.numel, 0)));
    }
    expect(CONFIG_LIMITS.numLayers).toBe(1024);
  });
});

describe('tensor sets that do not fit the config', () => {
  /** Rewrites the folder's model.safetensors with `edit` applied to the list of tensors. */
  function withTensors(edit: (tensors: { name: string; dtype: 'F32' | 'BF16'; shape: number[]; data: Float32Array }[]) => void): string {
    const dir = savedCopy();
    const model = TinyLM.load(dir);
    const values = model.weightBuffer.toArray() as Float32Array;
    const tensors = model.specs.map((s) => ({ name: s.name, dtype: 'F32' as 'F32' | 'BF16', shape: [...s.shape], data: values.subarray(s.offset, s.offset + s.numel) }));
    edit(tensors);
    writeSafetensorsFile(path.join(dir, 'model.safetensors'), tensors);
    return dir;
  }

  test('a missing tensor', () => {
    const dir = withTensors((t) => t.splice(3, 1));
    expectFormatError(() => TinyLM.load(dir), dir, /missing tensor model\.layers\.0\.self_attn\.q_proj\.bias \[32\] \(the config implies \d+ parameters, the files hold \d+\)/);
  });

  test('an unexpected tensor', () => {
    const dir = withTensors((t) => t.push({ name: 'model.layers.0.mlp.extra.weight', dtype: 'F32', shape: [2], data: new Float32Array(2) }));
    expectFormatError(() => TinyLM.load(dir), dir, /unexpected tensors model\.layers\.0\.mlp\.extra\.weight \(a different architecture\?\)/);
  });

  test('a misshapen tensor', () => {
    const dir = withTensors((t) => { t[0].shape = [32, 97]; });
    expectFormatError(() => TinyLM.load(dir), dir, /model\.embed_tokens\.weight: expected shape \[97, 32\] but received \[32, 97\]/);
  });

  test('an integer tensor where a weight belongs', () => {
    const dir = savedCopy();
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    const length = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + length).toString());
    header['model.norm.weight'].dtype = 'I32';  // same size as F32, so the layout stays valid
    const text = JSON.stringify(header).padEnd(length, ' ');
    expect(Buffer.byteLength(text)).toBe(length);
    bytes.write(text, 8);
    fs.writeFileSync(file, bytes);
    expectFormatError(() => TinyLM.load(dir), dir, /tensor model\.norm\.weight: expected dtype F32, BF16 or F16 but received I32/);
  });

  test('a tied model ignores lm_head.weight and rotary buffers', () => {
    const dir = withTensors((t) => {
      t.push({ name: 'lm_head.weight', dtype: 'F32', shape: [97, 32], data: new Float32Array(97 * 32) });
      t.push({ name: 'model.layers.0.self_attn.rotary_emb.inv_freq', dtype: 'F32', shape: [4], data: new Float32Array(4) });
    });
    expect(same(TinyLM.load(dir), TinyLM.create(small, { seed: 4 }))).toBe(true);
  });

  test('a file truncated after planning fails the fill with a FormatError', () => {
    const dir = savedCopy();
    const model = TinyLM.create(small);
    const plan = planWeights(dir, model.specs);
    const file = path.join(dir, 'model.safetensors');
    fs.truncateSync(file, fs.statSync(file).size - 100);
    expectFormatError(() => fillWeights(plan, new Float32Array(model.weightBuffer.numel)), file, /changed size/);
  });
});

describe('malformed shard indexes', () => {
  function sharded(): { dir: string; index: string; json: { weight_map: Record<string, string> }; shards: string[] } {
    const dir = savedCopy({ maxShardSize: 20_000 });
    const index = path.join(dir, 'model.safetensors.index.json');
    const json = JSON.parse(fs.readFileSync(index, 'utf8'));
    return { dir, index, json, shards: [...new Set(Object.values(json.weight_map) as string[])] };
  }

  test('a shard name with a path', () => {
    const { dir, index, json } = sharded();
    json.weight_map['model.norm.weight'] = '../model.safetensors';
    fs.writeFileSync(index, JSON.stringify(json));
    expectFormatError(() => TinyLM.load(dir), index, /weight_map\["model\.norm\.weight"\]: expected a plain shard file name but received "\.\.\/model\.safetensors"/);
  });

  test('a missing shard file', () => {
    const { dir, shards } = sharded();
    fs.rmSync(path.join(dir, shards[1]));
    expectFormatError(() => TinyLM.load(dir), path.join(dir, shards[1]), /cannot open the checkpoint/);
  });

  test('a tensor the index places in another shard', () => {
    const { dir, index, json, shards } = sharded();
    const name = Object.keys(json.weight_map).find((k) => json.weight_map[k] === shards[0])!;
    json.weight_map[name] = shards[1];
    fs.writeFileSync(index, JSON.stringify(json));
    expectFormatError(() => TinyLM.load(dir), path.join(dir, shards[0]), new RegExp(`tensor ${name.replace(/\./g, '\\.')} is in this shard but .* places it in "${shards[1]}"`));
  });

  test('an index entry no shard holds', () => {
    const { dir, index, json, shards } = sharded();
    json.weight_map['model.ghost.weight'] = shards[0];
    fs.writeFileSync(index, JSON.stringify(json));
    expectFormatError(() => TinyLM.load(dir), index, /weight_map places tensor model\.ghost\.weight in .*, which does not hold it/);
  });

  test('a tensor in two shards', () => {
    const { dir, json, shards } = sharded();
    const name = Object.keys(json.weight_map).find((k) => json.weight_map[k] === shards[0])!;
    const extra = path.join(dir, shards[1]);
    const model = TinyLM.load(savedCopy());
    const spec = model.specs.find((s) => s.name === name)!;
    // Rewrite shard 2 with the tensor of shard 1 added.
    const plan = planWeights(dir, model.specs);
    const mine = plan.reads[1].map(({ spec: s }) => ({ name: s.name, dtype: 'F32' as const, shape: s.shape, data: new Float32Array(s.numel) }));
    writeSafetensorsFile(extra, [...mine, { name, dtype: 'F32', shape: spec.shape, data: new Float32Array(spec.numel) }]);
    expectFormatError(() => TinyLM.load(dir), extra, new RegExp(`tensor ${name.replace(/\./g, '\\.')} is also in ${shards[0]}`));
  });

  test('an index without a weight_map, and one that is not JSON', () => {
    const { dir, index } = sharded();
    fs.writeFileSync(index, JSON.stringify({ metadata: {} }));
    expectFormatError(() => TinyLM.load(dir), index, /weight_map object/);
    fs.writeFileSync(index, '{"weight_map": {');
    expectFormatError(() => TinyLM.load(dir), index, /expected the shard index to be JSON/);
  });

  test('a folder with neither model.safetensors nor an index', () => {
    const dir = savedCopy();
    fs.rmSync(path.join(dir, 'model.safetensors'));
    expectFormatError(() => TinyLM.load(dir), dir, /expected model\.safetensors or model\.safetensors\.index\.json/);
  });
});
