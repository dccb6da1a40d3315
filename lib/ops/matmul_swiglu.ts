// matmul_swiglu.ts: Llama's gate/up projection with the SwiGLU gate fused into the GEMM's epilogue,
// cuda only (cuda/gemm_bf16.cu, bf16 tensor cores, fp32 accumulation):
//   gu = inp · weightᵀ   (float32 [N, 2F] = [gate | up], kept for swigluBackward)
//   s  = bf16(silu(gate) · up)   (the down projection's bf16 input)
// gu has the bits of ops.matmul on the same bf16 operands, s those of ops.swiglu on gu followed by
// ops.cast: the fusion only saves the swiglu pass (its 8NF-byte read of gu and its launch). The
// weight's first F rows are the gate projection, the next F the up projection (the stacked layout
// TinyLM keeps, wgu). On the cpu it is a DeviceError: run ops.matmul, ops.swiglu (and ops.cast).
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import type { NativeStorage } from '../native';
import { DeviceError, ShapeError, describe } from '../errors';
import { callNative } from '../native_call';
import { checkDims, checkElements, checkTensor, checkTensorsObject, commonDevice, rowsOf } from '../validate';

// The addon function, typed here (a family stays in its own files).
declare module '../native' {
  interface NativeBinding {
    matmulSwigluBf16(gu: NativeStorage, s: NativeStorage, inp: NativeStorage, weight: NativeStorage, N: number, C: number, F: number): void;
  }
}

export interface MatmulSwigluTensors {
  /** float32 [N, 2F], written: inp · weightᵀ, i.e. [gate | up]. */
  gu: Tensor;
  /** bfloat16 [N, F], written: silu(gate) · up rounded to bf16. */
  s: Tensor;
  /** bfloat16 [N, C] (any shape with N·C elements). */
  inp: Tensor;
  /** bfloat16 [2F, C]: gate rows then up rows; fixes F and C. */
  weight: Tensor;
}

/** gu = inp · weightᵀ and s = bf16(silu(gu[:, :F]) · gu[:, F:]) in one GEMM pass pair; returns s. */
export function matmulSwiglu(tensors: MatmulSwigluTensors): Tensor {
  const t = checkTensorsObject('tensors', tensors, ['gu', 's', 'inp', 'weight'], '{ gu, s, inp, weight }');
  const w = checkTensor('weight', t.weight, ['bfloat16']);
  const [twoF, C] = checkDims('weight', w, 2, '[2F, C]');
  if (twoF % 2 !== 0)
    throw new ShapeError('weight', `Expected weight of shape [2F, C] (gate and up rows stacked, an even first dimension) but received ${describe(w)}`);
  const F = twoF / 2;
  const x = checkTensor('inp', t.inp, ['bfloat16']);
  const N = rowsOf('inp', x, C, String(C));
  const gu = checkElements('gu', t.gu, N * 2 * F, [N, 2 * F]);
  const s = checkElements('s', t.s, N * F, [N, F], 'bfloat16');
  const device = commonDevice({ gu, s, inp: x, weight: w });
  if (device !== 'cuda')
    throw new DeviceError(`Expected s on cuda (matmulSwiglu, the GEMM with a SwiGLU epilogue, runs on cuda only; on the cpu run matmul, swiglu and cast) but received ${describe(s)}`);
  callNative(() => binding().matmulSwigluBf16(gu._storage('gu'), s._storage('s'), x._storage('inp'), w._storage('weight'), N, C, F));
  return s;
}
