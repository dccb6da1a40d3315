// attention.ts: causal scaled-dot-product attention with grouped-query heads (HF LlamaAttention,
// eager: softmax(q kᵀ·scale + causal mask) v; head h reads kv head ⌊h / (H/KVH)⌋), for training
// and for generation against a KV cache:
//   query t of row b sits at key position S − T + t and attends to keys kvStart[b] ≤ s ≤ S − T + t
//   (S = kvLength; kvStart masks left padding). A query with no valid key gets out = 0, lse = −inf.
// lse (natural log of the softmax denominator) is what the backward needs. The backward
// ACCUMULATES dq, dk and dv (+=). fp32 online softmax (flash-attention style), deterministic.
// On cuda the kernels hold tiles of whole heads in shared memory: head sizes up to 256.
// q, k, v (and dout) may all be bfloat16 instead: on cuda the forward and backward then run
// FlashAttention-2 on tensor cores (cuda/flash_attention.cu: mma.sync bf16 with fp32 accumulation,
// fp32 softmax statistics, P and dS rounded to bf16 before their products, deterministic) when
// D % 8 == 0, D <= 128 and the tensors are 16-byte aligned; otherwise, and on the CPU, the fp32
// kernels on the exactly widened values. out, lse and the gradients stay float32.
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import { ShapeError, describe } from '../errors';
import { callNative } from '../native_call';
import { checkDims, checkElements, checkNumber, checkOptionsObject, checkTensor, checkTensorsObject, commonDevice, optionalElements, shapeText } from '../validate';

export interface AttentionTensors {
  /** float32 [B, T, H, D], written (float32 also for bfloat16 inputs). */
  out: Tensor;
  /** float32 [B, H, T], written: log Σ_s exp(scale·q·k_s), −inf for a query without keys. */
  lse: Tensor;
  /** float32 or bfloat16 [B, T, H, D]: fixes B, T, H, D (and the dtype of k, v, dout). */
  q: Tensor;
  /** float32 or bfloat16 (q's dtype) [B, Smax, KVH, D] (a KV cache may hold more rows than kvLength): fixes Smax, KVH. */
  k: Tensor;
  v: Tensor;
  /** int32 [B]: first valid key of each row (left padding), in [0, kvLength]. Default all 0. */
  kvStart?: Tensor;
}

export interface AttentionOptions {
  /** S, the keys in use (T ≤ S ≤ Smax). Default Smax. */
  kvLength?: number;
  /** Default 1/sqrt(D). */
  scale?: number;
}

/** The forward's tensors (out and lse as it wrote them, read here), the upstream gradient and the gradients. */
export interface AttentionBackwardTensors extends AttentionTensors {
  /** float32 [B, T, H, D] += dL/dq. */
  dq: Tensor;
  /** float32 [B, Smax, KVH, D] += dL/dk (rows at or past kvLength are not touched). */
  dk: Tensor;
  /** float32 [B, Smax, KVH, D] += dL/dv. */
  dv: Tensor;
  /** [B, T, H, D], q's dtype. */
  dout: Tensor;
}

function prepare(t: { q?: unknown; k?: unknown; v?: unknown; kvStart?: unknown }, options: AttentionOptions) {
  checkOptionsObject('options', options, ['kvLength', 'scale']);
  const o = options ?? {};
  const q = checkTensor('q', t.q, ['float32', 'bfloat16']);
  const [B, T, H, D] = checkDims('q', q, 4, '[B, T, H, D]');
  if (H < 1 || D < 1) throw new ShapeError('q', `Expected q of shape [B, T, H, D] with H >= 1 and D >= 1 but received ${describe(q)}`);
  const k = checkTensor('k', t.k, [q.dtype]);
  const [kB, Smax, KVH, kD] = checkDims('k', k, 4, '[B, Smax, KVH, D]');
  if (kB !== B || kD !== D)
    throw new ShapeError('k', `Expected k of shape [${B}, Smax, KVH, ${D}] (B and D of q) but received ${describe(k)}`);
  if (KVH === 0 || H % KVH !== 0)
    throw new ShapeError('k', `Expected k with a number of kv heads dividing H = ${H} but received ${describe(k)}`);
  const v = checkTensor('v', t.v, [q.dtype]);
  if (v.shape.length !== 4 || v.shape.some((d, i) => d !== k.shape[i]))
    throw new ShapeError('v', `Expected shape ${shapeText(k.shape)} (that of k) for v but received ${describe(v)}`);
  const S = checkNumber('options.kvLength', o.kvLength, Smax, { integer: true, min: T, max: Smax });
  const scale = checkNumber('options.scale', o.scale, D > 0 ? 1 / Math.sqrt(D) : 1);
  const kvStart = optionalElements('kvStart', t.kvStart, B, [B], 'int32');
  return { q, k, v, kvStart, B, T, H, KVH, D, S, Smax, scale };
}

/** The CUDA kernels keep 32-row tiles of whole heads in shared memory. */
export const CUDA_MAX_HEAD_DIM = 256;

function checkDevice(device: string, p: { q: Tensor; D: number }): void {
  if (device === 'cuda' && p.D > CUDA_MAX_HEAD_DIM)
    throw new ShapeError('q', `Expected a head size D <= ${CUDA_MAX_HEAD_DIM} on cuda but received ${describe(p.q)}`);
}

/** Causal GQA attention; writes out and lse, returns out. */
export function attention(tensors: AttentionTensors, options: AttentionOptions = {}): Tensor {
  const t = checkTensorsObject('tensors', tensors, ['out', 'lse', 'q', 'k', 'v', 'kvStart'], '{ out, lse, q, k, v, kvStart? }');
  const p = prepare(t, options);
  const out = checkElements('out', t.out, p.q.numel, [p.B, p.T, p.H, p.D]);
  const lse = checkElements('lse', t.lse, p.B * p.H * p.T, [p.B, p.H, p.T]);
  checkDevice(commonDevice({ out, lse, q: p.q, k: p.k, v: p.v, kvStart: p.kvStart }), p);
  callNative(() => binding().attention(out._storage('out'), lse._storage('lse'), p.q._storage('q'), p.k._storage('k'),
    p.v._storage('v'), p.kvStart?._storage('kvStart') ?? null, p.B, p.T, p.H, p.KVH, p.D, p.S, p.Smax, p.scale));
  return out;
}

/** dq, dk, dv += the gradients of Σ dout·out through attention. */
export function attentionBackward(tensors: AttentionBackwardTensors, options: AttentionOptions = {}): void {
  const t = checkTensorsObject('tensors', tensors, ['dq', 'dk', 'dv', 'dout', 'out', 'lse', 'q', 'k', 'v', 'kvStart'],
    '{ dq, dk, dv, dout, out, lse, q, k, v, kvStart? }');
  const p = prepare(t, options);
  const qShape = [p.B, p.T, p.H, p.D], kShape = [p.B, p.Smax, p.KVH, p.D];
  const dq = checkElements('dq', t.dq, p.q.numel, qShape);
  const dk = checkElements('dk', t.dk, p.k.numel, kShape);
  const dv = checkElements('dv', t.dv, p.k.numel, kShape);
  const dout = checkElements('dout', t.dout, p.q.numel, qShape, p.q.dtype);
  const out = checkElements('out', t.out, p.q.numel, qShape);
  const lse = checkElements('lse', t.lse, p.B * p.H * p.T, [p.B, p.H, p.T]);
  checkDevice(commonDevice({ dq, dk, dv, dout, out, lse, q: p.q, k: p.k, v: p.v, kvStart: p.kvStart }), p);
  callNative(() => binding().attentionBackward(dq._storage('dq'), dk._storage('dk'), dv._storage('dv'), dout._storage('dout'),
    out._storage('out'), lse._storage('lse'), p.q._storage('q'), p.k._storage('k'), p.v._storage('v'),
    p.kvStart?._storage('kvStart') ?? null, p.B, p.T, p.H, p.KVH, p.D, p.S, p.Smax, p.scale));
}
