// prm_score.ts: solution scores from per-step PRM probabilities (Lightman et al. 2023,
// "Let's Verify Step by Step"; ALGORITHMS.md §2):
//   product S = Π p_k (the paper's; computed as exp Σ log max(p, 1e-12)),  geomean exp(mean log p),
//   min, or last (p_K). A row without steps gets NaN: the caller decides (PSPO uses 0).
import { binding } from '../binding';
import { STEP_AGGREGATE_NAMES, type StepAggregateName } from '../native';
import { ArgumentError, describe } from '../errors';
import { Tensor, typedArrayKind } from '../tensor';
import { callNative } from '../native_call';
import { checkEnum, checkOffsets, checkOptionsObject, checkRank, checkStepOffsets, checkTensor, commonDevice } from '../validate';

export interface PrmScoreOptions {
  /** How a row's step scores become one: 'product' (default), 'min', 'geomean' or 'last'. */
  aggregate?: StepAggregateName;
}

/**
 * One score per row (float32 [R]) from step scores (float32 [S], each in [0, 1]) laid out row after
 * row: row i owns stepScores[stepOffsets[i] .. stepOffsets[i+1]) (int32 [R+1], from 0 to S).
 */
export function prmScore(stepScores: Tensor, stepOffsets: Tensor, options: PrmScoreOptions = {}): Tensor {
  checkOptionsObject('options', options, ['aggregate']);
  const scores = checkTensor('stepScores', stepScores, ['float32']);
  checkRank('stepScores', scores, 1);
  const { offsets, R } = checkStepOffsets(stepOffsets);
  commonDevice({ stepScores: scores, stepOffsets: offsets });
  const aggregate = checkEnum('options.aggregate', (options ?? {}).aggregate, STEP_AGGREGATE_NAMES, 'product');
  const S = scores.numel;
  checkOffsets(offsets, S, 'step scores');
  const data = scores._storage('stepScores');
  if (typedArrayKind(data) !== null) {
    const p = data as Float32Array;
    for (let i = 0; i < p.length; i++)
      if (!(p[i] >= 0 && p[i] <= 1))
        throw new ArgumentError('stepScores', `Expected a number in [0, 1] for every element of stepScores but received ${describe(p[i])} at index ${i}`);
  }
  const out = callNative(() => binding().prmScore(data, offsets._storage('stepOffsets'), S, R, aggregate));
  return Tensor._wrap(out, [R], 'float32');
}
