// rl_step_profile.mjs: where the RL step's time goes (bench/rl_step.bench.mjs's fused step) at the
// exact Qwen2.5-0.5B shape, per op family, in CPU seconds (both threads summed, process.cpuUsage)
// and wall seconds. CPU seconds are what a loaded shared machine measures reliably: another
// process's burst stretches wall time but not the CPU time this process spends. GEMM rows also give
// GFLOP per CPU-second against the per-core share of the FMA probe (probe / threads).
//   node bench/rl_step_profile.mjs [layers=2] [steps=2] [per-core peak GFLOP/s]
// The per-core peak defaults to the FMA probe / threads, which a loaded machine depresses: pass the
// peak of one core measured in CPU seconds instead (bench/rl_step_profile.md has the breakdown).
// With fewer than 24 layers the per-layer rows are also scaled to 24 (column "x24").
import { createRequire } from 'node:module';
import * as path from 'node:path';

import { Rng, cpuLedger, root, steprl } from './common.mjs';
import { QWEN25_05B } from './rl_step.bench.mjs';

const require = createRequire(import.meta.url);
const { Tensor, ops } = steprl;
const layers = Number(process.argv[2] ?? 2), steps = Number(process.argv[3] ?? 2);
const config = { ...QWEN25_05B, numLayers: layers };
const B = 4, T = 256, N = B * T, V = config.vocabSize;

// Wrap the op modules' exports (dist/ops/<family>.js; the index re-exports read them live). A call
// made inside another wrapped call (AdamW's ops inside optimizer.step) is charged to the outer row.
const ledger = cpuLedger({ nested: 'outer' });
const { stats, charge } = ledger;
const C = config.hiddenSize, KV = (C / config.numHeads) * config.numKvHeads, F = config.intermediateSize;
function gemmName(outCols, inCols) {
  if (inCols === C && outCols === C) return 'q/o';
  if (inCols === C && outCols === KV) return 'k/v';
  if (inCols === C && outCols === 2 * F) return 'gate|up';
  if (inCols === F && outCols === C) return 'down';
  return `${outCols}x${inCols}`;
}
const wrap = (file, name, rowOf, flopsOf) => ledger.wrap(require(path.join(root, 'dist', 'ops', `${file}.js`)), name, rowOf, flopsOf);
const rows = (t) => t.shape.slice(0, -1).reduce((a, b) => a * b, 1);
wrap('matmul', 'matmul', (t) => `gemm fwd ${gemmName(t.weight.shape[0], t.weight.shape[1])}`,
  (t) => 2 * rows(t.inp) * t.weight.shape[0] * t.weight.shape[1]);
wrap('matmul', 'matmulBackward', (t) => `gemm bwd ${gemmName(t.weight.shape[0], t.weight.shape[1])}`,
  (t) => 4 * rows(t.inp) * t.weight.shape[0] * t.weight.shape[1]);
for (const [file, names] of [['attention', ['attention', 'attentionBackward']], ['rmsnorm', ['rmsnorm', 'rmsnormBackward']],
  ['rope', ['rope', 'ropeBackward']], ['swiglu', ['swiglu', 'swigluBackward']], ['embedding', ['embedding', 'embeddingBackward']],
  ['adamw', ['adamw', 'gradNorm']], ['policy_loss', ['policyLoss']]]) {
  for (const name of names) wrap(file, name, () => name);
}
wrap('linear_token_logprobs', 'linearTokenLogprobs', () => 'lm_head fwd (linearTokenLogprobs)', (h, w) => 2 * h.shape[0] * w.shape[0] * w.shape[1]);
wrap('linear_token_logprobs', 'linearTokenLogprobsBackward', () => 'lm_head bwd (linearTokenLogprobsBackward)', (h, w) => 6 * h.shape[0] * w.shape[0] * w.shape[1]);

const { TinyLM } = require(path.join(root, 'dist', 'model', 'tinylm.js'));
const { AdamW } = require(path.join(root, 'dist', 'optim', 'adamw.js'));
const model = TinyLM.create(config, { seed: 1 });
const optimizer = new AdamW(model.parameters(), { lr: 1e-6, weightDecay: 0.01 });
const rng = new Rng(7);
const tokens = Tensor.from(rng.ints(N, 0, V), [B, T]);
const targets = Tensor.from(rng.ints(N, 0, V), [N]);
const mask = Tensor.from(new Float32Array(N).fill(1), [B, T]);
const advantages = Tensor.from(rng.floats(N, 1), [B, T]);
let oldLogprobs = null;

async function step() {
  model.zeroGrad();
  const states = await model.hidden(tokens, { train: true });
  const out = ops.linearTokenLogprobs(states.hidden, states.lmHead, targets);
  const lp = out.logprobs.reshape([B, T]);
  if (oldLogprobs === null) oldLogprobs = Tensor.from(lp.toArray().slice(), [B, T]);
  const loss = ops.policyLoss({ logprobs: lp, oldLogprobs, advantages, mask }, { clipLow: 0.2, clipHigh: 0.2 });
  const dl = loss.dlogprobs.reshape([N]);
  const dh = ops.linearTokenLogprobsBackward(states.hidden, states.lmHead, targets, out.logZ, dl, { dweight: states.lmHeadGrad });
  await model.backwardHidden(dh);
  charge('optimizer.step (AdamW + grad norm)', () => optimizer.step());
  for (const t of [dh, out.logZ, lp, out.logprobs, loss.dlogprobs, dl]) t.dispose();
}

await step();  // warm-up
stats.clear();
const c0 = process.cpuUsage(), w0 = performance.now();
for (let i = 0; i < steps; i++) await step();
const cpuTotal = (process.cpuUsage(c0).user + process.cpuUsage(c0).system) / 1e6 / steps;
const wallTotal = (performance.now() - w0) / 1e3 / steps;
const threads = steprl.backendInfo().threads;
const fma = steprl.probeFmaPeak(300, 5);
const perCore = Number(process.argv[4] ?? fma / threads);
const perLayer = (row) => !/lm_head|optimizer|embedding|policyLoss|adamw|gradNorm/.test(row);
const scale = QWEN25_05B.numLayers / layers;
console.log(`rl-step profile: Qwen2.5-0.5B with ${layers} layers, ${B}x${T} tokens, ${steps} steps; FMA probe ${fma.toFixed(0)} GFLOP/s (${perCore.toFixed(0)} per core)`);
console.log('row'.padEnd(44) + 'cpu s/step'.padStart(11) + 'wall s'.padStart(9) + ' x24 cpu s'.padStart(11) + 'GFLOP/cpu-s'.padStart(13) + '% core peak'.padStart(13));
let accounted = 0, total24 = 0;
for (const [row, s] of [...stats].sort((a, b) => b[1].cpu - a[1].cpu)) {
  const cpu = s.cpu / steps, x24 = perLayer(row) ? cpu * scale : cpu;
  accounted += cpu; total24 += x24;
  const g = s.flops > 0 ? s.flops / steps / cpu / 1e9 : null;
  console.log(row.padEnd(44) + cpu.toFixed(3).padStart(11) + (s.wall / steps).toFixed(3).padStart(9) + x24.toFixed(2).padStart(11) +
    (g === null ? '' : g.toFixed(1)).padStart(13) + (g === null ? '' : `${(100 * g / perCore).toFixed(0)}%`).padStart(13));
}
const rest = cpuTotal - accounted;
total24 += rest * scale;  // unaccounted time (JS glue, views) is charged per layer: an upper bound
console.log('rest (JS, views, copies)'.padEnd(44) + rest.toFixed(3).padStart(11) + ''.padStart(9) + (rest * scale).toFixed(2).padStart(11));
console.log(`step: ${cpuTotal.toFixed(2)} cpu s, ${wallTotal.toFixed(2)} wall s; at 24 layers ~${total24.toFixed(1)} cpu s = ~${(total24 / threads).toFixed(1)} s on ${threads} idle cores`);
