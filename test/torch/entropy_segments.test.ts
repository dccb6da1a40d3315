// entropy_segments.test.ts (torch): steprl's entropySegments against a torch implementation (stable
// sort for the top K, searchsorted for ids) whose compat filter is the reference code's loop as
// written in srpocode's naive2.py.
import { Tensor, ops } from '../../lib';
import { Rng } from '../util/random';
import { makeMask } from '../util/rows';
import { describeTorch, runTorch } from './harness';

const CONFIGS = [
  { maxBranches: 5, minGap: 10, compat: false }, { maxBranches: 5, minGap: 10, compat: true },
  { maxBranches: 9, minGap: 3, compat: false }, { maxBranches: 9, minGap: 3, compat: true }, { maxBranches: 2, minGap: 1, compat: true },
];

describeTorch('entropySegments', () => {
  test.each([[3, 8], [30, 120], [12, 1500]])('[%i, %i], clean and reference-compat filters', (R, T) => {
    const rng = new Rng(R * 11 + T);
    for (const levels of [3, 1e6]) {
      const entropy = Float32Array.from({ length: R * T }, () => Math.floor(rng.next() * levels) / levels);
      const mask = makeMask(rng, R, T, true);
      const torch = runTorch('entropy_segments', { entropy, mask }, { R, T, configs: CONFIGS });
      CONFIGS.forEach((o, k) => {
        const out = ops.entropySegments(Tensor.from(entropy, [R, T]), Tensor.from(mask, [R, T]), o);
        expect(Array.from(out.toArray())).toEqual(Array.from(torch[`config${k}`]));
      });
    }
  });
});
