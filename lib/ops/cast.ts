// cast.ts: dtype conversion on the tensors' device, float32 -> bfloat16 (round to nearest, ties to
// even; a NaN stays a NaN with its sign, inf stays inf, values past bf16's largest finite become
// inf) and bfloat16 -> float32 (exact). The bits of lib/dtype.ts toBFloat16 / fromBFloat16
// (include/steprl/cast.h); cuda runs cuda/cast.cu, the cpu native/cpu/cast.cc.
// The output is the caller's (llm.c style, like every model op): a mixed-precision model refreshes
// its bf16 weight copies and activations in place each step, with no allocation.
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import type { NativeStorage } from '../native';
import { DTypeError, ShapeError, describe } from '../errors';
import { callNative } from '../native_call';
import { checkTensor, checkTensorsObject, commonDevice } from '../validate';

// The addon function, typed here rather than in native.ts (a family stays in its own files).
declare module '../native' {
  interface NativeBinding {
    cast(out: NativeStorage, inp: NativeStorage, n: number): void;
  }
}
export interface CastTensors {
  /** bfloat16 when inp is float32, float32 when inp is bfloat16; inp's element count (any shape), written. */
  out: Tensor;
  /** float32 or bfloat16. Must not overlap out. */
  inp: Tensor;
}

/** out = inp converted to out's dtype (float32 <-> bfloat16); returns out. */
export function cast(tensors: CastTensors): Tensor {
  const t = checkTensorsObject('tensors', tensors, ['out', 'inp'], '{ out, inp }');
  const inp = checkTensor('inp', t.inp, ['float32', 'bfloat16']);
  const to = inp.dtype === 'float32' ? 'bfloat16' : 'float32';
  const out = checkTensor('out', t.out, ['float32', 'bfloat16']);
  if (out.dtype !== to)
    throw new DTypeError('out', `Expected out of dtype ${to} (inp is ${inp.dtype}; cast converts between float32 and bfloat16, copyFrom copies) but received ${describe(out)}`);
  if (out.numel !== inp.numel)
    throw new ShapeError('out', `Expected ${inp.numel} elements (those of inp, ${describe(inp)}) for out but received ${describe(out)}`);
  commonDevice({ out, inp });
  callNative(() => binding().cast(out._storage('out'), inp._storage('inp'), inp.numel));
  return out;
}
