// matmul.ts: the linear layer, out = inp · weightᵀ + bias + residual (PyTorch nn.Linear's layout:
// weight [OC, C]), and its gradients, on the CPU sgemm (native/cpu/matmul.h): deterministic, any
// thread count. Outputs are caller-allocated; every gradient is accumulated (+=), llm.c style.
// inp and weight (and dout) may all be bfloat16 instead: on cuda that runs the bf16 tensor-core GEMM
// (cuda/gemm_bf16.cu, fp32 accumulation), on the CPU the sgemm on the exactly widened values; out,
// bias, residual and the gradients stay float32.
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkDims, checkElements, checkTensor, checkTensorsObject, commonDevice, optionalElements, rowsOf } from '../validate';
import { ArgumentError } from '../errors';

export interface MatmulTensors {
  /** float32 [N, OC], written (or accumulated into when `residual` is this same tensor). */
  out: Tensor;
  /** float32 or bfloat16 [N, C] (any shape with N·C elements). */
  inp: Tensor;
  /** float32 or bfloat16 (the dtype of inp) [OC, C]: fixes OC and C. */
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
  /** float32 [N, OC]: upstream gradient; bfloat16 when inp and weight are. */
  dout: Tensor;
  inp: Tensor;
  weight: Tensor;
}

function sizes(inp: unknown, weight: unknown) {
  const x = checkTensor('inp', inp, ['float32', 'bfloat16']);
  const w = checkTensor('weight', weight, [x.dtype]);
  const [OC, C] = checkDims('weight', w, 2, '[OC, C]');
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
  const dout = checkElements('dout', t.dout, N * OC, [N, OC], x.dtype);
  const dinp = optionalElements('dinp', t.dinp, N * C, [N, C]);
  const dweight = optionalElements('dweight', t.dweight, OC * C, [OC, C]);
  const dbias = optionalElements('dbias', t.dbias, OC, [OC]);
  if (!dinp && !dweight && !dbias)
    throw new ArgumentError('tensors', 'Expected at least one of dinp, dweight, dbias in tensors but received none');
  commonDevice({ dinp, dweight, dbias, dout, inp: x, weight: w });
  callNative(() => binding().matmulBackward(dinp?._storage('dinp') ?? null, dweight?._storage('dweight') ?? null,
    dbias?._storage('dbias') ?? null, dout._storage('dout'), x._storage('inp'), w._storage('weight'), N, C, OC));
}
