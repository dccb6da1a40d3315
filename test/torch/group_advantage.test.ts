// group_advantage.test.ts (torch): steprl's groupAdvantages against GRPO advantages written with
// PyTorch float64 segment ops (unique/index_add_/scatter_reduce), for both scales and std kinds.
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

/** Scattered groups of sizes 1..12 with binary, continuous and constant rewards. */
function makeBatch(rng: Rng, R: number): { rewards: Float32Array; ids: Int32Array } {
  const rewards = new Float32Array(R), ids = new Int32Array(R);
  for (let row = 0, g = 0; row < R; g++) {
    const size = Math.min(rng.int(1, 13), R - row), id = rng.int(-2e9, 2e9), kind = rng.int(0, 3);
    for (let k = 0; k < size; k++, row++) {
      ids[row] = id;
      rewards[row] = kind === 0 ? rng.int(0, 2) : kind === 1 ? rng.normal() * 2 : 0.5;
    }
  }
  for (let i = R - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [rewards[i], rewards[j]] = [rewards[j], rewards[i]];
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return { rewards, ids };
}

describeTorch('groupAdvantages', () => {
  test.each([1, 4, 41, 1271, 8192])('R = %i, both scales and std kinds', (R) => {
    const { rewards, ids } = makeBatch(new Rng(R), R);
    for (const eps of [1e-6, 0.01]) {
      const torch = runTorch('group_advantage', { rewards, groupIds: ids }, { eps });
      for (const scale of ['std', 'none'] as const)
        for (const std of ['unbiased', 'population'] as const) {
          const out = ops.groupAdvantages(Tensor.from(rewards, [R]), Tensor.from(ids, [R]), { scale, std, eps });
          expectClose(out.toArray(), torch[`${scale}_${std}`], { rtol: 2e-5, atol: 1e-30 });
        }
    }
  });
});

describeTorch('rlooAdvantages', () => {
  test.each([2, 41, 1271, 8192])('R = %i, groups of 2..12 rows', (R) => {
    const { rewards, ids } = makeBatch(new Rng(R + 7), R);
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (let i = 0; i < R; i++) if (counts.get(ids[i]) === 1) ids[i] = ids[i === 0 ? 1 : i - 1];  // no singletons
    const torch = runTorch('group_advantage', { rewards, groupIds: ids }, { eps: 1e-6 });
    const out = ops.rlooAdvantages(Tensor.from(rewards, [R]), Tensor.from(ids, [R]));
    // all-equal groups: steprl gives 0 exactly, torch's (S − r)/(G − 1) leaves ~1e-16
    expectClose(out.toArray(), torch.rloo, { rtol: 2e-5, atol: 1e-6 });
  });
});
