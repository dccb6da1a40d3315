// process_grpo_advantage.ts: process-supervised GRPO token advantages (DeepSeekMath §4.1.3;
// ALGORITHMS.md §1.6). The step rewards of every row of a group are pooled and normalized,
//   r̃_j = (r_j − mean(R_g)) / (std(R_g) + eps)   (unbiased std, float64; |R_g| ≤ 1 or std = 0 → 0),
// and each token gets the sum of the normalized rewards of the steps of its row that end at or after
// it: A[i,t] = Σ_{j : e_j ≥ t} r̃_j · m[i,t].
import { binding } from '../binding';
import { ArgumentError, ShapeError } from '../errors';
import { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkFinite, checkMask, checkMaskOnHost, checkNumber, checkOffsets, checkOptionsObject, checkRank, checkStepOffsets, checkTensor, checkTensorsObject, checkVector, commonDevice, rowLengths, shapeText } from '../validate';

export interface ProcessGrpoAdvantagesInputs {
  /** float32 [S]: the reward of every step, row after row (finite). */
  stepRewards: Tensor;
  /** int32 [S]: the token index of each step's last token; non-decreasing within a row, in [0, L_i). */
  stepEnds: Tensor;
  /** int32 [R+1]: row i owns steps [stepOffsets[i], stepOffsets[i+1]); from 0 to S, non-decreasing. */
  stepOffsets: Tensor;
  /** int32 [R]: group of each row (any int32 keys). */
  groupIds: Tensor;
  /** float32 or uint8 [R,T], 0 or 1: 1 on generated tokens; L_i is one past a row's last 1. */
  mask: Tensor;
}

export interface ProcessGrpoAdvantagesOptions {
  /** Added to the pooled std (≥ 0). Default 1e-6. */
  eps?: number;
}

function checkStepEnds(ends: Int32Array, offsets: Int32Array, lengths: Int32Array): void {
  for (let i = 0; i + 1 < offsets.length; i++)
    for (let j = offsets[i]; j < offsets[i + 1]; j++) {
      const e = ends[j];
      if (e < 0 || e >= lengths[i])
        throw new ArgumentError('stepEnds', `Expected a token index in [0, ${lengths[i]}) (the length of row ${i}) for stepEnds[${j}] but received ${e}`);
      if (j > offsets[i] && e < ends[j - 1])
        throw new ArgumentError('stepEnds', `Expected non-decreasing stepEnds within row ${i} but received ${e} after ${ends[j - 1]} at index ${j}`);
    }
}

/** Process-GRPO advantages, float32 [R,T], 0 where the mask is 0. */
export function processGrpoAdvantages(inputs: ProcessGrpoAdvantagesInputs, options: ProcessGrpoAdvantagesOptions = {}): Tensor {
  checkTensorsObject('inputs', inputs, ['stepRewards', 'stepEnds', 'stepOffsets', 'groupIds', 'mask']);
  checkOptionsObject('options', options, ['eps']);
  const rewards = checkTensor('stepRewards', inputs.stepRewards, ['float32']);
  checkRank('stepRewards', rewards, 1);
  const S = rewards.numel;
  const ends = checkVector('stepEnds', inputs.stepEnds, 'int32', S, 'S, one per step');
  const { offsets, R } = checkStepOffsets(inputs.stepOffsets);
  const groupIds = checkVector('groupIds', inputs.groupIds, 'int32', R, 'R, one per row');
  const maskTensor = checkTensor('mask', inputs.mask, ['float32', 'uint8']);
  if (maskTensor.shape.length !== 2 || maskTensor.shape[0] !== R)
    throw new ShapeError('mask', `Expected shape [${R}, T] for mask but received ${shapeText(maskTensor.shape)}`);
  const T = maskTensor.shape[1];
  const mask = checkMask(maskTensor, [R, T]);
  const eps = checkNumber('options.eps', (options ?? {}).eps, 1e-6, { min: 0 });
  const device = commonDevice({ stepRewards: rewards, stepEnds: ends, stepOffsets: offsets, groupIds, mask });
  if (device === 'cpu') {
    checkOffsets(offsets, S, 'steps');
    checkMaskOnHost(mask);
    checkStepEnds(ends._storage('stepEnds') as Int32Array, offsets._storage('stepOffsets') as Int32Array, rowLengths(mask, R, T));
    checkFinite('stepRewards', rewards);
  }
  const out = callNative(() => binding().processGrpoAdvantages(
    rewards._storage('stepRewards'), ends._storage('stepEnds'), offsets._storage('stepOffsets'), groupIds._storage('groupIds'),
    mask._storage('mask'), S, R, T, eps));
  return Tensor._wrap(out, [R, T], 'float32');
}
