// rl_baselines.bench.mjs: the outcome-RL baselines' kernels (docs/ALGORITHMS-baselines.md) on the
// RL-sized batch of rl_losses.bench.mjs [R=512, T=1024]: policyLoss in its gspo, gspo-token and
// cispo modes (no KL term), RLOO's leave-one-out advantages, and REINFORCE++-baseline's advantages
// (group baseline, KL folded into the reward, returns, batch normalization). PyTorch rows compute
// the same formulas (the losses with autograd for the gradient).
import { Rng, assertClose, reference, steprl } from './common.mjs';

const { Tensor, ops } = steprl;

export function register(suite, { quick }) {
  const R = quick ? 64 : 512, T = 1024, N = R * T;
  const rng = new Rng(3);
  const lp = rng.floats(N, 0.3).map((x) => x - 1.5);
  const old = lp.map((x) => x + 0.05 * rng.normal());
  const ref = lp.map((x) => x + 0.1 * rng.normal());
  const adv = rng.floats(N);
  const mask = new Float32Array(N);
  for (let r = 0; r < R; r++) mask.fill(1, r * T, r * T + rng.int(T / 4, T + 1));
  const t = (data) => Tensor.from(data, [R, T]);
  const inputs = { logprobs: t(lp), oldLogprobs: t(old), advantages: t(adv), mask: t(mask) };

  // Correctness first, on a few rows: each mode against the float64 reference.
  const rows4 = 4 * T, small = { R: 4, T, logprobs: lp.subarray(0, rows4), oldLogprobs: old.subarray(0, rows4), advantages: adv.subarray(0, rows4), mask: mask.subarray(0, rows4) };
  const smallInputs = { logprobs: Tensor.from(small.logprobs, [4, T]), oldLogprobs: Tensor.from(small.oldLogprobs, [4, T]), advantages: Tensor.from(small.advantages, [4, T]), mask: Tensor.from(small.mask, [4, T]) };
  // Bytes per token: ℓ, ℓold, A, mask in, dℓ out (20 B); gspo reads ℓ, ℓold once more for s_i (+8),
  // and gspo adds the row's shared term to dℓ (+8).
  const modes = [['gspo', 36], ['gspo-token', 28], ['cispo', 20]];
  for (const [mode, bytes] of modes) {
    const options = { mode, aggregation: mode === 'cispo' ? 'token-mean' : 'seq-mean-token-mean' };
    const check = ops.policyLoss(smallInputs, options);
    assertClose(`policy_loss ${mode}`, check.dlogprobs.toArray(), reference('policy_loss').policyLossReference(small, options).dlogprobs, 2e-5, 1e-9);
    suite.add({
      name: `policy_loss/${mode}/cpu/f32/${R}x${T}`, bytes: bytes * N,
      run: () => ops.policyLoss(inputs, options),
      dispose: (r) => r.dlogprobs.dispose(),
      torch: { op: `policy_loss_${mode.replace('-', '_')}`, R, T },
    });
  }

  const G = 8, groups = quick ? 256 : 4096, rows = G * groups;
  const rewards = Float32Array.from({ length: rows }, () => (rng.next() < 0.4 ? 1 : 0));
  const ids = Int32Array.from({ length: rows }, (_, i) => Math.floor(i / G));
  const rewardsT = Tensor.from(rewards, [rows]), idsT = Tensor.from(ids, [rows]);
  assertClose('rloo', ops.rlooAdvantages(rewardsT, idsT).toArray(), reference('group_advantage').rlooAdvantagesReference(rewards, ids), 2e-5, 1e-6);
  suite.add({
    name: `group_advantage/rloo/cpu/${groups}x${G}`, bytes: 12 * rows,
    run: () => ops.rlooAdvantages(rewardsT, idsT), dispose: (a) => a.dispose(),
    torch: { op: 'rloo', groups, G },
  });

  const rowRewards = Tensor.from(Float32Array.from({ length: R }, () => (rng.next() < 0.4 ? 1 : 0)), [R]);
  const rowIds = Tensor.from(Int32Array.from({ length: R }, (_, i) => Math.floor(i / G)), [R]);
  const reinforceInputs = { rewards: rowRewards, mask: inputs.mask, groupIds: rowIds, oldLogprobs: inputs.oldLogprobs, refLogprobs: t(ref) };
  // Bytes per token: ℓold, ℓref, mask in, advantages and returns out (20 B), then returns, mask in and advantages out again (12 B).
  suite.add({
    name: `reinforce_advantage/baseline+kl/cpu/f32/${R}x${T}`, bytes: 32 * N,
    run: () => ops.reinforceAdvantages(reinforceInputs, { klCoef: 0.01 }),
    dispose: (r) => { r.advantages.dispose(); r.returns.dispose(); },
    torch: { op: 'reinforce_pp', R, T, G },
  });
}
