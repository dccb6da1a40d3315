// activations.ts: the buffers a TinyLM training forward keeps for its backward, carved out of one
// allocation per batch shape (llm.c style), plus the backward's scratch. Letters: B rows, T tokens,
// N = B*T, C hidden, H/KVH heads, D head dim, F ffn width, V vocab.
import { Tensor, type Device } from '../tensor';
import type { TinyLMConfig } from './config';

export interface LayerActivations {
  x: Tensor;      // [N, C]     the layer's input (residual stream)
  h1: Tensor;     // [N, C]     input_layernorm(x) (unused under 'bf16-mixed': see allocateActivations)
  rstd1: Tensor;  // [N]
  q: Tensor;      // [N, H*D]   after rotary embedding
  k: Tensor;      // [N, KVH*D] after rotary embedding
  /** Qwen3 (q/k norm) only, else null: the projections before the per-head norm, and its rstd. */
  qRaw: Tensor | null;   // [N, H*D]
  kRaw: Tensor | null;   // [N, KVH*D]
  rstdq: Tensor | null;  // [N*H]
  rstdk: Tensor | null;  // [N*KVH]
  v: Tensor;      // [N, KVH*D]
  att: Tensor;    // [N, H*D]   attention output, before o_proj
  lse: Tensor;    // [B, H, T]  attention log-sum-exp, for its backward
  xm: Tensor;     // [N, C]     x + o_proj(att)
  h2: Tensor;     // [N, C]     post_attention_layernorm(xm)
  rstd2: Tensor;  // [N]
  gu: Tensor;     // [N, 2F]    gate and up projections side by side
  s: Tensor;      // [N, F]     silu(gate) * up: one buffer all layers of a training pass share (below)
}

export interface Activations {
  B: number;
  T: number;
  layers: LayerActivations[];
  out: Tensor;     // [N, C]  the last layer's output
  hf: Tensor;      // [N, C]  final norm
  rstdf: Tensor;   // [N]
  logits: Tensor | null;  // [B, T, V]; null for a pass that stops at the hidden states
  values: Tensor | null;  // [N, 1] value head
  // backward scratch
  dx: Tensor;      // [N, C]  gradient of the residual stream
  dh: Tensor;      // [N, C]
  datt: Tensor;    // [N, H*D]
  dq: Tensor;      // [N, H*D]
  dk: Tensor;      // [N, KVH*D]
  dv: Tensor;      // [N, KVH*D]
  dqRaw: Tensor | null;  // [N, H*D]    q/k norm only
  dkRaw: Tensor | null;  // [N, KVH*D]
  ds: Tensor;      // [N, F]
  dgu: Tensor;     // [N, 2F]
  dispose(): void;
}

/**
 * `inference`: a forward that keeps nothing for a backward (an evaluation, a reference model's
 * log-probs): every layer runs in one set of buffers that alias as in decode (transformerLayer: x =
 * xm = the next layer's x, h1 = h2, rstd1 = rstd2), and the backward scratch aliases them too (it is
 * never used), so the pass holds one layer's activations instead of numLayers'.
 * `bf16Inputs`: a training pass of a 'bf16-mixed' model, whose GEMM inputs h1, h2 and s live in
 * bf16 (mixed_pass.ts MixedPass, written by rmsnorm's bf16 output and the gate/up GEMM's SwiGLU
 * epilogue): the float32 h1, h2 and s are then neither written nor read, so every layer's h1 and h2
 * are one shared [N, C] buffer and its s one [N, F] (4·N·(2C + F) bytes per layer fewer).
 * In float32 too, every layer's s is that one shared [N, F] buffer: the forward writes it just before
 * the down projection reads it, and the backward recomputes it from gu (swiglu, the same op on the
 * same input, so the same bits) just before the down projection's weight gradient reads it. That
 * keeps 4·N·F bytes per layer fewer (the largest activation after gu: 0.57 GB of the exact
 * Qwen2.5-0.5B shape's update at 8 x 160 tokens) for one elementwise pass per layer.
 */
export function allocateActivations(config: TinyLMConfig, B: number, T: number, device: Device, withLogits = true, inference = false,
  bf16Inputs = false): Activations {
  const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: F, vocabSize: V } = config;
  const N = B * T;
  const qkNorm = config.architecture === 'qwen3';
  // One arena for everything: a first pass over the layout counts, the second carves views.
  let arena: Tensor | null = null;
  let offset = 0;
  const take = (shape: number[]): Tensor => {
    const numel = shape.reduce((a, b) => a * b, 1);
    const t = arena === null ? (null as unknown as Tensor) : arena.view(offset, shape);
    offset += numel;
    return t;
  };
  const maybe = (shape: number[]): Tensor | null => (qkNorm ? take(shape) : null);
  const carveInference = () => {
    const x = take([N, C]), h = take([N, C]), rstd = take([N]), q = take([N, H * D]), k = take([N, KVH * D]), v = take([N, KVH * D]);
    const att = take([N, H * D]), gu = take([N, 2 * F]), s = take([N, F]);
    const layer: LayerActivations = {
      x, h1: h, rstd1: rstd, q, k, qRaw: qkNorm ? q : null, kRaw: qkNorm ? k : null, rstdq: maybe([N * H]), rstdk: maybe([N * KVH]),
      v, att, lse: take([B, H, T]), xm: x, h2: h, rstd2: rstd, gu, s,
    };
    return {
      layers: Array.from({ length: config.numLayers }, () => layer),
      out: x, hf: take([N, C]), rstdf: take([N]),
      logits: withLogits ? take([B, T, V]) : null,
      values: config.valueHead ? take([N, 1]) : null,
      dx: x, dh: h, datt: att, dq: q, dk: k, dv: v, dqRaw: qkNorm ? q : null, dkRaw: qkNorm ? k : null, ds: s, dgu: gu,
    };
  };
  const carve = () => {
    if (inference) return carveInference();
    const layers: LayerActivations[] = [];
    const unused = bf16Inputs ? { h: take([N, C]) } : null;
    const s = take([N, F]);
    for (let l = 0; l < config.numLayers; l++) {
      layers.push({
        x: take([N, C]), h1: unused?.h ?? take([N, C]), rstd1: take([N]),
        q: take([N, H * D]), k: take([N, KVH * D]),
        qRaw: maybe([N, H * D]), kRaw: maybe([N, KVH * D]), rstdq: maybe([N * H]), rstdk: maybe([N * KVH]),
        v: take([N, KVH * D]), att: take([N, H * D]), lse: take([B, H, T]),
        xm: take([N, C]), h2: unused?.h ?? take([N, C]), rstd2: take([N]), gu: take([N, 2 * F]), s,
      });
    }
    return {
      layers,
      out: take([N, C]), hf: take([N, C]), rstdf: take([N]),
      logits: withLogits ? take([B, T, V]) : null,
      values: config.valueHead ? take([N, 1]) : null,
      dx: take([N, C]), dh: take([N, C]), datt: take([N, H * D]), dq: take([N, H * D]),
      dk: take([N, KVH * D]), dv: take([N, KVH * D]), dqRaw: maybe([N, H * D]), dkRaw: maybe([N, KVH * D]), ds: take([N, F]), dgu: take([N, 2 * F]),
    };
  };
  carve();
  // Freed by dispose() at once (not at garbage collection): a released pass gives its memory back.
  arena = Tensor.zerosReleasable([offset], { device });
  offset = 0;
  const views = carve();
  const owner = arena;
  return {
    B, T, ...views,
    dispose: () => {
      // Aliased views (an inference pass) are disposed once.
      const all = new Set<Tensor>();
      for (const layer of views.layers) for (const t of Object.values(layer)) if (t !== null) all.add(t);
      for (const [key, t] of Object.entries(views)) if (key !== 'layers' && t !== null) all.add(t as Tensor);
      for (const t of all) t.dispose();
      owner.dispose();
    },
  };
}
