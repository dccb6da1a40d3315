// process_grpo_advantage.test.ts (torch): steprl's processGrpoAdvantages against §1.6 written with
// PyTorch float64 ops (index_add_ statistics, index_put_ scatter, flip/cumsum), scattered groups.
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { makeGroupIds, makeMask } from '../util/rows';
import { describeTorch, runTorch } from './harness';

const EPS = [1e-6, 0, 0.3];

describeTorch('processGrpoAdvantages', () => {
  test.each([[3, 9], [64, 200], [300, 64]])('[%i, %i], ragged steps', (R, T) => {
    const rng = new Rng(R * 17 + T);
    const mask = makeMask(rng, R, T, true);
    const offsets = new Int32Array(R + 1), ends: number[] = [];
    for (let i = 0; i < R; i++) {
      let L = 0;
      for (let t = 0; t < T; t++) if (mask[i * T + t]) L = t + 1;
      const K = L === 0 ? 0 : rng.int(0, 10);
      ends.push(...Array.from({ length: K }, () => rng.int(0, L)).sort((a, b) => a - b));
      offsets[i + 1] = offsets[i] + K;
    }
    const S = ends.length, stepEnds = Int32Array.from(ends);
    const rewards = Float32Array.from({ length: S }, () => (rng.int(0, 3) ? rng.normal() : 1));
    const groupIds = makeGroupIds(rng, R, [1, 3, 8]);
    const torch = runTorch('process_grpo_advantage', { rewards, ends: stepEnds, offsets, groupIds, mask }, { T, eps: EPS });
    EPS.forEach((eps, k) => {
      const out = ops.processGrpoAdvantages({ stepRewards: Tensor.from(rewards, [S]), stepEnds: Tensor.from(stepEnds, [S]),
        stepOffsets: Tensor.from(offsets, [R + 1]), groupIds: Tensor.from(groupIds, [R]), mask: Tensor.from(mask, [R, T]) }, { eps });
      expectClose(out.toArray(), torch[`eps${k}`], { rtol: 1e-5, atol: 1e-5 });
    });
  });
});
