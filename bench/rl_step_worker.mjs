// rl_step_worker.mjs: one RL training step of TinyLM at a given shape, timed with tinybench in a
// process of its own, so its peak resident memory is the step's (bench/rl_step.bench.mjs spawns it).
// Step: forward -> token log-probs -> policyLoss (PPO clip, token mean) -> backward -> AdamW, on
//   fused   TinyLM.hidden -> ops.linearTokenLogprobs (vocabulary chunks; no [N,V] buffer) -> ... ->
//           ops.linearTokenLogprobsBackward (dweight into the lm_head's grad) -> backwardHidden
//   logits  TinyLM.forward (logits [B,T,V]) -> ops.tokenLogprobs -> ... -> tokenLogprobsBackward
//           (dlogits [B*T,V]) -> backward
//   onepass TinyLM.hidden -> ops.linearPolicyLoss (log-probs, loss, dhidden and the lm_head's grad in
//           one pass over the vocabulary: the logits are computed once, not twice) -> backwardHidden
// Prints one JSON line: { medianMs, cpuMs, peakRssBytes, stateBytes, parameters }; cpuMs is the median
// CPU time of the timed steps (all threads, process.cpuUsage), which another process's load on a
// shared machine stretches far less than the wall time. Also `threads` (the native pool's), and with
// `timeline: true` (STEPRL_BENCH_CPU_TIMELINE=1 in grpo_step.bench.mjs's model row) `stepTimeline`:
// per timed step, the fraction of its wall time with fewer than threads - 0.5 cores busy and the
// longest such stretch (common.mjs cpuTimeline, process CPU read every 50 ms).
import { Bench } from 'tinybench';

import { Rng, cpuTimeline, steprl } from './common.mjs';

const { Tensor, ops } = steprl;
const { TinyLM } = await import('../dist/model/tinylm.js').then((m) => m.default ?? m);
const { AdamW } = await import('../dist/optim/adamw.js').then((m) => m.default ?? m);

const job = JSON.parse(process.argv[2]);
const { config, B, T, path: which, iterations, warmup } = job;
const model = TinyLM.create(config, { seed: 1 });
const optimizer = new AdamW(model.parameters(), { lr: 1e-6, weightDecay: 0.01 });
const rng = new Rng(7);
const N = B * T, V = config.vocabSize;
const tokens = Tensor.from(rng.ints(N, 0, V), [B, T]);
const targets = Tensor.from(rng.ints(N, 0, V), [N]);
const mask = Tensor.from(new Float32Array(N).fill(1), [B, T]);
const advantages = Tensor.from(rng.floats(N, 1), [B, T]);
let oldLogprobs = null;

// The one-pass step: the loss runs inside the op (old log-probs: the first, untimed, step's own).
async function onePassStep() {
  model.zeroGrad();
  const states = await model.hidden(tokens, { train: true });
  if (oldLogprobs === null) {
    const first = ops.linearTokenLogprobs(states.hidden, states.lmHead, targets);
    oldLogprobs = Tensor.from(first.logprobs.toArray().slice(), [B, T]);
    first.logprobs.dispose();
    first.logZ.dispose();
  }
  const out = ops.linearPolicyLoss(states.hidden, states.lmHead, targets, { oldLogprobs, advantages, mask },
    { clipLow: 0.2, clipHigh: 0.2, dweight: states.lmHeadGrad });
  await model.backwardHidden(out.dhidden);
  optimizer.step();
  for (const t of [out.logprobs, out.logZ, out.dlogprobs, out.dhidden]) t.dispose();
}

async function step() {
  if (which === 'onepass') return onePassStep();
  model.zeroGrad();
  let logprobs, backward;
  if (which === 'fused') {
    const states = await model.hidden(tokens, { train: true });
    const out = ops.linearTokenLogprobs(states.hidden, states.lmHead, targets);
    logprobs = out.logprobs;
    backward = async (dlogprobs) => {
      const dh = ops.linearTokenLogprobsBackward(states.hidden, states.lmHead, targets, out.logZ, dlogprobs, { dweight: states.lmHeadGrad });
      await model.backwardHidden(dh);
      dh.dispose();
      out.logZ.dispose();
    };
  } else {
    const logits = await model.forward(tokens, { train: true });
    const flat = logits.reshape([N, V]);
    const out = ops.tokenLogprobs(flat, targets);
    logprobs = out.logprobs;
    backward = async (dlogprobs) => {
      const dlogits = ops.tokenLogprobsBackward(flat, targets, out.logZ, dlogprobs);
      const shaped = dlogits.reshape([B, T, V]);
      await model.backward(shaped);
      for (const t of [shaped, dlogits, flat, out.logZ]) t.dispose();
    };
  }
  const rows = logprobs.reshape([B, T]);
  if (oldLogprobs === null) oldLogprobs = Tensor.from((rows.toArray()).slice(), [B, T]);
  const loss = ops.policyLoss({ logprobs: rows, oldLogprobs, advantages, mask }, { clipLow: 0.2, clipHigh: 0.2 });
  const dlogprobs = loss.dlogprobs.reshape([N]);
  await backward(dlogprobs);
  optimizer.step();
  for (const t of [rows, logprobs, loss.dlogprobs, dlogprobs]) t.dispose();
}

const threads = steprl.backendInfo().threads;
const timeline = job.timeline ? await cpuTimeline(50) : null;
const cpuMs = [], windows = [];  // per call, warm-up calls first
async function timedStep() {
  const c0 = process.cpuUsage(), w0 = performance.now();
  await step();
  const c = process.cpuUsage(c0);
  cpuMs.push((c.user + c.system) / 1e3);
  windows.push([w0, performance.now()]);
}

const bench = new Bench({ time: 0, iterations, warmupIterations: warmup });
bench.add('step', timedStep);
await bench.run();
const result = bench.tasks[0].result;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
if (result.state !== 'completed') throw new Error(`rl step ${result.state}: ${result.error?.stack ?? ''}`);
const parameters = model.numParameters;
const stepTimeline = timeline ? windows.slice(windows.length - iterations).map(([from, to]) => timeline.lowStretches(from, to, threads - 0.5)) : null;
await timeline?.stop();
console.log(JSON.stringify({
  medianMs: result.latency.p50,
  cpuMs: median(cpuMs.slice(cpuMs.length - iterations)),
  threads,
  ...(stepTimeline ? { stepTimeline, timelineThreshold: threads - 0.5 } : {}),
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
  stateBytes: parameters * 16,  // weights, gradients, AdamW's two moments: 4 float32 each
  parameters,
}));
