// adamw.ts: one AdamW step in place over flat buffers, as torch.optim.AdamW computes it
// (decoupled weight decay: p ← p − lr·wd·p, then the bias-corrected Adam update), with the
// gradient multiplied by gradScale first (1/accumulation steps, a clipping factor), and the global
// gradient L2 norm for clipping (fp64, deterministic).
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkElements, checkNumber, checkOptionsObject, checkTensor, checkTensorsObject, commonDevice } from '../validate';
import { ArgumentError } from '../errors';

export interface AdamwTensors {
  /** float32, any shape: updated in place. */
  params: Tensor;
  /** float32, same element count: read only. */
  grads: Tensor;
  /** float32 first and second moments, same element count (zeros before step 1): updated in place. */
  m: Tensor;
  v: Tensor;
}

export interface AdamwOptions {
  /** Learning rate (finite, >= 0). Required. */
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay. Default 0 (torch's default is 0.01: pass it explicitly). */
  weightDecay?: number;
  /** 1-based step number, for the bias corrections. Required. */
  step: number;
  /** Multiplies the gradients before the update. Default 1. */
  gradScale?: number;
}

function checkBeta(argument: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw ArgumentError.expected(argument, 'a number in [0, 1)', value);
  return value;
}

/** Updates params, m and v in place. */
export function adamw(tensors: AdamwTensors, options: AdamwOptions): void {
  const t = checkTensorsObject('tensors', tensors, ['params', 'grads', 'm', 'v'], '{ params, grads, m, v }');
  checkOptionsObject('options', options, ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'step', 'gradScale']);
  if (options === undefined || options === null) throw ArgumentError.expected('options', 'an options object { lr, step, ... }', options);
  if (options.lr === undefined) throw ArgumentError.expected('options.lr', 'a finite number >= 0', undefined);
  if (options.step === undefined) throw ArgumentError.expected('options.step', 'an integer >= 1', undefined);
  const lr = checkNumber('options.lr', options.lr, 0, { min: 0 });
  const beta1 = checkBeta('options.beta1', options.beta1, 0.9);
  const beta2 = checkBeta('options.beta2', options.beta2, 0.999);
  const eps = checkNumber('options.eps', options.eps, 1e-8, { above: 0 });
  const weightDecay = checkNumber('options.weightDecay', options.weightDecay, 0, { min: 0 });
  const step = checkNumber('options.step', options.step, 1, { integer: true, min: 1 });
  const gradScale = checkNumber('options.gradScale', options.gradScale, 1);
  const params = checkTensor('params', t.params, ['float32']);
  const n = params.numel;
  const grads = checkElements('grads', t.grads, n, [n]);
  const m = checkElements('m', t.m, n, [n]);
  const v = checkElements('v', t.v, n, [n]);
  commonDevice({ params, grads, m, v });
  callNative(() => binding().adamw(params._storage('params'), grads._storage('grads'), m._storage('m'), v._storage('v'), n,
    lr, beta1, beta2, eps, weightDecay, step, gradScale));
}

/** sqrt(Σ grads²), summed in float64 over fixed chunks (the same for any thread count). */
export function gradNorm(grads: Tensor): number {
  const g = checkTensor('grads', grads, ['float32']);
  commonDevice({ grads: g });
  return callNative(() => binding().gradNorm(g._storage('grads'), g.numel));
}
