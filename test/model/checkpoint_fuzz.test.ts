// checkpoint_fuzz.test.ts: seeded random mutations of a valid checkpoint's safetensors header and
// config.json (byte flips, edited fields, wrong lengths, truncation, junk values). Every case must
// end within a second in either a loaded model or a typed steprl error, never another exception
// (and never a crash, which would take the test process down).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { SteprlError } from '../../lib/errors';
import { TinyLM } from '../../lib/model/tinylm';
import { Rng } from '../util/random';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-fuzz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const JUNK: unknown[] = [0, -1, 1, 2, 3, 7, 64, 4096, 65536, 2 ** 31, 2 ** 32, 2 ** 53, 1e9, 1e12, 1e300, -1e300, 1.5, 'x', '', '12', null, true, false, [], [1], [2 ** 40, 2 ** 40], {}, { a: 1 }];
const CONFIG_FIELDS = [
  'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim',
  'rope_theta', 'rms_norm_eps', 'max_position_embeddings', 'tie_word_embeddings', 'model_type', 'architectures', 'attention_bias',
  'bos_token_id', 'eos_token_id', 'pad_token_id', 'rope_scaling', 'mlp_bias', 'steprl',
];

function splitFile(bytes: Buffer): { header: Record<string, Record<string, unknown>>; data: Buffer } {
  const length = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString()), data: bytes.subarray(8 + length) };
}

function joinFile(headerText: string, data: Buffer, length = BigInt(Buffer.byteLength(headerText))): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length);
  return Buffer.concat([prefix, Buffer.from(headerText), data]);
}

/** One mutation of (safetensors bytes, config object): returns the new pair. */
function mutate(rng: Rng, file: Buffer, config: Record<string, unknown>): { file: Buffer; config: string } {
  const cfg: Record<string, unknown> = structuredClone(config);
  let bytes: Buffer = Buffer.from(file);
  const kind = rng.int(0, 10);
  const { header, data } = splitFile(file);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = rng.pick(names);
  switch (kind) {
    case 0: {  // flip bytes of the header text
      const length = Number(bytes.readBigUInt64LE(0));
      for (let i = rng.int(1, 5); i > 0; i--) bytes[8 + rng.int(0, length)] = rng.int(0, 256);
      break;
    }
    case 1: {  // an edited tensor field
      const entry = header[name];
      const field = rng.pick(['dtype', 'shape', 'data_offsets']);
      if (field === 'dtype') entry.dtype = rng.pick(['F32', 'BF16', 'F16', 'I64', 'U8', 'F64', 'Q4', null, 7]);
      else if (field === 'shape') entry.shape = rng.pick([[...(entry.shape as number[]), 1], (entry.shape as number[]).slice(1), [rng.pick(JUNK)], [(entry.shape as number[])[0] + 1], rng.pick(JUNK)]);
      else {
        const [b, e] = entry.data_offsets as number[];
        entry.data_offsets = rng.pick([[e, b], [b + 4, e + 4], [b - 4, e - 4], [b, e + 2], [b], rng.pick(JUNK), [b, 2 ** 60]]);
      }
      bytes = joinFile(JSON.stringify(header), data);
      break;
    }
    case 2: {  // a dropped or renamed tensor, a duplicate, or junk metadata
      const choice = rng.int(0, 4);
      if (choice === 0) delete header[name];
      else if (choice === 1) { header[`${name}.x`] = header[name]; delete header[name]; }
      else if (choice === 2) header.__metadata__ = rng.pick(JUNK) as Record<string, unknown>;
      const text = JSON.stringify(header);
      bytes = joinFile(choice === 3 ? `${text.slice(0, -1)},${JSON.stringify(name)}:${JSON.stringify(header[name])}}` : text, data);
      break;
    }
    case 3:  // a wrong header length
      bytes.writeBigUInt64LE(rng.pick([0n, 1n, 7n, BigInt(rng.int(0, 4000)), 2n ** 40n, 2n ** 64n - 1n]));
      break;
    case 4:  // truncated or extended
      bytes = rng.next() < 0.5 ? bytes.subarray(0, rng.int(0, bytes.length)) : Buffer.concat([bytes, Buffer.alloc(rng.int(1, 100))]);
      break;
    case 5: case 6: case 7:  // an edited config field
      for (let i = rng.int(1, 3); i > 0; i--) {
        const field = rng.pick(CONFIG_FIELDS);
        if (rng.next() < 0.15) delete cfg[field];
        else cfg[field] = rng.pick(JUNK);
      }
      break;
    case 8:  // a config size scaled up or down (often a valid config that no longer fits the tensors)
      for (const field of ['vocab_size', 'hidden_size', 'num_hidden_layers', 'intermediate_size'])
        if (rng.next() < 0.5) cfg[field] = Math.max(1, Math.round((cfg[field] as number) * rng.pick([0.5, 2, 1000, 1e6, 1e12])));
      break;
    default: {  // a config that is not an object, or bytes of it flipped
      let text = JSON.stringify(cfg);
      if (rng.next() < 0.3) return { file: bytes, config: JSON.stringify(rng.pick(JUNK)) };
      const chars = [...text];
      for (let i = rng.int(1, 4); i > 0; i--) chars[rng.int(0, chars.length)] = String.fromCharCode(rng.int(32, 127));
      text = chars.join('');
      return { file: bytes, config: text };
    }
  }
  return { file: bytes, config: JSON.stringify(cfg) };
}

test('mutated checkpoints load or fail with a typed error within a second', () => {
  const base = path.join(tmp, 'base');
  TinyLM.create({ architecture: 'qwen2', vocabSize: 61, hiddenSize: 32, intermediateSize: 40, numLayers: 2, numHeads: 4, numKvHeads: 2 }, { seed: 1 })
    .save(base, { dtype: 'bfloat16' });
  const file = fs.readFileSync(path.join(base, 'model.safetensors'));
  const config = JSON.parse(fs.readFileSync(path.join(base, 'config.json'), 'utf8'));
  const rng = new Rng(2024);
  const outcomes = new Map<string, number>();
  const dir = path.join(tmp, 'case');
  fs.mkdirSync(dir);
  for (let i = 0; i < 400; i++) {
    const mutated = mutate(rng, file, config);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), mutated.file);
    fs.writeFileSync(path.join(dir, 'config.json'), mutated.config);
    const start = performance.now();
    let outcome: string;
    try {
      TinyLM.load(dir).dispose();
      outcome = 'loaded';
    } catch (error) {
      if (!(error instanceof SteprlError)) throw new Error(`case ${i}: untyped ${(error as Error).stack}\nconfig: ${mutated.config}`);
      outcome = error.constructor.name;
    }
    const ms = performance.now() - start;
    if (ms > 1000) throw new Error(`case ${i} took ${ms.toFixed(0)} ms (${outcome})`);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  // The mutations reach both outcomes: some still load (e.g. a changed rope_theta), most fail typed.
  expect(outcomes.get('loaded')).toBeGreaterThan(10);
  expect(outcomes.get('FormatError')).toBeGreaterThan(200);
});
