// policy_loss.test.ts (torch): steprl's policyLoss against the loss written in PyTorch float64
// (torch.clamp/exp/maximum/minimum/where, dlogprobs by autograd, clipped tokens found by autograd
// of the surrogate alone), over each aggregation, estimator, dual clip and micro-batch options.
import { Tensor, ops } from '../../lib';
import { MODE_CLIP_DEFAULTS, type PolicyLossOptions } from '../../lib/ops/policy_loss';
import { makePolicyInputs, makeSequenceInputs, policyLossReference } from '../reference/policy_loss';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

const CASES: { R: number; T: number; options: PolicyLossOptions; ref: boolean; spread?: number; sequence?: boolean }[] = [
  { R: 1, T: 1, options: { aggregation: 'seq-mean-token-sum-norm', maxLength: 4 }, ref: false },
  { R: 7, T: 33, options: { aggregation: 'seq-mean-token-sum', klCoef: 0.1, klEstimator: 'k2', lossScale: 0.5 }, ref: true },
  { R: 41, T: 1271, options: { klCoef: 0.04 }, ref: true },
  { R: 41, T: 1271, options: { klCoef: 0.2, klEstimator: 'k3+', tokenCount: 40000, rowCount: 100 }, ref: true },
  { R: 41, T: 1271, options: { aggregation: 'seq-mean-token-mean', klCoef: 0.1, klEstimator: 'abs', clipHigh: 0.28, dualClip: 3 }, ref: true, spread: 1.5 },
  { R: 256, T: 1024, options: { aggregation: 'seq-mean-token-mean', klCoef: 0.04, klEstimator: 'k1', dualClip: 3 }, ref: true },
  // GSPO, GSPO-token, CISPO: ratios on and far outside the clip range, empty and one-token rows
  { R: 1, T: 1, options: { mode: 'gspo' }, ref: false, sequence: true },
  { R: 41, T: 1271, options: { mode: 'gspo', aggregation: 'seq-mean-token-mean' }, ref: false, sequence: true },
  { R: 41, T: 1271, options: { mode: 'gspo', klCoef: 0.04, clipLow: 0.2, clipHigh: 0.2 }, ref: true, sequence: true },
  { R: 48, T: 1, options: { mode: 'gspo', aggregation: 'seq-mean-token-sum' }, ref: false, sequence: true },
  { R: 41, T: 1271, options: { mode: 'gspo-token', aggregation: 'seq-mean-token-mean', klCoef: 0.1, klEstimator: 'k2' }, ref: true, sequence: true },
  { R: 256, T: 1024, options: { mode: 'gspo-token', lossScale: 0.5 }, ref: false, sequence: true },
  { R: 41, T: 1271, options: { mode: 'cispo' }, ref: false, spread: 1.5 },
  { R: 7, T: 33, options: { mode: 'cispo', clipLow: 0.2, clipHigh: 0.2, klCoef: 0.04, aggregation: 'seq-mean-token-mean' }, ref: true },
  { R: 256, T: 1024, options: { mode: 'cispo', aggregation: 'seq-mean-token-sum-norm', maxLength: 2048 }, ref: false, spread: 0.5 },
];

describeTorch('policyLoss', () => {
  test.each(CASES.map((c, i) => ({ ...c, name: `${c.R}x${c.T} ${JSON.stringify(c.options)}`, seed: i })))('$name', ({ R, T, options, ref, spread, sequence, seed }) => {
    const c = (sequence ? makeSequenceInputs : makePolicyInputs)(new Rng(1000 + seed), R, T, { emptyRows: true, ratioSpread: spread });
    if (!ref) c.refLogprobs = undefined;
    const shape = [R, T];
    const out = ops.policyLoss({
      logprobs: Tensor.from(c.logprobs, shape), oldLogprobs: Tensor.from(c.oldLogprobs, shape),
      refLogprobs: c.refLogprobs ? Tensor.from(c.refLogprobs, shape) : undefined,
      advantages: Tensor.from(c.advantages, shape), mask: Tensor.from(c.mask, shape),
    }, options);
    const inputs: Record<string, Float32Array> = {
      logprobs: c.logprobs, oldLogprobs: c.oldLogprobs, advantages: c.advantages, mask: c.mask as Float32Array,
    };
    if (c.refLogprobs) inputs.refLogprobs = c.refLogprobs;
    const torch = runTorch('policy_loss', inputs, {
      R, T, clipLow: MODE_CLIP_DEFAULTS[options.mode ?? 'clip'][0], clipHigh: MODE_CLIP_DEFAULTS[options.mode ?? 'clip'][1], klCoef: 0, lossScale: 1, klEstimator: 'k3', aggregation: 'token-mean', ...options,
    });
    // Signed sums and gψ + β·∂κ cancel: compare relative to the magnitude of their terms.
    const scales = policyLossReference(c, options);
    expectClose([out.loss], torch.loss, { rtol: 2e-5, atol: 1e-30, scale: [scales.lossScale] });
    expectClose([out.pgLoss], torch.pgLoss, { rtol: 2e-5, atol: 1e-30, scale: [scales.pgLossScale] });
    expectClose([out.klLoss], torch.klLoss, { rtol: 2e-5, atol: 1e-30, scale: [scales.klLossScale] });
    expectClose([out.kl], torch.kl, { rtol: 2e-5, atol: 1e-30, scale: [scales.klScale] });
    expectClose([out.approxKl], torch.approxKl, { rtol: 2e-5, atol: 1e-30, scale: [scales.approxKlScale] });
    expect(out.clipFraction).toBeCloseTo(torch.clipFraction[0], 12);
    expectClose(out.dlogprobs.toArray(), torch.dlogprobs, { rtol: 2e-5, atol: 1e-30, scale: scales.dlogprobsScale });
  });
});
