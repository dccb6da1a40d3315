// rmsnorm.ts: RMSNorm as Hugging Face's LlamaRMSNorm computes it (fp32):
//   rstd = 1 / sqrt(mean(x²) + eps),  out = x · rstd · weight
// and its backward (dinp and dweight accumulated, +=; dweight summed deterministically).
// On cuda the output may be bfloat16 (out of dtype bfloat16, or a bf16 copy next to a float32 out
// through outBf16): y computed in fp32 and rounded to nearest even, the bits of the float32 output
// followed by ops.cast, in the same pass (the input of a bf16 GEMM under TinyLM's 'bf16-mixed').
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import type { NativeStorage } from '../native';
import { callNative } from '../native_call';
import { checkElements, checkNumber, optionalElements, checkOptionsObject, checkTensor, checkTensorsObject, commonDevice, rowsOf } from '../validate';
import { DTypeError, DeviceError, ShapeError, describe } from '../errors';

// The addon function of the bf16-output forward, typed here (a family stays in its own files).
declare module '../native' {
  interface NativeBinding {
    rmsnormBf16(out: NativeStorage | null, outBf16: NativeStorage, rstd: NativeStorage, inp: NativeStorage, weight: NativeStorage,
      N: number, C: number, eps: number): void;
  }
}

export interface RmsnormTensors {
  /**
   * float32 [N, C], written; may be `inp` itself. Or, on cuda only, bfloat16 [N, C] (disjoint
   * from the other tensors): the output rounded to bf16, with no float32 copy.
   */
  out: Tensor;
  /**
   * Optional, cuda only, with a float32 `out`: bfloat16 [N, C] (disjoint from the other tensors)
   * that also receives the output rounded to bf16, in the same pass.
   */
  outBf16?: Tensor;
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

/** out = inp · rstd · weight per row (and outBf16 = bf16(out) when given); writes rstd; returns out. */
export function rmsnorm(tensors: RmsnormTensors, options: RmsnormOptions = {}): Tensor {
  const t = checkTensorsObject('tensors', tensors, ['out', 'outBf16', 'rstd', 'inp', 'weight'], '{ out, outBf16?, rstd, inp, weight }');
  checkOptionsObject('options', options, ['eps']);
  const eps = checkNumber('options.eps', options.eps, 1e-6, { min: 0 });
  const { w, x, C, N } = sizes(t.inp, t.weight);
  const out = checkElements('out', t.out, N * C, [N, C], checkTensor('out', t.out, ['float32', 'bfloat16']).dtype);
  const outBf16 = optionalElements('outBf16', t.outBf16, N * C, [N, C], 'bfloat16');
  if (outBf16 !== undefined && out.dtype !== 'float32')
    throw new DTypeError('out', `Expected out of dtype float32 when outBf16 is given (outBf16 is its bf16 copy) but received ${describe(out)}`);
  const rstd = checkElements('rstd', t.rstd, N, [N]);
  const device = commonDevice({ out, outBf16, rstd, inp: x, weight: w });
  const bf16 = out.dtype === 'bfloat16' ? out : outBf16;
  if (bf16 === undefined) {
    callNative(() => binding().rmsnorm(out._storage('out'), rstd._storage('rstd'), x._storage('inp'), w._storage('weight'), N, C, eps));
    return out;
  }
  const name = bf16 === out ? 'out' : 'outBf16';
  if (device !== 'cuda')
    throw new DeviceError(`Expected ${name} (bfloat16) on cuda (rmsnorm writes a bfloat16 output on cuda only; on the cpu write float32 and ops.cast it) but received ${describe(bf16)}`);
  const f32 = bf16 === out ? null : out._storage('out');
  callNative(() => binding().rmsnormBf16(f32, bf16._storage(name), rstd._storage('rstd'), x._storage('inp'), w._storage('weight'), N, C, eps));
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
