// value_loss.ts: the clipped PPO value loss and its gradient with respect to the critic's values
// (ALGORITHMS.md §1.8). Per token t of row r whose mask is nonzero, with V = values[r, offset + t],
// Vold = oldValues[r, t], G = returns[r, t]:
//   l = ½·max((V − G)², (clip(V, Vold ± clip) − G)²),   loss = Σ coef·l / tokenCount,
//   dvalues[r, offset + t] = coef·(V − G) / tokenCount where the unclipped branch is the max, else 0;
// dvalues is 0 at every other column. float64 arithmetic per token (include/steprl/value_loss.h);
// on the cpu the sum runs rows in order, t ascending: the bits of the TypeScript loop it replaced.
import { binding } from '../binding';
import { ArgumentError } from '../errors';
import { Tensor } from '../tensor';
import type { NativeFloat32, NativeResult, NativeStorage } from '../native';
import { nativeOp } from '../native_call';
import { checkDims, checkNumber, checkOptionsObject, checkShapeEquals, checkTensor, checkTensorsObject, commonDevice } from '../validate';

export interface NativeValueLoss {
  loss: number;
  dvalues: NativeFloat32;
}

// The addon function, typed here rather than in native.ts (a family stays in its own files).
declare module '../native' {
  interface NativeBinding {
    valueLoss<A extends boolean>(
      values: NativeStorage, oldValues: NativeStorage, returns: NativeStorage, mask: NativeStorage, rows: number,
      tokens: number, width: number, offset: number, clip: number, coef: number, tokenCount: number, async: A,
    ): NativeResult<A, NativeValueLoss>;
  }
}

export interface ValueLossInputs {
  /** float32 [R,W]: the critic's values; response token t's is at column options.offset + t. */
  values: Tensor;
  /** float32 [R,T]: Vold, the values at rollout time (constant). */
  oldValues: Tensor;
  /** float32 [R,T]: G, the value targets (e.g. gae's returns; constant). */
  returns: Tensor;
  /** float32 or uint8 [R,T]: a token counts where its mask is nonzero. */
  mask: Tensor;
}

export interface ValueLossOptions {
  /** The denominator of the mean (> 0): the tokens of the whole mini-batch when it is split into micro-batches. Required. */
  tokenCount: number;
  /** The column of values that holds response token 0's value, 0 ≤ offset ≤ W − T. Default W − T. */
  offset?: number;
  /** c ≥ 0, the range around Vold the clipped value may move in; Infinity: no clip. Default 0.2. */
  clip?: number;
  /** The loss weight (finite). Default 0.1 (§1.8's total pg + 0.1·vf). */
  coef?: number;
}

export interface ValueLossResult {
  /** Σ coef·l / tokenCount over the masked tokens. */
  loss: number;
  /** float32 [R,W]: d loss / d values (0 outside the masked response tokens). */
  dvalues: Tensor;
}

const OPTION_NAMES = ['tokenCount', 'offset', 'clip', 'coef'] as const;

function prepare(inputs: ValueLossInputs, options: ValueLossOptions) {
  checkTensorsObject('inputs', inputs, ['values', 'oldValues', 'returns', 'mask']);
  if (options === null || typeof options !== 'object') throw ArgumentError.expected('options', 'an object with tokenCount', options);
  checkOptionsObject('options', options, OPTION_NAMES);
  const old = checkTensor('oldValues', inputs.oldValues, ['float32']);
  const [R, T] = checkDims('oldValues', old, 2, '[R, T]');
  const values = checkTensor('values', inputs.values, ['float32']);
  const [vr, W] = checkDims('values', values, 2, '[R, W]');
  if (vr !== R || W < T) checkShapeEquals('values', values, [R, Math.max(W, T)]);
  const returns = checkTensor('returns', inputs.returns, ['float32']);
  checkShapeEquals('returns', returns, old.shape);
  const mask = checkTensor('mask', inputs.mask, ['float32', 'uint8']);
  checkShapeEquals('mask', mask, old.shape);
  commonDevice({ values, oldValues: old, returns, mask });
  if (options.tokenCount === undefined) throw ArgumentError.expected('options.tokenCount', 'a finite number > 0', undefined);
  const tokenCount = checkNumber('options.tokenCount', options.tokenCount, 1, { above: 0 });
  const offset = checkNumber('options.offset', options.offset, W - T, { integer: true, min: 0, max: W - T });
  const clip = options.clip === Infinity ? Infinity : checkNumber('options.clip', options.clip, 0.2, { min: 0 });
  const coef = checkNumber('options.coef', options.coef, 0.1);
  const args = [
    values._storage('values'), old._storage('oldValues'), returns._storage('returns'), mask._storage('mask') as NativeStorage,
    R, T, W, offset, clip, coef, tokenCount,
  ] as const;
  return { args, shape: [R, W] };
}

const op = nativeOp(
  prepare,
  ({ args }, async) => binding().valueLoss(...args, async),
  (out: NativeValueLoss, { shape }): ValueLossResult => ({ loss: out.loss, dvalues: Tensor._wrap(out.dvalues, shape, 'float32') }),
);

/** The clipped value loss over the masked response tokens and its gradient with respect to values. */
export function valueLoss(inputs: ValueLossInputs, options: ValueLossOptions): ValueLossResult {
  return op.sync(inputs, options);
}

/** valueLoss off the main thread. */
export function valueLossAsync(inputs: ValueLossInputs, options: ValueLossOptions): Promise<ValueLossResult> {
  return op.async(inputs, options);
}
