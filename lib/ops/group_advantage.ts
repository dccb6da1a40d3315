// group_advantage.ts: GRPO's group-relative outcome advantages (ALGORITHMS.md §1.5, §6.4):
//   A_i = (r_i − μ_g)/(σ_g + eps)  or  r_i − μ_g  (Dr. GRPO),  g = groupIds[i]
// with float64 two-pass statistics in row order; singleton groups use μ = 0, σ = 1 (verl), and a
// group whose rewards are all equal gets A = 0 exactly. rlooAdvantages is RLOO's leave-one-out
// baseline (Ahmadian et al., arXiv 2402.14740; docs/ALGORITHMS-baselines.md §B1) on the same kernels:
//   A_i = r_i − mean_{j∈g, j≠i} r_j = G/(G−1)·(r_i − μ_g),  every group of G ≥ 2 rows.
import { binding } from '../binding';
import { GROUP_SCALE_NAMES, GROUP_STD_NAMES, type GroupScaleName, type GroupStdName } from '../native';
import { ArgumentError, describe } from '../errors';
import { Tensor, typedArrayKind } from '../tensor';
import { callNative } from '../native_call';
import { checkEnum, checkNumber, checkOptionsObject, checkRank, checkShapeEquals, checkTensor, commonDevice } from '../validate';

export interface GroupAdvantagesOptions {
  /** 'std' divides by σ_g + eps (GRPO); 'none' only centres (Dr. GRPO). Default 'std'. */
  scale?: GroupScaleName;
  /** Added to σ_g (a finite number ≥ 0). Default 1e-6. */
  eps?: number;
  /** σ with divisor G − 1 ('unbiased', torch.std as in verl) or G ('population'). Default 'unbiased'. */
  std?: GroupStdName;
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
  const scale = checkEnum('options.scale', o.scale, GROUP_SCALE_NAMES, 'std');
  const eps = checkNumber('options.eps', o.eps, 1e-6, { min: 0 });
  const std = checkEnum('options.std', o.std, GROUP_STD_NAMES, 'unbiased');
  checkFinite('rewards', r);
  const out = callNative(() => binding().groupAdvantages(r._storage('rewards'), ids._storage('groupIds'), r.numel, scale, eps, std));
  return Tensor._wrap(out, r.shape, 'float32');
}

/** Every group has at least 2 rows (cpu storage; the cuda kernel checks it on the device in the same words). */
function checkNoSingletons(groupIds: Tensor): void {
  const values = groupIds._storage('groupIds');
  if (typedArrayKind(values) === null) return;
  const ids = values as Int32Array, sizes = new Map<number, number>();
  for (const id of ids) sizes.set(id, (sizes.get(id) ?? 0) + 1);
  for (let i = 0; i < ids.length; i++)
    if (sizes.get(ids[i]) === 1)
      throw new ArgumentError('groupIds', `Expected at least 2 rows in every group for RLOO but received group id ${ids[i]} with 1 row (row ${i})`);
}

/**
 * RLOO advantages (float32 [R]): each row's reward minus the mean reward of the other rows of its
 * group, A_i = G/(G−1)·(r_i − μ_g) in float64; a group whose rewards are all equal gets A = 0
 * exactly. Groups of one row have no baseline and are refused (ArgumentError on groupIds).
 */
export function rlooAdvantages(rewards: Tensor, groupIds: Tensor): Tensor {
  const r = checkTensor('rewards', rewards, ['float32']);
  checkRank('rewards', r, 1);
  const ids = checkTensor('groupIds', groupIds, ['int32']);
  checkShapeEquals('groupIds', ids, r.shape);
  commonDevice({ rewards: r, groupIds: ids });
  checkFinite('rewards', r);
  checkNoSingletons(ids);
  const out = callNative(() => binding().groupAdvantages(r._storage('rewards'), ids._storage('groupIds'), r.numel, 'rloo', 0, 'unbiased'));
  return Tensor._wrap(out, r.shape, 'float32');
}
