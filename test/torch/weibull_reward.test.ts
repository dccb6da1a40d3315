// weibull_reward.test.ts (torch): steprl's weibullReward against PSPO* rewards written with PyTorch
// float64 segment ops (every shaping × aggregate, default and custom k/λ/C and minSteps).
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

function makeSteps(rng: Rng, R: number, maxK: number): { scores: Float32Array; offsets: Int32Array } {
  const offsets = new Int32Array(R + 1);
  for (let i = 0; i < R; i++) offsets[i + 1] = offsets[i] + rng.int(0, maxK + 1);
  const scores = new Float32Array(offsets[R]);
  for (let j = 0; j < scores.length; j++) scores[j] = rng.int(0, 15) === 0 ? rng.int(0, 2) : rng.next();
  return { scores, offsets };
}

const CASES = [
  { R: 1, maxK: 4, options: { k: 1.5, lambda: 8, peak: 10.735, minSteps: 2 } },
  { R: 41, maxK: 12, options: { k: 1.5, lambda: 8, peak: 10.735, minSteps: 2 } },
  { R: 1271, maxK: 30, options: { k: 2.2, lambda: 5, peak: 3, minSteps: 0 } },
];

describeTorch('weibullReward', () => {
  test.each(CASES.map((c) => ({ ...c, name: `R=${c.R} maxK=${c.maxK} ${JSON.stringify(c.options)}` })))('$name', ({ R, maxK, options }) => {
    const { scores, offsets } = makeSteps(new Rng(R * 3 + maxK), R, maxK);
    const torch = runTorch('weibull_reward', { scores, offsets }, options);
    for (const shaping of ['weibull', 'pspo_ff', 'linear'] as const)
      for (const aggregate of ['geomean', 'product', 'min', 'last'] as const) {
        const out = ops.weibullReward(Tensor.from(scores, [scores.length]), Tensor.from(offsets, [R + 1]), { ...options, shaping, aggregate });
        expectClose(out.toArray(), torch[`${shaping}_${aggregate}`], { rtol: 2e-5, atol: 1e-30 });
      }
  });
});
