// rmsnorm.ts: RMSNorm as Hugging Face's LlamaRMSNorm computes it (fp32):
//   rstd = 1 / sqrt(mean(x²) + eps),  out = x · rstd · weight
// and its backward (dinp and dweight accumulated, +=; dweight summed deterministically).
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkElements, checkNumber, checkOptionsObject, checkTensor, checkTensorsObject, commonDevice, rowsOf } from '../validate';
import { ShapeError, describe } from '../errors';

export interface RmsnormTensors {
  /** float32 [N, C], written; may be `inp` itself. */
  out: Tensor;
  /** float32 [N], written: 1/sqrt(mean(x²) + eps) per row, for the backward. */
  rstd: Tensor;
  /** float32 [N, C] (any shape with N·C elements). */
  inp: Tensor;
  /** float32 [C]: fixes C. */
  weight: Tensor;
}

export interface RmsnormOptions {
  /** Added to mean(x²); HF Llama uses config.rms_norm_eps (1e-6 or 1e-5). Default 1e-6. */
  eps?: number;
}

export interface RmsnormBackwardTensors {
  /** float32 [N, C] += dL/dinp. */
  dinp: Tensor;
  /** float32 [C] += dL/dweight. */
  dweight: Tensor;
  dout: Tensor;
  inp: Tensor;
  weight: Tensor;
  /** float32 [N] from the forward. */
  rstd: Tensor;
}

function sizes(inp: unknown, weight: unknown) {
  const w = checkTensor('weight', weight, ['float32']);
  const x = checkTensor('inp', inp, ['float32']);
  const C = w.numel;
  if (C < 1) throw new ShapeError('weight', `Expected a weight of C >= 1 elements but received ${describe(w)}`);
  return { w, x, C, N: rowsOf('inp', x, C, String(C)) };
}

/** out = inp · rstd · weight per row; writes rstd; returns out. */
export function rmsnorm(tensors: RmsnormTensors, options: RmsnormOptions = {}): Tensor {
  const t = checkTensorsObject('tensors', tensors, ['out', 'rstd', 'inp', 'weight'], '{ out, rstd, inp, weight }');
  checkOptionsObject('options', options, ['eps']);
  const eps = checkNumber('options.eps', options.eps, 1e-6, { min: 0 });
  const { w, x, C, N } = sizes(t.inp, t.weight);
  const out = checkElements('out', t.out, N * C, [N, C]);
  const rstd = checkElements('rstd', t.rstd, N, [N]);
  commonDevice({ out, rstd, inp: x, weight: w });
  callNative(() => binding().rmsnorm(out._storage('out'), rstd._storage('rstd'), x._storage('inp'), w._storage('weight'), N, C, eps));
  return out;
}

/** dinp += ∂L/∂inp, dweight += ∂L/∂weight for upstream gradient dout. */
export function rmsnormBackward(tensors: RmsnormBackwardTensors): void {
  const t = checkTensorsObject('tensors', tensors, ['dinp', 'dweight', 'dout', 'inp', 'weight', 'rstd'], '{ dinp, dweight, dout, inp, weight, rstd }');
  const { w, x, C, N } = sizes(t.inp, t.weight);
  const dinp = checkElements('dinp', t.dinp, N * C, [N, C]);
  const dweight = checkElements('dweight', t.dweight, C, [C]);
  const dout = checkElements('dout', t.dout, N * C, [N, C]);
  const rstd = checkElements('rstd', t.rstd, N, [N]);
  commonDevice({ dinp, dweight, dout, inp: x, weight: w, rstd });
  callNative(() => binding().rmsnormBackward(dinp._storage('dinp'), dweight._storage('dweight'), dout._storage('dout'),
    x._storage('inp'), w._storage('weight'), rstd._storage('rstd'), N, C));
}
