// weights.ts: typed views of TinyLM's flat parameter (or gradient) buffer, one field per tensor the
// layer math uses. The same function carves gradients, so d<weight> mirrors <weight> exactly.
import type { Tensor } from '../tensor';
import type { TinyLMConfig } from './config';
import type { ParamSpec } from './params';

export interface LayerWeights {
  ln1: Tensor;          // [C]
  wq: Tensor;           // [H*D, C]
  bq: Tensor | null;    // [H*D]
  wk: Tensor;           // [KVH*D, C]
  bk: Tensor | null;
  wv: Tensor;           // [KVH*D, C]
  bv: Tensor | null;
  qNorm: Tensor | null; // [D]  Qwen3's per-head RMSNorm of q (before RoPE)
  kNorm: Tensor | null; // [D]  and of k
  wo: Tensor;           // [C, H*D]
  bo: Tensor | null;    // [C]
  ln2: Tensor;          // [C]
  wgu: Tensor;          // [2F, C]  gate_proj rows then up_proj rows
  wdown: Tensor;        // [C, F]
}

export interface Weights {
  embed: Tensor;        // [V, C]
  layers: LayerWeights[];
  norm: Tensor;         // [C]
  lmHead: Tensor;       // [V, C] (a view of embed when tied)
  vHead: Tensor | null; // [1, C]
  vHeadBias: Tensor | null; // [1]
}

export function carveWeights(buffer: Tensor, specs: readonly ParamSpec[], config: TinyLMConfig): Weights {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const get = (name: string): Tensor => {
    const spec = byName.get(name);
    if (spec === undefined) throw new Error(`steprl: no parameter ${name}`);
    return buffer.view(spec.offset, spec.shape);
  };
  const maybe = (name: string): Tensor | null => (byName.has(name) ? get(name) : null);
  const F = config.intermediateSize, C = config.hiddenSize;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    const gate = byName.get(`${p}.mlp.gate_proj.weight`)!;
    layers.push({
      ln1: get(`${p}.input_layernorm.weight`),
      wq: get(`${p}.self_attn.q_proj.weight`), bq: maybe(`${p}.self_attn.q_proj.bias`),
      wk: get(`${p}.self_attn.k_proj.weight`), bk: maybe(`${p}.self_attn.k_proj.bias`),
      wv: get(`${p}.self_attn.v_proj.weight`), bv: maybe(`${p}.self_attn.v_proj.bias`),
      qNorm: maybe(`${p}.self_attn.q_norm.weight`), kNorm: maybe(`${p}.self_attn.k_norm.weight`),
      wo: get(`${p}.self_attn.o_proj.weight`), bo: maybe(`${p}.self_attn.o_proj.bias`),
      ln2: get(`${p}.post_attention_layernorm.weight`),
      wgu: buffer.view(gate.offset, [2 * F, C]),
      wdown: get(`${p}.mlp.down_proj.weight`),
    });
  }
  const embed = get('model.embed_tokens.weight');
  return {
    embed,
    layers,
    norm: get('model.norm.weight'),
    lmHead: config.tieEmbeddings ? embed : get('lm_head.weight'),
    vHead: maybe('v_head.weight'),
    vHeadBias: maybe('v_head.bias'),
  };
}

export function disposeWeights(weights: Weights): void {
  for (const layer of weights.layers) for (const t of Object.values(layer)) t?.dispose();
  weights.embed.dispose();
  weights.norm.dispose();
  if (weights.lmHead !== weights.embed) weights.lmHead.dispose();
  weights.vHead?.dispose();
  weights.vHeadBias?.dispose();
}
