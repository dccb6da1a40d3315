// signal.test.ts: the per-step own-signal figures (lib/optim/signal.ts) on hand-computed inputs.
import { correlation, maskedAbsMean, maskedAbsResidual, maskedRowAbsMean, meanGroupStd, signalStats, suffixLogRatioAbs } from '../../lib/optim/signal';

test('masked means, residuals and row broadcasts', () => {
  // 2 rows x 3 tokens; row 1 has one padding token.
  const mask = [1, 1, 1, 1, 1, 0];
  expect(maskedAbsMean([1, -2, 3, -4, 5, 100], mask)).toBeCloseTo(15 / 5, 12);
  expect(maskedAbsResidual([1.5, 0.5, 1, -1, -2, 9], [1, -1], mask, 3)).toBeCloseTo((0.5 + 0.5 + 0 + 0 + 1) / 5, 12);
  expect(maskedRowAbsMean([2, -1], mask, 3)).toBeCloseTo((3 * 2 + 2 * 1) / 5, 12);
});

test('suffix log-ratio: inclusive reverse sums of ℓold − ℓref over response tokens', () => {
  const old = [-1, -1, -1, -2, -2, 0], ref = [-1.1, -0.8, -1.3, -2, -2.5, 0];
  // d = [.1, -.2, .3 | 0, .5, pad]; S = [.2, .1, .3 | .5, .5]
  expect(suffixLogRatioAbs(old, ref, [1, 1, 1, 1, 1, 0], 3)).toBeCloseTo((0.2 + 0.1 + 0.3 + 0.5 + 0.5) / 5, 6);
  expect(suffixLogRatioAbs(old, undefined, [1, 1, 1, 1, 1, 0], 3)).toBe(0);
});

test('group spread, correlation, and the ratio (NaN without an outcome part)', () => {
  expect(meanGroupStd([0, 1, 1, 1], [0, 0, 1, 1])).toBeCloseTo(0.25, 12);
  expect(correlation([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 12);
  expect(correlation([1, 2, 3, 4], [8, 6, 4, 2])).toBeCloseTo(-1, 12);
  expect(correlation([1, 2, 3, 9], [1, 2, 3, -50], [1, 1, 1, 0])).toBeCloseTo(1, 12);
  expect(correlation([1, 1, 1], [1, 2, 3])).toBe(0);
  expect(signalStats(0.5, 2)).toEqual({ process: 0.5, outcome: 2, ratio: 0.25 });
  expect(Number.isNaN(signalStats(0.5, 0).ratio)).toBe(true);
});
