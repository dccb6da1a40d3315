// transformer.ts: TinyLM's forward and backward passes (Llama: RMSNorm, RoPE, grouped-query
// attention, SwiGLU; Hugging Face modeling_llama / modeling_qwen2 / modeling_qwen3 semantics, the
// latter with a per-head RMSNorm of q and k before RoPE), written llm.c style: every op writes into
// preallocated activations, every backward op accumulates into gradients, and each backward step
// sits in the reverse order of its forward step. Under 'bf16-mixed' a MixedPass (mixed_pass.ts)
// makes every GEMM read bfloat16 operands (bf16 weight copies; the norms and the gate/up GEMM's
// SwiGLU epilogue write bf16 directly, attention's inputs and output are cast), accumulating in fp32;
// outputs, the residual stream, norms' statistics, softmax, RoPE, attention (see ATTENTION_DTYPE),
// log-probs and every gradient stay float32, weight gradients going straight into the master
// gradient buffer. Inputs: SequenceLayout (passes.ts); a step's views: PassViews (pass_views.ts).
import * as ops from '../ops/index';
import type { Tensor } from '../tensor';
import type { Activations, LayerActivations } from './activations';
import type { TinyLMConfig } from './config';
import { ATTENTION_DTYPE, type MixedLayer, type MixedPass } from './mixed_pass';
import { PassViews } from './pass_views';
import type { SequenceLayout } from './passes';
import { ropeOptions } from './rope_tables';
import type { LayerWeights, Weights } from './weights';

export function transformerForward(config: TinyLMConfig, w: Weights, a: Activations, seq: SequenceLayout, mixed?: MixedPass): void {
  const views = new PassViews();
  try {
    forwardPass(config, w, a, seq, views, mixed);
  } finally {
    views.dispose();
  }
}

function forwardPass(config: TinyLMConfig, w: Weights, a: Activations, seq: SequenceLayout, views: PassViews, mixed?: MixedPass): void {
  const { B, T } = a;
  const eps = config.rmsNormEps;
  const rope = ropeOptions(config, seq.invFreq);
  ops.embedding({ out: a.layers[0].x, tokens: seq.tokens, table: w.embed });
  for (let l = 0; l < config.numLayers; l++) {
    const next = l + 1 < config.numLayers ? a.layers[l + 1].x : a.out;
    transformerLayer(config, w.layers[l], a.layers[l], next, { positions: seq.positions, kvStart: seq.kvStart, rope, B, T }, views,
      undefined, mixed?.layers[l]);
  }
  // Under 'bf16-mixed' the norm also writes the bf16 copy lm_head reads, in the same pass; the
  // float32 hf stays for the value head and the lm_head backward.
  ops.rmsnorm({ out: a.hf, outBf16: mixed?.hf, rstd: a.rstdf, inp: a.out, weight: w.norm }, { eps });
  if (a.logits !== null) {
    const logits = views.of(a.logits, [B * T, config.vocabSize]);
    if (mixed !== undefined) ops.matmul({ out: logits, inp: mixed.hf, weight: mixed.w.lmHead });
    else ops.matmul({ out: logits, inp: a.hf, weight: w.lmHead });
  }
  // The value head (one output column) stays float32 in every precision.
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
 * A layer's KV cache, [B, Smax, KVH, D] keys and values: float32, or bfloat16 under 'bf16-mixed'
 * (then the layer's MixedLayer.q takes q's bf16 cast). The step's T tokens per row are stored at
 * rows [pos, pos + T) and attend to rows [kvStart, pos + T).
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
  mixed?: MixedLayer,
): void {
  const { B, T, positions, kvStart, rope } = input;
  const { numHeads: H, numKvHeads: KVH, headDim: D, rmsNormEps: eps } = config;
  const N = B * T;
  // A GEMM's input: the float32 activation, or under 'bf16-mixed' a bf16 one with the layer's bf16
  // weight copy. The norms write their bf16 outputs directly and the gate/up GEMM's epilogue the
  // bf16 SwiGLU product (no float32 copies: the backward reads only the bf16 GEMM inputs, the
  // norms' inputs and gu); attention's output is cast.
  const h1 = mixed === undefined ? x.h1 : mixed.h1;
  const wq = mixed?.w.wq ?? lw.wq, wk = mixed?.w.wk ?? lw.wk, wv = mixed?.w.wv ?? lw.wv;
  ops.rmsnorm({ out: h1, rstd: x.rstd1, inp: x.x, weight: lw.ln1 }, { eps });
  if (lw.qNorm !== null) {
    // Qwen3: q and k are RMS-normalized per head ([N·H, D] rows) before RoPE; the raw projections stay for the backward.
    ops.matmul({ out: x.qRaw!, inp: h1, weight: wq, bias: lw.bq ?? undefined });
    ops.matmul({ out: x.kRaw!, inp: h1, weight: wk, bias: lw.bk ?? undefined });
    const q = views.of(x.q, [N * H, D]), k = views.of(x.k, [N * KVH, D]);
    ops.rmsnorm({ out: q, rstd: x.rstdq!, inp: x.qRaw === x.q ? q : views.of(x.qRaw!, [N * H, D]), weight: lw.qNorm }, { eps });
    ops.rmsnorm({ out: k, rstd: x.rstdk!, inp: x.kRaw === x.k ? k : views.of(x.kRaw!, [N * KVH, D]), weight: lw.kNorm! }, { eps });
  } else {
    ops.matmul({ out: x.q, inp: h1, weight: wq, bias: lw.bq ?? undefined });
    ops.matmul({ out: x.k, inp: h1, weight: wk, bias: lw.bk ?? undefined });
  }
  ops.matmul({ out: x.v, inp: h1, weight: wv, bias: lw.bv ?? undefined });
  ops.rope({ out: x.q, inp: x.q, positions }, rope);
  ops.rope({ out: x.k, inp: x.k, positions }, rope);
  const out = views.of(x.att, [B, T, H, D]);
  if (cache === undefined) {
    const { q, k, v } = attentionOperands(x, mixed, views, B, T, H, KVH, D);
    ops.attention({ out, lse: x.lse, q, k, v, kvStart });
  } else {
    // Prefill and decode: k and v go into the cache (cast to bf16 on the way when the cache is
    // bf16, as under 'bf16-mixed'), q is cast into the MixedLayer's bf16 buffer to match it.
    storeInCache(cache, x.k, x.v, B, T, KVH * D);
    let q = x.q;
    if (cache.k.dtype === 'bfloat16') {
      ops.cast({ out: mixed!.q!, inp: x.q });
      q = mixed!.q!;
    }
    ops.attention({ out, lse: x.lse, q: views.of(q, [B, T, H, D]), k: cache.k, v: cache.v, kvStart }, { kvLength: cache.pos + T });
  }
  if (mixed !== undefined) ops.cast({ out: mixed.att, inp: x.att });
  ops.matmul({ out: x.xm, inp: mixed?.att ?? x.att, weight: mixed?.w.wo ?? lw.wo, bias: lw.bo ?? undefined, residual: x.x });
  ops.rmsnorm({ out: mixed?.h2 ?? x.h2, rstd: x.rstd2, inp: x.xm, weight: lw.ln2 }, { eps });
  if (mixed !== undefined) {
    // gate/up GEMM with SwiGLU in its epilogue: gu stays float32 for swigluBackward, s is bf16.
    ops.matmulSwiglu({ gu: x.gu, s: mixed.s, inp: mixed.h2, weight: mixed.w.wgu });
  } else {
    ops.matmul({ out: x.gu, inp: x.h2, weight: lw.wgu });
    ops.swiglu({ out: x.s, inp: x.gu });
  }
  ops.matmul({ out: next, inp: mixed?.s ?? x.s, weight: mixed?.w.wdown ?? lw.wdown, residual: x.xm });
}

/**
 * Attention's q, k, v ([B, T, heads, D] views) for a training forward or its backward: the float32
 * activations, or under 'bf16-mixed' with ATTENTION_DTYPE 'bfloat16' their bf16 casts (made here
 * in the forward; `cast` false in the backward, which reads the forward's).
 */
function attentionOperands(
  x: LayerActivations, mixed: MixedLayer | undefined, views: PassViews, B: number, T: number, H: number, KVH: number, D: number, cast = true,
): { q: Tensor; k: Tensor; v: Tensor } {
  let q = x.q, k = x.k, v = x.v;
  if (mixed !== undefined && (ATTENTION_DTYPE as string) === 'bfloat16') {
    if (cast) {
      ops.cast({ out: mixed.q!, inp: x.q });
      ops.cast({ out: mixed.k!, inp: x.k });
      ops.cast({ out: mixed.v!, inp: x.v });
    }
    q = mixed.q!;
    k = mixed.k!;
    v = mixed.v!;
  }
  return { q: views.of(q, [B, T, H, D]), k: views.of(k, [B, T, KVH, D]), v: views.of(v, [B, T, KVH, D]) };
}

/**
 * Copies each row's T keys and values ([B*T, KD], float32) into the cache at rows [pos, pos + T);
 * a bfloat16 cache gets their bf16 casts (the rounding the training forward's bf16 k and v get).
 */
function storeInCache(cache: LayerCache, k: Tensor, v: Tensor, B: number, T: number, KD: number): void {
  const Smax = cache.k.shape[1];
  for (let b = 0; b < B; b++) {
    for (const [dst, src] of [[cache.k, k], [cache.v, v]] as const) {
      const into = dst.view((b * Smax + cache.pos) * KD, [T * KD]), from = src.view(b * T * KD, [T * KD]);
      if (into.dtype === from.dtype) into.copyFrom(from);
      else ops.cast({ out: into, inp: from });
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
  dhidden?: Tensor, mixed?: MixedPass,
): void {
  const views = new PassViews();
  try {
    backwardPass(config, w, g, a, seq, dlogits, dvalues, views, dhidden, mixed);
  } finally {
    views.dispose();
  }
}

/**
 * matmulBackward of one GEMM. Under 'bf16-mixed' the float32 upstream gradient is cast into the
 * pass's bf16 scratch and the bf16 GEMM runs on the forward's bf16 input and weight copy; dinp,
 * dweight (the master gradient) and dbias are accumulated in float32 either way.
 */
function linearBackward(
  views: PassViews, mixed: MixedPass | undefined,
  t: { dinp: Tensor; dweight: Tensor; dbias?: Tensor; dout: Tensor; inp: Tensor; weight: Tensor },
  bf16: { inp: Tensor; weight: Tensor } | undefined,
): void {
  if (mixed === undefined || bf16 === undefined) {
    ops.matmulBackward(t);
    return;
  }
  const dout = views.head(mixed.grad, t.dout.shape);
  ops.cast({ out: dout, inp: t.dout });
  ops.matmulBackward({ dinp: t.dinp, dweight: t.dweight, dbias: t.dbias, dout, inp: bf16.inp, weight: bf16.weight });
}

function backwardPass(
  config: TinyLMConfig, w: Weights, g: Weights, a: Activations, seq: SequenceLayout, dlogits: Tensor | null, dvalues: Tensor | undefined,
  views: PassViews, dhidden?: Tensor, mixed?: MixedPass,
): void {
  const { B, T } = a;
  const { numHeads: H, numKvHeads: KVH, headDim: D } = config;
  const N = B * T;
  const rope = ropeOptions(config, seq.invFreq);
  // The final norm's input gradient: lm_head (and the value head) first.
  if (dlogits !== null) {
    a.dh.fill(0);
    // float32 in every precision: a bf16 cast of dlogits would be another [N, V] buffer. Under
    // 'bf16-mixed' this is the exact gradient at the master weight and the float32 final hidden states.
    ops.matmulBackward({ dinp: a.dh, dweight: g.lmHead, dout: views.of(dlogits, [N, config.vocabSize]), inp: a.hf, weight: w.lmHead });
  } else {
    a.dh.copyFrom(dhidden!);
  }
  if (dvalues !== undefined && a.values !== null)
    ops.matmulBackward({ dinp: a.dh, dweight: g.vHead!, dbias: g.vHeadBias!, dout: views.of(dvalues, [N, 1]), inp: a.hf, weight: w.vHead! });
  a.dx.fill(0);
  ops.rmsnormBackward({ dinp: a.dx, dweight: g.norm, dout: a.dh, inp: a.out, weight: w.norm, rstd: a.rstdf });
  for (let l = config.numLayers - 1; l >= 0; l--) {
    const x = a.layers[l], lw = w.layers[l], lg = g.layers[l], m = mixed?.layers[l];
    // MLP: x_next = xm + down(silu(gate) * up)
    a.ds.fill(0);
    // float32: s is one buffer all layers share (activations.ts), so this layer's is recomputed.
    if (!m) ops.swiglu({ out: x.s, inp: x.gu });
    linearBackward(views, mixed, { dinp: a.ds, dweight: lg.wdown, dout: a.dx, inp: x.s, weight: lw.wdown }, m && { inp: m.s, weight: m.w.wdown });
    ops.swigluBackward({ dinp: a.dgu, dout: a.ds, inp: x.gu });  // writes dgu
    a.dh.fill(0);
    linearBackward(views, mixed, { dinp: a.dh, dweight: lg.wgu, dout: a.dgu, inp: x.h2, weight: lw.wgu }, m && { inp: m.h2, weight: m.w.wgu });
    ops.rmsnormBackward({ dinp: a.dx, dweight: lg.ln2, dout: a.dh, inp: x.xm, weight: lw.ln2, rstd: x.rstd2 });
    // Attention: xm = x + o_proj(attention(rope(q), rope(k), v))
    a.datt.fill(0);
    linearBackward(views, mixed, { dinp: a.datt, dweight: lg.wo, dbias: lg.bo ?? undefined, dout: a.dx, inp: x.att, weight: lw.wo },
      m && { inp: m.att, weight: m.w.wo });
    a.dq.fill(0);
    a.dk.fill(0);
    a.dv.fill(0);
    const { q, k, v } = attentionOperands(x, m, views, B, T, H, KVH, D, false);
    // bf16 attention takes its upstream gradient in bf16 too: cast into the pass's scratch (free here).
    let datt = views.of(a.datt, [B, T, H, D]);
    if (q.dtype === 'bfloat16') {
      const scratch = views.head(mixed!.grad, [B, T, H, D]);
      ops.cast({ out: scratch, inp: datt });
      datt = scratch;
    }
    ops.attentionBackward({
      dq: views.of(a.dq, [B, T, H, D]), dk: views.of(a.dk, [B, T, KVH, D]), dv: views.of(a.dv, [B, T, KVH, D]),
      dout: datt, out: views.of(x.att, [B, T, H, D]), lse: x.lse, q, k, v, kvStart: seq.kvStart,
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
    linearBackward(views, mixed, { dinp: a.dh, dweight: lg.wq, dbias: lg.bq ?? undefined, dout: dq, inp: x.h1, weight: lw.wq }, m && { inp: m.h1, weight: m.w.wq });
    linearBackward(views, mixed, { dinp: a.dh, dweight: lg.wk, dbias: lg.bk ?? undefined, dout: dk, inp: x.h1, weight: lw.wk }, m && { inp: m.h1, weight: m.w.wk });
    linearBackward(views, mixed, { dinp: a.dh, dweight: lg.wv, dbias: lg.bv ?? undefined, dout: a.dv, inp: x.h1, weight: lw.wv }, m && { inp: m.h1, weight: m.w.wv });
    ops.rmsnormBackward({ dinp: a.dx, dweight: lg.ln1, dout: a.dh, inp: x.x, weight: lw.ln1, rstd: x.rstd1 });
  }
  ops.embeddingBackward({ dtable: g.embed, dout: a.dx, tokens: seq.tokens });
}
