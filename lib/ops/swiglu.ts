// swiglu.ts: the SwiGLU gate of Llama's MLP (HF LlamaMLP: act_fn(gate_proj(x)) * up_proj(x), act_fn
// = SiLU) on one stacked projection inp = [gate | up] of shape [N, 2F]:
//   out = silu(gate) · up,  silu(g) = g·σ(g);
//   dgate = dout · up · σ(g)(1 + g(1 − σ(g))),  dup = dout · silu(g)   (the backward WRITES dinp).
// On cuda `out` may be bfloat16: the float32 product rounded to nearest even in the same pass (the
// bits of the float32 output followed by ops.cast; the down GEMM's input under 'bf16-mixed').
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import type { NativeStorage } from '../native';
import { DeviceError, ShapeError, describe } from '../errors';
import { callNative } from '../native_call';
import { checkElements, checkTensor, checkTensorsObject, commonDevice } from '../validate';

// The addon function of the bf16-output forward, typed here (a family stays in its own files).
declare module '../native' {
  interface NativeBinding {
    swigluBf16(out: NativeStorage, inp: NativeStorage, N: number, F: number): void;
  }
}

export interface SwigluTensors {
  /** float32 [N, F], written; or, on cuda only, bfloat16 [N, F]. */
  out: Tensor;
  /** float32 [N, 2F]: gate = inp[:, :F], up = inp[:, F:]; its last dimension fixes F. */
  inp: Tensor;
}

export interface SwigluBackwardTensors {
  /** float32 [N, 2F], WRITTEN (not accumulated): [dgate | dup]. */
  dinp: Tensor;
  /** float32 [N, F]. */
  dout: Tensor;
  inp: Tensor;
}

function sizes(inp: unknown) {
  const x = checkTensor('inp', inp, ['float32']);
  const last = x.shape.length > 0 ? x.shape[x.shape.length - 1] : 0;
  if (x.shape.length < 1 || last % 2 !== 0)
    throw new ShapeError('inp', `Expected inp of shape [..., 2F] (gate and up stacked, an even last dimension) but received ${describe(x)}`);
  const F = last / 2;
  return { x, F, N: F === 0 ? x.numel : x.numel / (2 * F) };
}

/** out = silu(gate) · up; returns out. */
export function swiglu(tensors: SwigluTensors): Tensor {
  const t = checkTensorsObject('tensors', tensors, ['out', 'inp'], '{ out, inp }');
  const { x, F, N } = sizes(t.inp);
  const out = checkElements('out', t.out, N * F, [N, F], checkTensor('out', t.out, ['float32', 'bfloat16']).dtype);
  const device = commonDevice({ out, inp: x });
  if (out.dtype === 'bfloat16') {
    if (device !== 'cuda')
      throw new DeviceError(`Expected out (bfloat16) on cuda (swiglu writes a bfloat16 output on cuda only; on the cpu write float32 and ops.cast it) but received ${describe(out)}`);
    callNative(() => binding().swigluBf16(out._storage('out'), x._storage('inp'), N, F));
  } else {
    callNative(() => binding().swiglu(out._storage('out'), x._storage('inp'), N, F));
  }
  return out;
}

/** dinp = [dgate | dup] (written). */
export function swigluBackward(tensors: SwigluBackwardTensors): void {
  const t = checkTensorsObject('tensors', tensors, ['dinp', 'dout', 'inp'], '{ dinp, dout, inp }');
  const { x, F, N } = sizes(t.inp);
  const dinp = checkElements('dinp', t.dinp, 2 * N * F, [N, 2 * F]);
  const dout = checkElements('dout', t.dout, N * F, [N, F]);
  commonDevice({ dinp, dout, inp: x });
  callNative(() => binding().swigluBackward(dinp._storage('dinp'), dout._storage('dout'), x._storage('inp'), N, F));
}
