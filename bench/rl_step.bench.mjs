// rl_step.bench.mjs: the RL step at real shape. The exact Qwen2.5-0.5B configuration (24 layers,
// d=896, intermediate 4864, V=151936, GQA 14/2, tied embeddings, q/k/v bias; random float32
// weights), 4 x 256 tokens, one training step (forward, token log-probs, PPO-clip policyLoss,
// backward, AdamW) on the fused path (TinyLM.hidden + linearTokenLogprobs: no [N,V] buffer), the
// one-pass path (TinyLM.hidden + linearPolicyLoss: the logits computed once instead of twice) and on
// the logits path (forward -> tokenLogprobs -> backward), each in a process of its own
// (rl_step_worker.mjs) so its peak resident memory is its own; PyTorch runs the same step
// (torch_bench.py rl_train_step) in its own process. FLOPs per step: 6 x parameters x tokens.
// Also linearTokenLogprobs forward and backward at N=2048, V=151936, C=896 (2NVC and 6NVC FLOPs)
// against the sgemm of one of their [1024 x 4096] tiles, and linearPolicyLoss (forward + backward in
// one pass, 6NVC FLOPs against the two-pass 8NVC) at the same shape.
// Where the step's time goes, per op (CPU seconds): bench/rl_step_profile.mjs and rl_step_profile.md.
// These rows need > 10 GB: run them alone (`flock /tmp/steprl-bigmem.lock npm run bench -- rl_step`).
// STEPRL_BENCH_RL_LAYERS=<n> runs the model rows with n of the 24 layers (everything else exact);
// STEPRL_BENCH_RL_PATHS=fused (comma-separated; default fused,onepass,logits) only those paths' rows.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { Rng, root, steprl } from './common.mjs';

const { Tensor, ops } = steprl;
const python = process.env.STEPRL_TORCH_PYTHON ?? '/usr/bin/python3';

export const QWEN25_05B = {
  architecture: 'qwen2', vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14,
  numKvHeads: 2, tieEmbeddings: true, ropeTheta: 1000000, rmsNormEps: 1e-6, maxPositions: 512,
};
/** A new user's first model: d=512 with the real vocabulary (95M parameters; grpo_step.bench.mjs's d512 shape). */
export const D512 = { ...QWEN25_05B, hiddenSize: 512, intermediateSize: 1408, numLayers: 6, numHeads: 8, numKvHeads: 2 };

function worker(job) {
  const run = spawnSync(process.execPath, [path.join(root, 'bench', 'rl_step_worker.mjs'), JSON.stringify(job)],
    { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`rl_step_worker ${job.path} failed: ${run.stderr.split('\n').slice(-8).join('\n')}`);
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

function torchStep(name, config, B, T, repeats) {
  if (spawnSync(python, ['-c', 'import torch']).status !== 0) return null;
  const job = { name, op: 'rl_train_step', ...config, B, T, repeats, warmup: 1 };
  const run = spawnSync(python, [path.join(root, 'bench', 'torch_bench.py')], { input: JSON.stringify([job]), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) {
    console.warn(`PyTorch rl_train_step failed: ${run.stderr.split('\n').slice(-3).join(' ')}`);
    return null;
  }
  const out = JSON.parse(run.stdout);
  return { ms: out.results[name], peak: out.peakRssBytes };
}

export function register(suite, { quick }) {
  const layers = Number(process.env.STEPRL_BENCH_RL_LAYERS ?? QWEN25_05B.numLayers);
  const config = { ...QWEN25_05B, numLayers: layers };
  const B = 4, T = 256, N = B * T;
  const iterations = quick ? 1 : 3;
  const label = `qwen2.5-0.5b${layers === QWEN25_05B.numLayers ? '' : `-L${layers}`}-B${B}-T${T}`;
  // Parameters of this config (TinyLM counts them the same way): 6 x params x tokens FLOPs per step.
  const C = config.hiddenSize, F = config.intermediateSize, V = config.vocabSize, KV = (C / config.numHeads) * config.numKvHeads;
  const perLayer = 2 * C + C * C + C + 2 * (C * KV + KV) + C * C + 3 * C * F;
  const params = V * C + layers * perLayer + C;
  let torch;  // one PyTorch run serves the row that reports it
  // STEPRL_BENCH_RL_PATHS=fused,onepass,logits (the default: all three) picks the model-step rows.
  const paths = (process.env.STEPRL_BENCH_RL_PATHS ?? 'fused,onepass,logits').split(',');
  for (const which of paths) if (!['fused', 'onepass', 'logits'].includes(which))
    throw new Error(`STEPRL_BENCH_RL_PATHS: expected a comma-separated list of fused, onepass, logits but received ${process.env.STEPRL_BENCH_RL_PATHS}`);
  for (const which of paths) {
    const name = `rl-step/${which}/cpu/${label}`;
    suite.add({
      name, tokens: N, flops: 6 * params * N,
      external: async () => {
        const r = worker({ config, B, T, path: which, iterations, warmup: 1 });
        if (r.parameters !== params) throw new Error(`rl-step: TinyLM has ${r.parameters} parameters, the bench counted ${params}`);
        if (torch === undefined) torch = torchStep(`rl-step/torch/${label}`, config, B, T, iterations);
        // CPU seconds per step (both threads): GFLOP per CPU-second against the FMA probe per thread
        // says how close the kernels run to peak when the machine is shared and wall time is not.
        if (r.cpuMs) console.log(`${name}: ${(r.cpuMs / 1e3).toFixed(1)} CPU s/step (wall ${(r.medianMs / 1e3).toFixed(1)} s), ` +
          `${((6 * params * N) / (r.cpuMs / 1e3) / 1e9).toFixed(1)} GFLOP per CPU-second`);
        return { ...r, torchMs: torch?.ms ?? null, torchPeakRssBytes: torch?.peak ?? null };
      },
    });
  }

  // linearTokenLogprobs at N=2048, V=151936, C=896, and the sgemm of one of its tiles.
  const rng = new Rng(3);
  const LN = 2048, LC = 896, LV = 151936;
  const hidden = Tensor.from(rng.floats(LN * LC, 1), [LN, LC]);
  const weight = Tensor.from(rng.floats(LV * LC, 0.03), [LV, LC]);
  const targets = Tensor.from(rng.ints(LN, 0, LV), [LN]);
  const dlogprobs = Tensor.from(rng.floats(LN, 1), [LN]);
  const dweight = Tensor.zeros([LV, LC]);
  let logZ = null;
  const heavy = { iterations: 1, warmup: quick ? 0 : 1, time: 0 };
  suite.add({
    name: `linear-logprobs/forward/cpu/N${LN}-V${LV}-C${LC}`, flops: 2 * LN * LV * LC, ...heavy,
    run: () => ops.linearTokenLogprobs(hidden, weight, targets),
    dispose: (out) => {
      logZ?.dispose();
      logZ = out.logZ;
      out.logprobs.dispose();
    },
  });
  suite.add({
    name: `linear-logprobs/backward/cpu/N${LN}-V${LV}-C${LC}`, flops: 6 * LN * LV * LC, ...heavy,
    run: () => ops.linearTokenLogprobsBackward(hidden, weight, targets, logZ, dlogprobs, { dweight }),
    dispose: (dh) => dh.dispose(),
  });
  // The one-pass op at the same shape (ℓold = ℓ: every ratio is 1, a plain clipped-surrogate step).
  const ones = Tensor.from(new Float32Array(LN).fill(1), [1, LN]);
  const advantages = Tensor.from(rng.floats(LN, 1), [1, LN]);
  let oldLogprobs = null;
  suite.add({
    name: `linear-policy-loss/forward+backward/cpu/N${LN}-V${LV}-C${LC}`, flops: 6 * LN * LV * LC, ...heavy,
    run: () => {
      if (oldLogprobs === null) {
        const first = ops.linearTokenLogprobs(hidden, weight, targets);
        oldLogprobs = Tensor.from(first.logprobs.toArray().slice(), [1, LN]);
        first.logprobs.dispose();
        first.logZ.dispose();
      }
      return ops.linearPolicyLoss(hidden, weight, targets, { oldLogprobs, advantages, mask: ones }, { dweight });
    },
    dispose: (out) => {
      for (const t of [out.logprobs, out.logZ, out.dlogprobs, out.dhidden]) t.dispose();
    },
  });
  const tileRows = 1024, tileCols = 4096;
  const tileOut = Tensor.zeros([tileRows, tileCols]);
  const tileIn = Tensor.from(rng.floats(tileRows * LC, 1), [tileRows, LC]);
  const tileW = Tensor.from(rng.floats(tileCols * LC, 0.03), [tileCols, LC]);
  suite.add({
    name: `linear-logprobs/sgemm-tile/cpu/${tileRows}x${tileCols}x${LC}`, flops: 2 * tileRows * tileCols * LC,
    run: () => ops.matmul({ out: tileOut, inp: tileIn, weight: tileW }),
  });
  return () => {
    for (const t of [hidden, weight, targets, dlogprobs, dweight, logZ, tileOut, tileIn, tileW, ones, advantages, oldLogprobs]) t?.dispose();
  };
}

export const note = 'rl-step rows: exact Qwen2.5-0.5B shape (see bench/rl_step.bench.mjs); the fused and onepass paths hold no [N,V] buffer ' +
  '(onepass: logits computed once, [≤441, V] per block). ' +
  'Memory columns are each process\'s peak resident set; state = weights + grads + AdamW moments (16 B/parameter).';
