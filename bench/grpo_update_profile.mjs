// grpo_update_profile.mjs: where the Trainer's update phase spends its time (lib/optim/update.ts at
// grpo_step.bench.mjs's full shape: 8 prompts x 8 rollouts, 32-token prompts + 128 new tokens,
// microBatchRows 8 -> 8 micro-batches of 8 x 160 tokens, one AdamW step, GRPO with the KL term),
// against the RL model step (rl_step.bench.mjs's fused step, 4 x 256 tokens), per op family and per
// piece of non-op code, in CPU seconds (both threads summed, process.cpuUsage) and minor page faults
// (process.resourceUsage().minorPageFault), with wall seconds beside them (cpu/wall: the threads kept
// busy, which another process's load also lowers). Times are exclusive: a wrapped call's own time, less the
// wrapped calls it makes (TinyLM.hidden's row is its JS, layout and activation handling, not its ops).
//   node bench/grpo_update_profile.mjs update|model [layers=4] [measured=1]
//   (STEPRL_PROFILE_TWOPASS=1: the update with the two-pass loss, for comparison.)
// update: a synthetic rollout batch (the Trainer's RolloutBatch fields the update reads) straight
//   into updatePolicy with the Trainer's AdamW settings; one cold update (first allocations, first
//   touch of AdamW's moments and the activations) is reported on its own, then `measured` warm ones.
// model: the fused step of bench/rl_step_profile.mjs (one warm-up, then `measured` steps).
// Rows are per 1k model tokens (tokens through the layers: update 64 x 160 = 10240, model 1024); the
// lm_head rows see 8192 response tokens in the update, 1024 in the model step.
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { Rng, cpuLedger, root, steprl } from './common.mjs';
import { D512, QWEN25_05B } from './rl_step.bench.mjs';

const require = createRequire(import.meta.url);
const { Tensor, ops } = steprl;
const mode = process.argv[2] ?? 'update', layers = Number(process.argv[3] ?? 4), measured = Number(process.argv[4] ?? 1);
if (mode !== 'update' && mode !== 'model') throw new Error(`mode: expected 'update' or 'model' but received ${mode}`);
// STEPRL_PROFILE_VOCAB=n: a smaller vocabulary, to check the script quickly (not for figures).
// STEPRL_PROFILE_SHAPE=d512: grpo_step.bench.mjs's d512 shape instead (d=512, ffn 1408, 8 / 2 heads,
// 64 new tokens, microBatchRows 64: one micro-batch of 64 x 96 tokens); `layers` defaults to its 6.
const d512 = process.env.STEPRL_PROFILE_SHAPE === 'd512';
if (process.env.STEPRL_PROFILE_SHAPE !== undefined && !d512) throw new Error(`STEPRL_PROFILE_SHAPE: expected 'd512' but received ${process.env.STEPRL_PROFILE_SHAPE}`);
const base = d512 ? D512 : QWEN25_05B;
const config = { ...base, numLayers: process.argv[3] === undefined ? base.numLayers : layers, vocabSize: Number(process.env.STEPRL_PROFILE_VOCAB ?? base.vocabSize) };
const V = config.vocabSize;

// Exclusive accounting (common.mjs cpuLedger): each call's elapsed CPU time and page faults go to
// its row less what its wrapped callees took. The update is one sequential chain of awaits (no two
// wrapped calls run interleaved), so an async call's elapsed time is its own chain's.
const { stats, charged, wrap: wrapRow, cpuNow, faultsNow } = cpuLedger({ nested: 'exclusive' });
function wrap(mod, name, row) { wrapRow(mod, name, row ?? name); }
const dist = (p) => require(path.join(root, 'dist', p));

const C = config.hiddenSize, KV = (C / config.numHeads) * config.numKvHeads, F = config.intermediateSize;
function gemmName(weight) {
  const [outCols, inCols] = weight.shape;
  if (inCols === C && outCols === C) return 'q/o';
  if (inCols === C && outCols === KV) return 'k/v';
  if (inCols === C && outCols === 2 * F) return 'gate|up';
  if (inCols === F && outCols === C) return 'down';
  return `${outCols}x${inCols}`;
}
const matmul = dist('ops/matmul.js');
wrap(matmul, 'matmul', (t) => `gemm fwd ${gemmName(t.weight)}`);
wrap(matmul, 'matmulBackward', (t) => `gemm bwd ${gemmName(t.weight)}`);
for (const [file, names] of [['attention', ['attention', 'attentionBackward']], ['rmsnorm', ['rmsnorm', 'rmsnormBackward']],
  ['rope', ['rope', 'ropeBackward']], ['swiglu', ['swiglu', 'swigluBackward']], ['embedding', ['embedding', 'embeddingBackward']],
  ['adamw', ['adamw', 'gradNorm']], ['policy_loss', ['policyLoss']], ['matmul_swiglu', ['matmulSwiglu']], ['cast', ['cast']],
  ['linear_token_logprobs', ['linearTokenLogprobs', 'linearTokenLogprobsBackward']], ['linear_policy_loss', ['linearPolicyLoss']]]) {
  const mod = dist(`ops/${file}.js`);
  for (const name of names) wrap(mod, name, name === 'embedding' ? (a) => (a.table.shape[0] === V ? 'embedding' : 'embedding (row gather)') : name);
}
const { Tensor: TensorClass } = dist('tensor.js');
wrap(TensorClass, 'zeros', 'Tensor.zeros');
wrap(TensorClass, 'from', 'Tensor.from');
const scopeMod = dist('scope.js');
wrap(scopeMod, 'scope', 'scope (tensor tracking + disposal)');
const hiddenPath = dist('optim/hidden_path.js');
// STEPRL_PROFILE_TWOPASS=1: the update's loss in two passes (linearTokenLogprobs, policyLoss,
// linearTokenLogprobsBackward: one 1024-row block per micro-batch) instead of ops.linearPolicyLoss.
const twoPass = process.env.STEPRL_PROFILE_TWOPASS === '1';
if (twoPass) hiddenPath.setOnePassLoss(false);
wrap(hiddenPath, 'hiddenLogprobs', 'hiddenLogprobs (positions, JS)');
const residentMod = dist('optim/resident.js');
residentMod.ResidentBatch.prototype.rows = charged('ResidentBatch.rows', residentMod.ResidentBatch.prototype.rows);
const updateMod = dist('optim/update.js');
wrap(updateMod, 'updatePolicy', 'updatePolicy (JS, micro-batch loop)');

const { TinyLM } = dist('model/tinylm.js');
const { AdamW } = dist('optim/adamw.js');
const model = TinyLM.create(config, { seed: 1 });
for (const name of ['hidden', 'backwardHidden', 'zeroGrad']) {
  model[name] = charged(name === 'zeroGrad' ? 'zeroGrad' : `TinyLM.${name} (JS, layout, activations)`, model[name].bind(model));
}
const rng = new Rng(7);
let tokens, run, cold = null;

if (mode === 'update') {
  // The Trainer's optimizer (base.ts: lr, weightDecay 0, maxGradNorm 1) and loss (grpo({ klCoef: 0.001 })).
  const optimizer = new AdamW(model.parameters(), { lr: 1e-6, weightDecay: 0, maxGradNorm: 1 });
  optimizer.step = charged('optimizer.step (JS)', optimizer.step.bind(optimizer));
  const { grpo } = steprl;
  const algorithm = grpo({ klCoef: 0.001 });
  const R = 64, P = 32, T = d512 ? 64 : 128, width = P + T;
  tokens = R * width;
  const sequences = Int32Array.from(rng.ints(R * width, 0, V - 2));
  const targets = new Int32Array(R * T);
  for (let r = 0; r < R; r++) targets.set(sequences.subarray(r * width + P, (r + 1) * width), r * T);
  // Random weights give near-uniform log-probs (~ -ln V); old and reference log-probs nearby.
  const near = () => Float32Array.from(rng.floats(R * T, 0.05), (x) => -Math.log(V) + x);
  const batch = {
    R, P, T, problems: [], groupIds: Int32Array.from({ length: R }, (_, i) => Math.floor(i / 8)), sequences,
    attentionStart: new Int32Array(R), tokens: targets, mask: new Float32Array(R * T).fill(1), oldLogprobs: near(),
    entropy: new Float32Array(R * T), lengths: new Int32Array(R).fill(T), texts: [], verdicts: [], rewards: new Float32Array(R),
    refLogprobs: near(),
  };
  const advantages = Float32Array.from(rng.floats(R * T, 1));
  const { Random } = dist('util/random.js');
  run = () => updateMod.updatePolicy(model, optimizer, algorithm.loss, { batch, advantages }, {
    temperature: 1, lr: 1e-6, microBatchRows: d512 ? 64 : 8, maxLength: T, random: new Random(5), critic: false,
  });
} else {
  const optimizer = new AdamW(model.parameters(), { lr: 1e-6, weightDecay: 0.01 });
  optimizer.step = charged('optimizer.step (JS)', optimizer.step.bind(optimizer));
  const B = 4, T = 256, N = B * T;
  tokens = N;
  const seq = Tensor.from(rng.ints(N, 0, V), [B, T]);
  const targets = Tensor.from(rng.ints(N, 0, V), [N]);
  const mask = Tensor.from(new Float32Array(N).fill(1), [B, T]);
  const advantages = Tensor.from(rng.floats(N, 1), [B, T]);
  let oldLogprobs = null;
  run = charged('step (JS)', async () => {
    model.zeroGrad();
    const states = await model.hidden(seq, { train: true });
    const out = ops.linearTokenLogprobs(states.hidden, states.lmHead, targets);
    const lp = out.logprobs.reshape([B, T]);
    if (oldLogprobs === null) oldLogprobs = Tensor.from(lp.toArray().slice(), [B, T]);
    const loss = ops.policyLoss({ logprobs: lp, oldLogprobs, advantages, mask }, { clipLow: 0.2, clipHigh: 0.2 });
    const dl = loss.dlogprobs.reshape([N]);
    const dh = ops.linearTokenLogprobsBackward(states.hidden, states.lmHead, targets, out.logZ, dl, { dweight: states.lmHeadGrad });
    await model.backwardHidden(dh);
    optimizer.step();
    for (const t of [dh, out.logZ, lp, out.logprobs, loss.dlogprobs, dl]) t.dispose();
  });
}

function snapshot(label, cpu, wall, faults, n) {
  const rows = [...stats].sort((a, b) => b[1].cpu - a[1].cpu).map(([row, s]) => ({
    row, cpuPer1k: s.cpu / n / (tokens / 1000), cpuPerRun: s.cpu / n, wallPerRun: s.wall / n, faultsPerRun: Math.round(s.faults / n), calls: s.calls / n,
  }));
  const accounted = [...stats.values()].reduce((a, s) => a + s.cpu, 0) / n;
  return { label, runs: n, tokens, cpuPerRun: cpu / n, wallPerRun: wall / n, cpuPer1k: cpu / n / (tokens / 1000), faultsPerRun: Math.round(faults / n), unaccounted: cpu / n - accounted, rows };
}
async function measure(label, n) {
  stats.clear();
  const c0 = cpuNow(), w0 = performance.now(), f0 = faultsNow();
  for (let i = 0; i < n; i++) await run();
  return snapshot(label, cpuNow() - c0, (performance.now() - w0) / 1e3, faultsNow() - f0, n);
}

cold = await measure(mode === 'update' ? 'cold (first update)' : 'warm-up step', 1);
const warm = measured > 0 ? await measure('warm', measured) : null;  // measured 0: the cold run only
const params = model.numParameters;
console.log(JSON.stringify({ mode, twoPass, shape: d512 ? 'd512' : 'qwen2.5-0.5b', layers: config.numLayers, params, threads: steprl.backendInfo().threads, maxRssBytes: process.resourceUsage().maxRSS * 1024, cold, warm }));
