// rl_losses.bench.mjs: the per-token RL kernels on an RL-sized batch [R=512, T=1024] (524k
// tokens): klPenalty (reads ℓ, ℓref; writes kl, dkl), policyLoss (reads ℓ, ℓold, ℓref, A, mask;
// writes dlogprobs) and valueLoss (reads V, Vold, G, mask; writes dV), plus the per-row groupAdvantages and weibullReward. PyTorch rows compute the
// same formulas (policy loss with autograd for the gradient).
import { Rng, assertClose, reference, steprl } from './common.mjs';

const { Tensor, ops } = steprl;

export function register(suite, { quick }) {
  const R = quick ? 64 : 512, T = 1024, N = R * T;
  const rng = new Rng(2);
  const lp = rng.floats(N, 0.3).map((x) => x - 1.5);
  const old = lp.map((x) => x + 0.05 * rng.normal());
  const ref = lp.map((x) => x + 0.1 * rng.normal());
  const adv = rng.floats(N);
  const mask = new Float32Array(N);
  for (let r = 0; r < R; r++) {
    const length = rng.int(T / 4, T + 1);
    mask.fill(1, r * T, r * T + length);
  }
  const t = (data) => Tensor.from(data, [R, T]);
  const inputs = { logprobs: t(lp), oldLogprobs: t(old), refLogprobs: t(ref), advantages: t(adv), mask: t(mask) };

  const head = 4 * T;
  const kl = ops.klPenalty(Tensor.from(lp.subarray(0, head), [4, T]), Tensor.from(ref.subarray(0, head), [4, T]), { estimator: 'k3' });
  const klRef = reference('kl_penalty').klPenaltyReference(lp.subarray(0, head), ref.subarray(0, head), 'k3');
  assertClose('kl_penalty', kl.kl.toArray(), klRef.kl, 2e-5, 1e-6);

  suite.add({
    name: `kl_penalty/k3/cpu/f32/${R}x${T}`, bytes: 16 * N,
    run: () => ops.klPenalty(inputs.logprobs, inputs.refLogprobs, { estimator: 'k3' }),
    dispose: (r) => { r.kl.dispose(); r.dkl.dispose(); },
    torch: { op: 'kl_k3', R, T },
  });
  suite.add({
    name: `policy_loss/token-mean+k3/cpu/f32/${R}x${T}`, bytes: 24 * N,
    run: () => ops.policyLoss(inputs, { klCoef: 0.001, klEstimator: 'k3' }),
    dispose: (r) => r.dlogprobs.dispose(),
    torch: { op: 'policy_loss', R, T },
  });
  const oldV = adv.map((x) => x + 0.1 * rng.normal());
  const vfInputs = { values: inputs.advantages, oldValues: t(oldV), returns: inputs.logprobs, mask: inputs.mask };
  const four = (data) => Tensor.from(data.subarray(0, head), [4, T]);
  const vf = ops.valueLoss({ values: four(adv), oldValues: four(oldV), returns: four(lp), mask: four(mask) }, { tokenCount: 1000 });
  const vfRef = reference('value_loss').valueLossReference({
    values: adv.subarray(0, head), oldValues: oldV.subarray(0, head), returns: lp.subarray(0, head), mask: mask.subarray(0, head), R: 4, T, W: T, offset: 0,
  }, 0.2, 0.1, 1000);
  assertClose('value_loss', vf.dvalues.toArray(), vfRef.dvalues, 1e-6, 1e-12);
  suite.add({
    name: `value_loss/clip/cpu/f32/${R}x${T}`, bytes: 20 * N,
    run: () => ops.valueLoss(vfInputs, { tokenCount: N }),
    dispose: (r) => r.dvalues.dispose(),
  });

  const G = 8, groups = quick ? 256 : 4096, rows = G * groups;
  const rewards = Tensor.from(Float32Array.from({ length: rows }, () => (rng.next() < 0.4 ? 1 : 0)), [rows]);
  const ids = Tensor.from(Int32Array.from({ length: rows }, (_, i) => Math.floor(i / G)), [rows]);
  suite.add({
    name: `group_advantage/std/cpu/${groups}x${G}`, bytes: 12 * rows,
    run: () => ops.groupAdvantages(rewards, ids), dispose: (a) => a.dispose(),
    torch: { op: 'group_advantage', groups, G },
  });
  const steps = 6, stepScores = Tensor.from(Float32Array.from({ length: rows * steps }, () => 0.05 + 0.9 * rng.next()), [rows * steps]);
  const offsets = Tensor.from(Int32Array.from({ length: rows + 1 }, (_, i) => i * steps), [rows + 1]);
  suite.add({
    name: `weibull_reward/geomean/cpu/${rows}x${steps}`, bytes: 4 * rows * steps + 8 * rows,
    run: () => ops.weibullReward(stepScores, offsets), dispose: (r) => r.dispose(),
  });
}
