// transformer.ts: TinyLM's forward and backward passes (Llama: RMSNorm, RoPE, grouped-query
// attention, SwiGLU; Hugging Face modeling_llama / modeling_qwen2 / modeling_qwen3 semantics, the
// latter with a per-head RMSNorm of q and k before RoPE), written llm.c style:
// every op writes into preallocated activations, every backward op accumulates into gradients,
// and each backward step sits in the reverse order of its forward step.
import * as ops from '../ops/index';
import type { Tensor } from '../tensor';
import type { Activations, LayerActivations } from './activations';
import type { TinyLMConfig } from './config';
import type { LayerWeights, Weights } from './weights';

export interface SequenceLayout {
  tokens: Tensor;      // int32 [N]
  positions: Tensor;   // int32 [N]  rotary position of each token
  kvStart: Tensor;     // int32 [B]  first attended position per row (left padding)
  /** float32 [D/2]: scaled RoPE inverse frequencies (rope_scaling), or null for theta's. Owned by the model. */
  invFreq: Tensor | null;
}

/** The rope op's options for a config and a layout's inverse frequencies. */
export function ropeOptions(config: TinyLMConfig, invFreq: Tensor | null): ops.RopeOptions {
  return invFreq === null ? { headDim: config.headDim, theta: config.ropeTheta } : { headDim: config.headDim, invFreq };
}

/**
 * Reshaped views made for one pass. A reshape holds a reference to its storage, so each is
 * released when the pass ends: on cuda, disposing the activation arena must free device memory at
 * once, not whenever the garbage collector gets to the views.
 */
export class PassViews {
  #made: Tensor[] = [];
  of(tensor: Tensor, shape: number[]): Tensor {
    const view = tensor.reshape(shape);
    this.#made.push(view);
    return view;
  }
  dispose(): void {
    for (const view of this.#made) view.dispose();
    this.#made = [];
  }
}

export function transformerForward(config: TinyLMConfig, w: Weights, a: Activations, seq: SequenceLayout): void {
  const views = new PassViews();
  try {
    forwardPass(config, w, a, seq, views);
  } finally {
    views.dispose();
  }
}

function forwardPass(config: TinyLMConfig, w: Weights, a: Activations, seq: SequenceLayout, views: PassViews): void {
  const { B, T } = a;
  const eps = config.rmsNormEps;
  const rope = ropeOptions(config, seq.invFreq);
  ops.embedding({ out: a.layers[0].x, tokens: seq.tokens, table: w.embed });
  for (let l = 0; l < config.numLayers; l++) {
    const next = l + 1 < config.numLayers ? a.layers[l + 1].x : a.out;
    transformerLayer(config, w.layers[l], a.layers[l], next, { positions: seq.positions, kvStart: seq.kvStart, rope, B, T }, views);
  }
  ops.rmsnorm({ out: a.hf, rstd: a.rstdf, inp: a.out, weight: w.norm }, { eps });
  if (a.logits !== null) ops.matmul({ out: views.of(a.logits, [B * T, config.vocabSize]), inp: a.hf, weight: w.lmHead });
  if (a.values !== null) ops.matmul({ out: a.values, inp: a.hf, weight: w.vHead!, bias: w.vHeadBias! });
}

/** Where one layer's T new tokens per row sit: rotary positions, left padding, rope options, B and T. */
export interface LayerInput {
  positions: Tensor;  // int32 [B*T]
  kvStart: Tensor;    // int32 [B]
  rope: ops.RopeOptions;
  B: number;
  T: number;
}

/**
 * A layer's KV cache, float32 [B, Smax, KVH, D] keys and values. The step's T tokens per row are
 * stored at rows [pos, pos + T) and attend to rows [kvStart, pos + T).
 */
export interface LayerCache {
  k: Tensor;
  v: Tensor;
  pos: number;
}

/**
 * One decoder layer, the recipe both the training forward and decode run: buffers `x` (the
 * layer's input and its intermediates, [B*T, ...] rows) -> `next`. Without a cache the tokens attend
 * to each other (the training forward); with one, k and v are first stored in it and the tokens
 * attend to everything it holds up to them (prefill and decode steps). Decode passes buffers that
 * alias (h1 = h2, xm = x = next, qRaw = q, ...): every op below may write over its input.
 */
export function transformerLayer(
  config: TinyLMConfig, lw: LayerWeights, x: LayerActivations, next: Tensor, input: LayerInput, views: PassViews, cache?: LayerCache,
): void {
  const { B, T, positions, kvStart, rope } = input;
  const { numHeads: H, numKvHeads: KVH, headDim: D, rmsNormEps: eps } = config;
  const N = B * T;
  ops.rmsnorm({ out: x.h1, rstd: x.rstd1, inp: x.x, weight: lw.ln1 }, { eps });
  if (lw.qNorm !== null) {
    // Qwen3: q and k are RMS-normalized per head ([N·H, D] rows) before RoPE; the raw projections stay for the backward.
    ops.matmul({ out: x.qRaw!, inp: x.h1, weight: lw.wq, bias: lw.bq ?? undefined });
    ops.matmul({ out: x.kRaw!, inp: x.h1, weight: lw.wk, bias: lw.bk ?? undefined });
    const q = views.of(x.q, [N * H, D]), k = views.of(x.k, [N * KVH, D]);
    ops.rmsnorm({ out: q, rstd: x.rstdq!, inp: x.qRaw === x.q ? q : views.of(x.qRaw!, [N * H, D]), weight: lw.qNorm }, { eps });
    ops.rmsnorm({ out: k, rstd: x.rstdk!, inp: x.kRaw === x.k ? k : views.of(x.kRaw!, [N * KVH, D]), weight: lw.kNorm! }, { eps });
  } else {
    ops.matmul({ out: x.q, inp: x.h1, weight: lw.wq, bias: lw.bq ?? undefined });
    ops.matmul({ out: x.k, inp: x.h1, weight: lw.wk, bias: lw.bk ?? undefined });
  }
  ops.matmul({ out: x.v, inp: x.h1, weight: lw.wv, bias: lw.bv ?? undefined });
  ops.rope({ out: x.q, inp: x.q, positions }, rope);
  ops.rope({ out: x.k, inp: x.k, positions }, rope);
  const out = views.of(x.att, [B, T, H, D]), q = views.of(x.q, [B, T, H, D]);
  if (cache === undefined) {
    ops.attention({ out, lse: x.lse, q, k: views.of(x.k, [B, T, KVH, D]), v: views.of(x.v, [B, T, KVH, D]), kvStart });
  } else {
    storeInCache(cache, x.k, x.v, B, T, KVH * D);
    ops.attention({ out, lse: x.lse, q, k: cache.k, v: cache.v, kvStart }, { kvLength: cache.pos + T });
  }
  ops.matmul({ out: x.xm, inp: x.att, weight: lw.wo, bias: lw.bo ?? undefined, residual: x.x });
  ops.rmsnorm({ out: x.h2, rstd: x.rstd2, inp: x.xm, weight: lw.ln2 }, { eps });
  ops.matmul({ out: x.gu, inp: x.h2, weight: lw.wgu });
  ops.swiglu({ out: x.s, inp: x.gu });
  ops.matmul({ out: next, inp: x.s, weight: lw.wdown, residual: x.xm });
}

/** Copies each row's T keys and values ([B*T, KD]) into the cache at rows [pos, pos + T). */
function storeInCache(cache: LayerCache, k: Tensor, v: Tensor, B: number, T: number, KD: number): void {
  const Smax = cache.k.shape[1];
  for (let b = 0; b < B; b++) {
    for (const [dst, src] of [[cache.k, k], [cache.v, v]] as const) {
      const into = dst.view((b * Smax + cache.pos) * KD, [T * KD]), from = src.view(b * T * KD, [T * KD]);
      into.copyFrom(from);
      into.dispose();
      from.dispose();
    }
  }
}

/**
 * dlogits [B, T, V] (and dvalues [B, T]) -> gradients accumulated into `g`. With dlogits null, the
 * gradient of the final hidden states comes as dhidden [B*T, C] instead (the hidden-state path,
 * whose lm_head gradient the caller has accumulated).
 */
export function transformerBackward(
  config: TinyLMConfig, w: Weights, g: Weights, a: Activations, seq: SequenceLayout, dlogits: Tensor | null, dvalues?: Tensor,
  dhidden?: Tensor,
): void {
  const views = new PassViews();
  try {
    backwardPass(config, w, g, a, seq, dlogits, dvalues, views, dhidden);
  } finally {
    views.dispose();
  }
}

function backwardPass(
  config: TinyLMConfig, w: Weights, g: Weights, a: Activations, seq: SequenceLayout, dlogits: Tensor | null, dvalues: Tensor | undefined,
  views: PassViews, dhidden?: Tensor,
): void {
  const { B, T } = a;
  const { numHeads: H, numKvHeads: KVH, headDim: D } = config;
  const N = B * T;
  const rope = ropeOptions(config, seq.invFreq);
  // The final norm's input gradient: lm_head (and the value head) first.
  if (dlogits !== null) {
    a.dh.fill(0);
    ops.matmulBackward({ dinp: a.dh, dweight: g.lmHead, dout: views.of(dlogits, [N, config.vocabSize]), inp: a.hf, weight: w.lmHead });
  } else {
    a.dh.copyFrom(dhidden!);
  }
  if (dvalues !== undefined && a.values !== null)
    ops.matmulBackward({ dinp: a.dh, dweight: g.vHead!, dbias: g.vHeadBias!, dout: views.of(dvalues, [N, 1]), inp: a.hf, weight: w.vHead! });
  a.dx.fill(0);
  ops.rmsnormBackward({ dinp: a.dx, dweight: g.norm, dout: a.dh, inp: a.out, weight: w.norm, rstd: a.rstdf });
  for (let l = config.numLayers - 1; l >= 0; l--) {
    const x = a.layers[l], lw = w.layers[l], lg = g.layers[l];
    // MLP: x_next = xm + down(silu(gate) * up)
    a.ds.fill(0);
    ops.matmulBackward({ dinp: a.ds, dweight: lg.wdown, dout: a.dx, inp: x.s, weight: lw.wdown });
    ops.swigluBackward({ dinp: a.dgu, dout: a.ds, inp: x.gu });  // writes dgu
    a.dh.fill(0);
    ops.matmulBackward({ dinp: a.dh, dweight: lg.wgu, dout: a.dgu, inp: x.h2, weight: lw.wgu });
    ops.rmsnormBackward({ dinp: a.dx, dweight: lg.ln2, dout: a.dh, inp: x.xm, weight: lw.ln2, rstd: x.rstd2 });
    // Attention: xm = x + o_proj(attention(rope(q), rope(k), v))
    a.datt.fill(0);
    ops.matmulBackward({ dinp: a.datt, dweight: lg.wo, dbias: lg.bo ?? undefined, dout: a.dx, inp: x.att, weight: lw.wo });
    a.dq.fill(0);
    a.dk.fill(0);
    a.dv.fill(0);
    ops.attentionBackward({
      dq: views.of(a.dq, [B, T, H, D]), dk: views.of(a.dk, [B, T, KVH, D]), dv: views.of(a.dv, [B, T, KVH, D]),
      dout: views.of(a.datt, [B, T, H, D]), out: views.of(x.att, [B, T, H, D]), lse: x.lse,
      q: views.of(x.q, [B, T, H, D]), k: views.of(x.k, [B, T, KVH, D]), v: views.of(x.v, [B, T, KVH, D]), kvStart: seq.kvStart,
    });
    ops.ropeBackward({ dinp: a.dq, dout: a.dq, positions: seq.positions }, rope);  // in place
    ops.ropeBackward({ dinp: a.dk, dout: a.dk, positions: seq.positions }, rope);
    let dq = a.dq, dk = a.dk;
    if (lw.qNorm !== null) {
      // Through Qwen3's per-head norms to the raw projections.
      a.dqRaw!.fill(0);
      a.dkRaw!.fill(0);
      ops.rmsnormBackward({
        dinp: views.of(a.dqRaw!, [N * H, D]), dweight: lg.qNorm!, dout: views.of(a.dq, [N * H, D]),
        inp: views.of(x.qRaw!, [N * H, D]), weight: lw.qNorm, rstd: x.rstdq!,
      });
      ops.rmsnormBackward({
        dinp: views.of(a.dkRaw!, [N * KVH, D]), dweight: lg.kNorm!, dout: views.of(a.dk, [N * KVH, D]),
        inp: views.of(x.kRaw!, [N * KVH, D]), weight: lw.kNorm!, rstd: x.rstdk!,
      });
      dq = a.dqRaw!;
      dk = a.dkRaw!;
    }
    a.dh.fill(0);
    ops.matmulBackward({ dinp: a.dh, dweight: lg.wq, dbias: lg.bq ?? undefined, dout: dq, inp: x.h1, weight: lw.wq });
    ops.matmulBackward({ dinp: a.dh, dweight: lg.wk, dbias: lg.bk ?? undefined, dout: dk, inp: x.h1, weight: lw.wk });
    ops.matmulBackward({ dinp: a.dh, dweight: lg.wv, dbias: lg.bv ?? undefined, dout: a.dv, inp: x.h1, weight: lw.wv });
    ops.rmsnormBackward({ dinp: a.dx, dweight: lg.ln1, dout: a.dh, inp: x.x, weight: lw.ln1, rstd: x.rstd1 });
  }
  ops.embeddingBackward({ dtable: g.embed, dout: a.dx, tokens: seq.tokens });
}
