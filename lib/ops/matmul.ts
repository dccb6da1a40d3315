// matmul.ts: the linear layer, out = inp · weightᵀ + bias + residual (PyTorch nn.Linear's layout:
// weight [OC, C]), and its gradients, on the CPU sgemm (native/cpu/matmul.h): deterministic, any
// thread count. Outputs are caller-allocated; every gradient is accumulated (+=), llm.c style.
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkDims, checkElements, checkTensor, checkTensorsObject, commonDevice, optionalElements, rowsOf } from '../validate';
import { ArgumentError } from '../errors';

export interface MatmulTensors {
  /** float32 [N, OC], written (or accumulated into when `residual` is this same tensor). */
  out: Tensor;
  /** float32 [N, C] (any shape with N·C elements). */
  inp: Tensor;
  /** float32 [OC, C]: fixes OC and C. */
  weight: Tensor;
  /** float32 [OC], added to every row. */
  bias?: Tensor;
  /** float32 [N, OC], added to the product; may be `out` itself to accumulate into it. */
  residual?: Tensor;
}

export interface MatmulBackwardTensors {
  /** float32 [N, C] += dout · weight. */
  dinp?: Tensor;
  /** float32 [OC, C] += doutᵀ · inp. */
  dweight?: Tensor;
  /** float32 [OC] += column sums of dout. */
  dbias?: Tensor;
  /** float32 [N, OC]: upstream gradient. */
  dout: Tensor;
  inp: Tensor;
  weight: Tensor;
}

function sizes(inp: unknown, weight: unknown) {
  const w = checkTensor('weight', weight, ['float32']);
  const [OC, C] = checkDims('weight', w, 2, '[OC, C]');
  const x = checkTensor('inp', inp, ['float32']);
  return { w, x, N: rowsOf('inp', x, C, String(C)), C, OC };
}

/** out = inp · weightᵀ (+ bias) (+ residual); returns out. */
export function matmul(tensors: MatmulTensors): Tensor {
  const t = checkTensorsObject('tensors', tensors, ['out', 'inp', 'weight', 'bias', 'residual'], '{ out, inp, weight, bias?, residual? }');
  const { w, x, N, C, OC } = sizes(t.inp, t.weight);
  const out = checkElements('out', t.out, N * OC, [N, OC]);
  const bias = optionalElements('bias', t.bias, OC, [OC]);
  const residual = optionalElements('residual', t.residual, N * OC, [N, OC]);
  commonDevice({ out, inp: x, weight: w, bias, residual });
  callNative(() => binding().matmul(out._storage('out'), x._storage('inp'), w._storage('weight'),
    bias?._storage('bias') ?? null, residual?._storage('residual') ?? null, N, C, OC));
  return out;
}

/** Accumulates the gradients asked for: dinp += dout·weight, dweight += doutᵀ·inp, dbias += Σ_rows dout. */
export function matmulBackward(tensors: MatmulBackwardTensors): void {
  const t = checkTensorsObject('tensors', tensors, ['dinp', 'dweight', 'dbias', 'dout', 'inp', 'weight'],
    '{ dinp?, dweight?, dbias?, dout, inp, weight }');
  const { w, x, N, C, OC } = sizes(t.inp, t.weight);
  const dout = checkElements('dout', t.dout, N * OC, [N, OC]);
  const dinp = optionalElements('dinp', t.dinp, N * C, [N, C]);
  const dweight = optionalElements('dweight', t.dweight, OC * C, [OC, C]);
  const dbias = optionalElements('dbias', t.dbias, OC, [OC]);
  if (!dinp && !dweight && !dbias)
    throw new ArgumentError('tensors', 'Expected at least one of dinp, dweight, dbias in tensors but received none');
  commonDevice({ dinp, dweight, dbias, dout, inp: x, weight: w });
  callNative(() => binding().matmulBackward(dinp?._storage('dinp') ?? null, dweight?._storage('dweight') ?? null,
    dbias?._storage('dbias') ?? null, dout._storage('dout'), x._storage('inp'), w._storage('weight'), N, C, OC));
}
