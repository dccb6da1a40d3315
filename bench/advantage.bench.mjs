// advantage.bench.mjs: the advantage and process-reward families on one RL batch, R = 512 rows
// (64 prompts × G = 8) of T = 1024 response tokens (lengths T/4..T), 8 steps a row: GRPO's
// groupAdvantages, PPO's gae (with whitening), PRL's prlAdvantages, PRPO's prpoAdvantages and its
// entropySegments, process-GRPO's processGrpoAdvantages, PSPO's weibullReward and the PRM's
// prmScore. Each is checked against its float64 reference on the first two groups before timing.
// PyTorch rows (torch_bench.py) compute the same formulas in float32 on the same shapes: GAE with
// TRL's reverse loop over T, the others vectorized (index_add, flip/cumsum, cummin, topk).
import { Rng, assertClose, reference, steprl } from './common.mjs';

const { Tensor, ops } = steprl;

export function register(suite, { quick }) {
  const G = 8, R = quick ? 64 : 512, T = 1024, N = R * T, K = 8, S = R * K;
  const rng = new Rng(13);
  const mask = new Float32Array(N), lengths = new Int32Array(R);
  for (let r = 0; r < R; r++) {
    lengths[r] = rng.int(T / 4, T + 1);
    mask.fill(1, r * T, r * T + lengths[r]);
  }
  const groupIds = Int32Array.from({ length: R }, (_, r) => Math.floor(r / G));
  const rewards = Float32Array.from({ length: R }, () => (rng.next() < 0.4 ? 1 : 0));
  const old = rng.floats(N, 0.3).map((x) => x - 1.5);
  const ref = old.map((x) => x + 0.1 * rng.normal());
  const values = rng.floats(N, 0.5);
  const tokenRewards = new Float32Array(N);
  for (let r = 0; r < R; r++) tokenRewards[r * T + lengths[r] - 1] = rewards[r];
  const entropy = Float32Array.from({ length: N }, () => 3 * rng.next());
  const tokenScores = Float32Array.from({ length: N }, () => rng.next());
  // K steps a row: K − 1 distinct random ends before the row's last token, then L − 1.
  const stepEnds = new Int32Array(S), stepEndMask = new Uint8Array(N);
  for (let r = 0; r < R; r++) {
    const ends = new Set();
    while (ends.size < K - 1) ends.add(rng.int(0, lengths[r] - 1));
    [...ends, lengths[r] - 1].sort((a, b) => a - b).forEach((e, k) => {
      stepEnds[r * K + k] = e;
      stepEndMask[r * T + e] = 1;
    });
  }
  const stepOffsets = Int32Array.from({ length: R + 1 }, (_, i) => i * K);
  const stepScores = Float32Array.from({ length: S }, () => 0.05 + 0.9 * rng.next());
  const stepRewards = Float32Array.from({ length: S }, () => (rng.next() < 0.6 ? 1 : 0));
  const outcome = ops.groupAdvantages(Tensor.from(rewards, [R]), Tensor.from(groupIds, [R])).toArray();

  // The first two groups as a batch of their own, for the correctness check before timing.
  const h = 2 * G, head = (a, width) => a.slice(0, h * width);
  const inputs = (rows) => {
    const n = rows * T, sub = (a) => a.subarray(0, n);
    return {
      mask: Tensor.from(sub(mask), [rows, T]), old: Tensor.from(sub(old), [rows, T]), ref: Tensor.from(sub(ref), [rows, T]),
      values: Tensor.from(sub(values), [rows, T]), tokenRewards: Tensor.from(sub(tokenRewards), [rows, T]),
      entropy: Tensor.from(sub(entropy), [rows, T]), tokenScores: Tensor.from(sub(tokenScores), [rows, T]),
      stepEndMask: Tensor.from(sub(stepEndMask), [rows, T]), rewards: Tensor.from(rewards.subarray(0, rows), [rows]),
      groupIds: Tensor.from(groupIds.subarray(0, rows), [rows]), outcome: Tensor.from(outcome.subarray(0, rows), [rows]),
      stepEnds: Tensor.from(stepEnds.subarray(0, rows * K), [rows * K]), stepOffsets: Tensor.from(stepOffsets.subarray(0, rows + 1), [rows + 1]),
      stepScores: Tensor.from(stepScores.subarray(0, rows * K), [rows * K]), stepRewards: Tensor.from(stepRewards.subarray(0, rows * K), [rows * K]),
    };
  };
  const calls = (x) => ({
    group: () => ops.groupAdvantages(x.rewards, x.groupIds),
    gae: () => ops.gae({ rewards: x.tokenRewards, values: x.values, mask: x.mask }),
    prl: () => ops.prlAdvantages({ outcomeAdvantages: x.outcome, oldLogprobs: x.old, refLogprobs: x.ref, mask: x.mask, stepEnds: x.stepEndMask }),
    prpo: () => ops.prpoAdvantages({ tokenScores: x.tokenScores, rewards: x.rewards, groupIds: x.groupIds, mask: x.mask }),
    segments: () => ops.entropySegments(x.entropy, x.mask),
    process: () => ops.processGrpoAdvantages({ stepRewards: x.stepRewards, stepEnds: x.stepEnds, stepOffsets: x.stepOffsets, groupIds: x.groupIds, mask: x.mask }),
    weibull: () => ops.weibullReward(x.stepScores, x.stepOffsets),
    prm: () => ops.prmScore(x.stepScores, x.stepOffsets),
  });

  const small = calls(inputs(h));
  const offsetsHead = stepOffsets.subarray(0, h + 1);
  assertClose('group_advantage', small.group().toArray(), reference('group_advantage').groupAdvantagesReference(head(rewards, 1), head(groupIds, 1)), 2e-5, 1e-6);
  const gaeRef = reference('gae').gaeReference(head(tokenRewards, T), head(values, T), head(mask, T), h, T);
  const gaeOut = small.gae();
  assertClose('gae advantages', gaeOut.advantages.toArray(), gaeRef.advantages, 1e-4, 1e-3);
  assertClose('gae returns', gaeOut.returns.toArray(), gaeRef.returns, 1e-4, 1e-3);
  assertClose('prl_advantage', small.prl().toArray(),
    reference('prl_advantage').prlAdvantagesReference(head(outcome, 1), head(old, T), head(ref, T), head(mask, T), head(stepEndMask, T), h, T), 2e-5, 1e-3);
  assertClose('prpo_advantage', small.prpo().toArray(),
    reference('prpo_advantage').prpoAdvantagesReference(head(tokenScores, T), head(rewards, 1), head(groupIds, 1), head(mask, T), h, T), 2e-5, 1e-3);
  assertClose('entropy_segments', small.segments().toArray(), reference('entropy_segments').entropySegmentsReference(head(entropy, T), head(mask, T), h, T), 0, 1);
  assertClose('process_grpo_advantage', small.process().toArray(),
    reference('process_grpo_advantage').processGrpoAdvantagesReference(head(stepRewards, K), head(stepEnds, K), offsetsHead, head(groupIds, 1), head(mask, T), T), 2e-5, 1e-3);
  assertClose('weibull_reward', small.weibull().toArray(), reference('weibull_reward').weibullRewardReference(head(stepScores, K), offsetsHead), 2e-5, 1e-6);
  assertClose('prm_score', small.prm().toArray(), reference('prm_score').prmScoreReference(head(stepScores, K), offsetsHead), 2e-5, 1e-6);

  const run = calls(inputs(R));
  const shape = `${R}x${T}`, job = { R, T, G, K };
  const one = (t) => t.dispose();
  suite.add({ name: `group_advantage/std/cpu/${R / G}x${G}`, bytes: 12 * R, run: run.group, dispose: one, torch: { op: 'group_advantage', groups: R / G, G } });
  // gae: reads rewards, values, mask; writes Â and returns; whitening reads Â once more and rewrites it.
  suite.add({
    name: `gae/whiten/cpu/${shape}`, bytes: 28 * N, run: run.gae, dispose: (o) => { o.advantages.dispose(); o.returns.dispose(); },
    torch: { op: 'gae', ...job },
  });
  suite.add({ name: `prl_advantage/step/cpu/${shape}`, bytes: 17 * N, run: run.prl, dispose: one, torch: { op: 'prl_advantage', ...job } });
  suite.add({ name: `prpo_advantage/fixed/cpu/${shape}`, bytes: 12 * N, run: run.prpo, dispose: one, torch: { op: 'prpo_advantage', ...job } });
  suite.add({ name: `entropy_segments/K5/cpu/${shape}`, bytes: 12 * N, run: run.segments, dispose: one, torch: { op: 'entropy_segments', ...job } });
  suite.add({
    name: `process_grpo_advantage/cpu/${shape}xK${K}`, bytes: 8 * N + 8 * S, run: run.process, dispose: one,
    torch: { op: 'process_grpo_advantage', ...job },
  });
  suite.add({ name: `weibull_reward/geomean/cpu/${R}xK${K}`, bytes: 4 * S + 8 * R, run: run.weibull, dispose: one, torch: { op: 'weibull_reward', ...job } });
  suite.add({ name: `prm_score/product/cpu/${R}xK${K}`, bytes: 4 * S + 8 * R, run: run.prm, dispose: one, torch: { op: 'prm_score', ...job } });
}

