// params.ts: TinyLM's parameter table. Every parameter has its Hugging Face name, shape and offset
// in ONE contiguous float32 buffer (llm.c style), so gradients and AdamW state are buffers of the
// same layout: zeroing grads is one fill, the optimizer is one pass. gate_proj and up_proj sit next
// to each other so the MLP's first matmul runs on the stacked [2F, C] weight in one GEMM.
import type { TinyLMConfig } from './config';
import { Random } from '../util/random';

export interface ParamSpec {
  /** Hugging Face tensor name, e.g. model.layers.0.self_attn.q_proj.weight */
  name: string;
  shape: number[];
  offset: number;
  numel: number;
  /** Weight decay applies (matrices) or not (norms, biases). */
  decay: boolean;
  init: 'normal' | 'residual' | 'ones' | 'zeros';
}

const ALIGN = 16; // floats: every parameter starts on a 64-byte boundary

export function parameterSpecs(config: TinyLMConfig): { specs: ParamSpec[]; total: number } {
  const { hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: KVH, headDim: D, vocabSize: V } = config;
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], init: ParamSpec['init'], pad = true) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset, numel, decay: init === 'normal' || init === 'residual', init });
    offset = pad ? Math.ceil((offset + numel) / ALIGN) * ALIGN : offset + numel;
  };
  add('model.embed_tokens.weight', [V, C], 'normal');
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [C], 'ones');
    add(`${p}.self_attn.q_proj.weight`, [H * D, C], 'normal');
    if (config.qkvBias) add(`${p}.self_attn.q_proj.bias`, [H * D], 'zeros');
    add(`${p}.self_attn.k_proj.weight`, [KVH * D, C], 'normal');
    if (config.qkvBias) add(`${p}.self_attn.k_proj.bias`, [KVH * D], 'zeros');
    add(`${p}.self_attn.v_proj.weight`, [KVH * D, C], 'normal');
    if (config.qkvBias) add(`${p}.self_attn.v_proj.bias`, [KVH * D], 'zeros');
    if (config.architecture === 'qwen3') {
      // Qwen3: RMSNorm over each head of q and of k, before RoPE.
      add(`${p}.self_attn.q_norm.weight`, [D], 'ones');
      add(`${p}.self_attn.k_norm.weight`, [D], 'ones');
    }
    add(`${p}.self_attn.o_proj.weight`, [C, H * D], 'residual');
    if (config.oBias) add(`${p}.self_attn.o_proj.bias`, [C], 'zeros');
    add(`${p}.post_attention_layernorm.weight`, [C], 'ones');
    // Adjacent without padding, so gate and up together are one [2F, C] matrix.
    add(`${p}.mlp.gate_proj.weight`, [F, C], 'normal', false);
    add(`${p}.mlp.up_proj.weight`, [F, C], 'normal');
    add(`${p}.mlp.down_proj.weight`, [C, F], 'residual');
  }
  add('model.norm.weight', [C], 'ones');
  if (!config.tieEmbeddings) add('lm_head.weight', [V, C], 'normal');
  if (config.valueHead) {
    add('v_head.weight', [1, C], 'normal');
    add('v_head.bias', [1], 'zeros');
  }
  return { specs, total: offset };
}

/** GPT-2 / llm.c initialization: N(0, 0.02), residual projections scaled by 1/sqrt(2L). */
export function initializeParameters(values: Float32Array, specs: readonly ParamSpec[], numLayers: number, seed: number): void {
  const random = new Random(seed);
  const residualStd = 0.02 / Math.sqrt(2 * numLayers);
  for (const spec of specs) {
    const view = values.subarray(spec.offset, spec.offset + spec.numel);
    switch (spec.init) {
      case 'ones': view.fill(1); break;
      case 'zeros': view.fill(0); break;
      default: {
        const std = spec.init === 'residual' ? residualStd : 0.02;
        for (let i = 0; i < view.length; i++) view[i] = random.normal() * std;
      }
    }
  }
}
