// rope.ts: rotary position embeddings exactly as Hugging Face applies them (modeling_llama
// apply_rotary_pos_emb + rotate_half: element i of each head pairs with i + D/2), with HF's fp32
// inv_freq = 1/theta^(2i/D) and fp32 angles position·inv_freq:
//   y_i = x_i cos a_i − x_{i+D/2} sin a_i,   y_{i+D/2} = x_{i+D/2} cos a_i + x_i sin a_i.
// The backward rotates by −a and WRITES dinp (in place over dout allowed), like the forward.
// options.invFreq replaces theta's frequencies: for HF rope_scaling variants (Llama 3 rescales
// inv_freq), or to reuse PyTorch's exact inv_freq bits (its CPU pow is 1-ulp, not correctly
// rounded; a 1-ulp difference moves the angle at position p by up to p·6e-8).
// On cuda, cos/sin come from a double-precision reduction written for fp32 angles (cuda/rope.cu)
// and equal the CPU's; head sizes up to 8192 (a shared-memory table of D floats).
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import { ArgumentError, ShapeError, describe } from '../errors';
import { callNative } from '../native_call';
import { checkElements, checkNumber, checkOptionsObject, checkTensor, checkTensorsObject, commonDevice, optionalElements } from '../validate';

export interface RopeOptions {
  /** D, the head size (even); rows hold heads·D values. Required. */
  headDim: number;
  /** rope_theta. Default 10000 (Llama 2); Llama 3 uses 500000, Qwen2 1000000. */
  theta?: number;
  /** float32 [D/2]: the inverse frequencies to use instead of theta^(−2i/D) (then theta is unused). */
  invFreq?: Tensor;
}

export interface RopeTensors {
  /** float32 [N, heads·D], written; may be `inp` itself. */
  out: Tensor;
  /** float32 [N, heads·D] (q or k rows, e.g. [B,T,H,D]). */
  inp: Tensor;
  /** int32 [N]: position of each row (>= 0); fixes N. */
  positions: Tensor;
}

export interface RopeBackwardTensors {
  /** float32 [N, heads·D], WRITTEN (not accumulated); may be `dout` itself. */
  dinp: Tensor;
  dout: Tensor;
  positions: Tensor;
}

function prepare(values: unknown, valuesName: string, positions: unknown, options: RopeOptions) {
  checkOptionsObject('options', options, ['headDim', 'theta', 'invFreq']);
  if (options === undefined || options === null || options.headDim === undefined)
    throw ArgumentError.expected('options.headDim', 'an even integer >= 2 (the head size)', options?.headDim);
  const D = checkNumber('options.headDim', options.headDim, 0, { integer: true, min: 2 });
  if (D % 2 !== 0) throw ArgumentError.expected('options.headDim', 'an even integer >= 2 (the head size)', D);
  const theta = checkNumber('options.theta', options.theta, 10000, { above: 0 });
  const invFreq = optionalElements('options.invFreq', options.invFreq, D / 2, [D / 2]);
  const p = checkTensor('positions', positions, ['int32']);
  const x = checkTensor(valuesName, values, ['float32']);
  const N = p.numel;
  if (N === 0 ? x.numel !== 0 : x.numel % (N * D) !== 0)
    throw new ShapeError(valuesName, `Expected ${valuesName} of shape [N, heads·D] with N = ${N} (positions) and D = ${D} but received ${describe(x)}`);
  return { p, x, N, D, heads: N === 0 ? 0 : x.numel / (N * D), theta, invFreq };
}

const CUDA_MAX_HEAD_DIM = 8192;

function checkCudaHead(device: string, D: number): void {
  if (device === 'cuda' && D > CUDA_MAX_HEAD_DIM)
    throw ArgumentError.expected('options.headDim', `an even integer between 2 and ${CUDA_MAX_HEAD_DIM} on cuda`, D);
}

/** rope and its backward: the same checks and call under their own tensor names; returns the output. */
function rotate(
  tensors: object, outName: 'out' | 'dinp', inName: 'inp' | 'dout', options: RopeOptions, run: 'rope' | 'ropeBackward',
): Tensor {
  const names = [outName, inName, 'positions'];
  const t = checkTensorsObject('tensors', tensors as Record<string, unknown>, names, `{ ${names.join(', ')} }`);
  const { p, x, N, D, heads, theta, invFreq } = prepare(t[inName], inName, t.positions, options);
  const out = checkElements(outName, t[outName], x.numel, [N, heads * D]);
  checkCudaHead(commonDevice({ [outName]: out, [inName]: x, positions: p, 'options.invFreq': invFreq }), D);
  callNative(() => binding()[run](out._storage(outName), x._storage(inName), p._storage('positions'), N, heads, D, theta,
    invFreq?._storage('options.invFreq') ?? null));
  return out;
}

/** Rotates every head of every row by its position; returns out. */
export function rope(tensors: RopeTensors, options: RopeOptions): Tensor {
  return rotate(tensors, 'out', 'inp', options, 'rope');
}

/** dinp = rotation of dout by −angle (written, not accumulated). */
export function ropeBackward(tensors: RopeBackwardTensors, options: RopeOptions): void {
  rotate(tensors, 'dinp', 'dout', options, 'ropeBackward');
}
