// prl_advantage.test.ts (torch): steprl's prlAdvantages against PRL advantages written with PyTorch
// float64 tensor ops (flip/cumsum, a reversed cummin for the next step end, gather), every mode ×
// suffixStart, right-padded and holed masks.
import { Tensor, ops } from '../../lib';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { makeMask } from '../util/rows';
import { describeTorch, runTorch } from './harness';

const CONFIGS = [
  { eta: 200, mode: 'step', suffixStart: 'inclusive' }, { eta: 100, mode: 'step', suffixStart: 'next_step' },
  { eta: 2, mode: 'token', suffixStart: 'inclusive' }, { eta: 0.5, mode: 'token', suffixStart: 'next_step' },
] as const;

describeTorch('prlAdvantages', () => {
  test.each([[1, 5], [9, 63], [41, 401], [16, 2048]])('[%i, %i], every mode and suffix start', (R, T) => {
    const rng = new Rng(R + T);
    for (const holes of [false, true]) {
      const old = rng.floats(R * T, 0.7), ref = rng.floats(R * T, 0.7), outcome = rng.floats(R), mask = makeMask(rng, R, T, holes);
      const stepEnds = Uint8Array.from({ length: R * T }, () => (rng.int(0, 20) === 0 ? 1 : 0));
      const torch = runTorch('prl_advantage', { outcome, old, ref, mask, stepEnds }, { R, T, configs: CONFIGS });
      CONFIGS.forEach((o, k) => {
        const out = ops.prlAdvantages({ outcomeAdvantages: Tensor.from(outcome, [R]), oldLogprobs: Tensor.from(old, [R, T]),
          refLogprobs: Tensor.from(ref, [R, T]), mask: Tensor.from(mask, [R, T]), stepEnds: Tensor.from(stepEnds, [R, T], { dtype: 'uint8' }) }, o);
        expectClose(out.toArray(), torch[`config${k}`], { rtol: 1e-5, atol: 1e-5 });
      });
    }
  });
});
