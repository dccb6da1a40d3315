// mixed_pass.ts: the bfloat16 side of a 'bf16-mixed' pass (TinyLM's precision option, cuda only):
// per layer the bf16 weight views and the bf16 inputs of each GEMM and of attention, one arena per
// batch shape whose buffers each start on a 16-byte boundary (the tensor-core GEMMs' fast path),
// and the backward's bf16 scratch for upstream gradients. transformer.ts reads and writes them;
// the float32 activations (activations.ts) stay the master copy of everything else.
import { Tensor, type Device } from '../tensor';
import type { TinyLMConfig } from './config';
import type { LayerWeights, Weights } from './weights';

/**
 * The dtype attention runs in under 'bf16-mixed': bfloat16, i.e. FlashAttention-2 on the tensor
 * cores on cuda (cuda/flash_attention.cu; fp32 softmax statistics, fp32 out and gradients). rope(q),
 * rope(k) and v are cast into the pass's bf16 buffers (MixedLayer.q/k/v) before the call, and the
 * backward casts its upstream gradient into the pass's bf16 scratch. 'float32' runs attention on
 * the float32 activations, as in an fp32 pass (transformerLayer and the backward read this
 * constant, nothing else does).
 */
export const ATTENTION_DTYPE: 'float32' | 'bfloat16' = 'bfloat16';

/**
 * One layer's bf16 GEMM operands under 'bf16-mixed': the weight copies and its GEMM inputs (h1, h2
 * written by rmsnorm's bf16 output, s by the gate/up GEMM's SwiGLU epilogue, att and q/k/v casts).
 * The float32 h1, h2 and s of the layer's activations are then not written (nothing reads them).
 */
export interface MixedLayer {
  /** bf16 views of the model's bf16 weight buffer (same layout as the fp32 one; only the GEMM weights are read). */
  w: LayerWeights;
  h1: Tensor;   // bf16 [N, C]    input_layernorm(x), feeds q/k/v
  att: Tensor;  // bf16 [N, H*D]  attention output (cast), feeds o_proj
  h2: Tensor;   // bf16 [N, C]    post_attention_layernorm(xm), feeds gate/up
  s: Tensor;    // bf16 [N, F]    silu(gate)·up, feeds down
  /** bf16 q/k/v for attention when ATTENTION_DTYPE is 'bfloat16'; null otherwise. */
  q: Tensor | null;
  k: Tensor | null;
  v: Tensor | null;
}

/** A 'bf16-mixed' pass: bf16 weights and activations, kept with the pass for its backward. */
export interface MixedPass {
  /** bf16 views of every parameter (the lm_head copy feeds the logits GEMM and linearTokenLogprobs). */
  w: Weights;
  layers: MixedLayer[];
  hf: Tensor;     // bf16 [N, C]  final norm output, feeds lm_head
  /** bf16 scratch for the backward: each GEMM's upstream gradient is cast here just before its matmulBackward. */
  grad: Tensor;
  dispose(): void;
}

/**
 * The bf16 activation buffers of a 'bf16-mixed' pass of B rows of T tokens, in one arena; every
 * buffer starts on a 16-byte boundary (8 bf16) so the tensor-core GEMM takes its 16-byte path.
 * Extra memory: 2 bytes · N · (L·(2C + H·D + F) + C + max(C, 2F, H·D)).
 */
export function allocateMixedPass(config: TinyLMConfig, bf16Weights: Weights, B: number, T: number, device: Device): MixedPass {
  const { hiddenSize: C, numHeads: H, numKvHeads: KVH, headDim: D, intermediateSize: F } = config;
  const N = B * T;
  const bf16Attention = (ATTENTION_DTYPE as string) === 'bfloat16';
  let arena: Tensor | null = null;
  let offset = 0;
  const take = (shape: number[]): Tensor => {
    const numel = shape.reduce((x, y) => x * y, 1);
    const t = arena === null ? (null as unknown as Tensor) : arena.view(offset, shape);
    offset += Math.ceil(numel / 8) * 8;
    return t;
  };
  const carve = () => ({
    layers: bf16Weights.layers.map((w): MixedLayer => ({
      w, h1: take([N, C]), att: take([N, H * D]), h2: take([N, C]), s: take([N, F]),
      q: bf16Attention ? take([N, H * D]) : null, k: bf16Attention ? take([N, KVH * D]) : null, v: bf16Attention ? take([N, KVH * D]) : null,
    })),
    hf: take([N, C]),
    grad: take([N * Math.max(C, 2 * F, H * D)]),
  });
  carve();
  arena = Tensor.zeros([offset], { device, dtype: 'bfloat16' });
  offset = 0;
  const made = carve();
  const owner = arena;
  return {
    w: bf16Weights, ...made,
    dispose: () => {
      for (const layer of made.layers) for (const t of [layer.h1, layer.att, layer.h2, layer.s, layer.q, layer.k, layer.v]) t?.dispose();
      made.hf.dispose();
      made.grad.dispose();
      owner.dispose();
    },
  };
}
