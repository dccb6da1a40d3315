// prm_score.test.ts (torch): steprl's prmScore against PRM scores written with PyTorch float64
// segment ops (index_add_ of logs, scatter_reduce amin, a gather for the last step), K = 0 → NaN.
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

describeTorch('prmScore', () => {
  test.each([1, 41, 1271])('R = %i, every aggregate', (R) => {
    const rng = new Rng(R);
    const offsets = new Int32Array(R + 1);
    for (let i = 0; i < R; i++) offsets[i + 1] = offsets[i] + rng.int(0, 16);
    const scores = Float32Array.from({ length: offsets[R] }, () => (rng.int(0, 15) === 0 ? rng.int(0, 2) : rng.next()));
    const torch = runTorch('prm_score', { scores, offsets });
    for (const aggregate of ['product', 'min', 'geomean', 'last'] as const) {
      const out = ops.prmScore(Tensor.from(scores, [scores.length]), Tensor.from(offsets, [R + 1]), { aggregate });
      expectClose(out.toArray(), torch[aggregate], { rtol: 1e-5, atol: 1e-30 });
    }
  });
});
