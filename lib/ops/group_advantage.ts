// group_advantage.ts: GRPO's group-relative outcome advantages (ALGORITHMS.md §1.5, §6.4):
//   A_i = (r_i − μ_g)/(σ_g + eps)  or  r_i − μ_g  (Dr. GRPO),  g = groupIds[i]
// with float64 two-pass statistics in row order; singleton groups use μ = 0, σ = 1 (verl), and a
// group whose rewards are all equal gets A = 0 exactly.
import { binding } from '../binding';
import { ArgumentError, describe } from '../errors';
import { Tensor, typedArrayKind } from '../tensor';
import { callNative, checkEnum, checkNumber, checkOptionsObject, checkRank, checkShapeEquals, checkTensor, commonDevice } from './validate';

export interface GroupAdvantagesOptions {
  /** 'std' divides by σ_g + eps (GRPO); 'none' only centres (Dr. GRPO). Default 'std'. */
  scale?: 'std' | 'none';
  /** Added to σ_g (a finite number ≥ 0). Default 1e-6. */
  eps?: number;
  /** σ with divisor G − 1 ('unbiased', torch.std as in verl) or G ('population'). Default 'unbiased'. */
  std?: 'unbiased' | 'population';
}

/** Every reward finite; the message names the first that is not. */
function checkFinite(argument: string, tensor: Tensor): void {
  const values = tensor._storage(argument);
  if (typedArrayKind(values) === null) return;
  const data = values as Float32Array;
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(data[i]))
      throw new ArgumentError(argument, `Expected a finite number for every element of ${argument} but received ${describe(data[i])} at index ${i}`);
}

/**
 * Advantages of R rows (float32 [R]) from their rewards (float32 [R]) and group ids (int32 [R]).
 * Ids are keys: any int32 values, rows of one group need not be adjacent.
 */
export function groupAdvantages(rewards: Tensor, groupIds: Tensor, options: GroupAdvantagesOptions = {}): Tensor {
  checkOptionsObject('options', options, ['scale', 'eps', 'std']);
  const r = checkTensor('rewards', rewards, ['float32']);
  checkRank('rewards', r, 1);
  const ids = checkTensor('groupIds', groupIds, ['int32']);
  checkShapeEquals('groupIds', ids, r.shape);
  commonDevice({ rewards: r, groupIds: ids });
  const o = options ?? {};
  const scale = checkEnum('options.scale', o.scale, ['std', 'none'] as const, 'std');
  const eps = checkNumber('options.eps', o.eps, 1e-6, { min: 0 });
  const std = checkEnum('options.std', o.std, ['unbiased', 'population'] as const, 'unbiased');
  checkFinite('rewards', r);
  const out = callNative(() => binding().groupAdvantages(r._storage('rewards'), ids._storage('groupIds'), r.numel, scale, eps, std));
  return Tensor._wrap(out, r.shape, 'float32');
}
