// grpo_step_worker.mjs: whole GRPO steps through the Trainer, or a batched decode, of TinyLM at a
// given shape, in a process of its own so its peak resident memory is the job's
// (bench/grpo_step.bench.mjs spawns it).
//   grpo    policy + frozen reference (a clone), B prompts x G rollouts x maxNewTokens new tokens,
//           GRPO with the KL term (reference log-probs), microBatchRows rows per pass; each step's
//           phases (rollout, reference, advantages, update) come from the Trainer's own timers.
//           `path: 'logits'` trains through forward/backward only (the logits path) instead of the
//           hidden-state path. Each phase also gets the process's CPU seconds (StepMetrics.cpuSeconds:
//           every thread) and, with `timeline: true` (STEPRL_BENCH_CPU_TIMELINE=1), a thread reads the
//           process's CPU time every 50 ms so each phase reports the fraction of its wall time with
//           fewer than threads - 0.5 cores busy and the longest such stretch (common.mjs cpuTimeline).
//   decode  policy.generate() for `batch` prompts with the KV cache, `newTokens` tokens each.
// A synthetic tokenizer maps ids to letters and random weights rarely sample the stop token, so
// every response runs to maxNewTokens (the step's full shape). Prints one JSON line.
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

import { Rng, cpuTimeline, steprl } from './common.mjs';

/** Resident set now and its high-water mark (VmRSS, VmHWM of /proc/self/status), bytes; null off Linux. */
function residentBytes() {
  try {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const kb = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+) kB`))[1]) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/**
 * A thread that samples VmRSS every 20 ms (the main thread is busy in native ops for seconds at a
 * time), so each phase of a step gets its own peak from the timeline: stop() returns [ms, bytes] pairs.
 */
function rssSampler() {
  const samples = new Float64Array(new SharedArrayBuffer(8 * 2 * 200000));
  const count = new Int32Array(new SharedArrayBuffer(4));
  const origin = performance.timeOrigin;
  const thread = new Worker(`
    const { workerData: { samples, count, origin } } = require('node:worker_threads');
    const fs = require('node:fs');
    const tick = () => {
      const i = Atomics.load(count, 0);
      if (i < 0 || 2 * i + 1 >= samples.length) return;
      const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmRSS:\\s+(\\d+) kB/);
      samples[2 * i] = performance.timeOrigin + performance.now() - origin;
      samples[2 * i + 1] = Number(m[1]) * 1024;
      Atomics.store(count, 0, i + 1);
      setTimeout(tick, 20);
    };
    tick();
  `, { eval: true, workerData: { samples, count, origin } });
  thread.unref();
  return {
    /** The largest sample in [from, to) ms (performance.now() of the main thread). */
    peak(from, to) {
      let best = 0;
      for (let i = 0; i < Atomics.load(count, 0); i++) if (samples[2 * i] >= from && samples[2 * i] < to) best = Math.max(best, samples[2 * i + 1]);
      return best;
    },
    stop() {
      Atomics.store(count, 0, -1);
      return thread.terminate();
    },
  };
}

const { TinyLM, Trainer, grpo, memory } = steprl;

const job = JSON.parse(process.argv[2]);
const { config, warmup, iterations } = job;
const V = config.vocabSize;

/** Ids as letters; the prompt text's letters as ids. Stop = V-1 (rarely sampled from random weights). */
const tokenizer = {
  vocabSize: V, bosId: null, eosId: V - 1, padId: V - 2,
  encode: (text) => Int32Array.from([...text], (ch) => (ch.charCodeAt(0) * 7919) % (V - 2)),
  decode: (ids) => Array.from(ids, (id) => String.fromCharCode(97 + (id % 26))).join(''),
};
const rng = new Rng(11);
const promptText = () => Array.from({ length: job.promptLength }, () => String.fromCharCode(97 + rng.int(0, 26))).join('');

const model = TinyLM.create(config, { seed: 1 });
/** `path: 'logits'`: the same model behind forward/backward only (the Trainer's logits path, [rows, P+T, V] logits). */
const policy = job.path === 'logits' ? {
  get vocabSize() { return model.vocabSize; },
  device: model.device,
  forward: (tokens, options) => model.forward(tokens, options),
  backward: (dlogits, dvalues) => model.backward(dlogits, dvalues),
  generate: (prompts, options) => model.generate(prompts, options),
  parameters: () => model.parameters(),
  zeroGrad: () => model.zeroGrad(),
} : model;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (job.kind === 'grpo') {
  const reference = model.clone();
  const dataset = Array.from({ length: job.prompts * (warmup + iterations) }, () => ({ prompt: promptText() }));
  const trainer = new Trainer({
    policy, reference, algorithm: grpo({ klCoef: 0.001 }), tokenizer, dataset, promptFormat: 'plain',
    // A reward that varies within groups, so advantages are not all zero.
    reward: (completion) => (completion.charCodeAt(0) % 2),
    promptsPerStep: job.prompts, groupSize: job.group, maxNewTokens: job.newTokens, microBatchRows: job.microBatchRows,
    lr: 1e-6, temperature: 1, seed: 3, trainProblems: job.prompts * (warmup + iterations),
  });
  const steps = [];
  const live = [];
  const sampler = rssSampler();
  const threads = steprl.backendInfo().threads;
  const timeline = job.timeline ? await cpuTimeline(50) : null;
  const beforeSteps = residentBytes();
  // The peak to report is the steps' own: building the two models (random init on the host, a copy
  // for the clone) is reset away (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // elsewhere the peak includes the setup
  }
  for (let i = 0; i < warmup + iterations; i++) {
    const start = performance.now();
    const m = await trainer.trainStep();
    const end = performance.now();
    live.push(memory().tensors);
    // The phases ran one after the other in this order (Trainer.#trainStep); their peaks from the timeline.
    // (The untimed gaps between phases, the end of a phase's memory release, are a few ms.)
    const phasePeaks = {}, phaseTimeline = {};
    let at = start;
    for (const [phase, s] of Object.entries(m.seconds)) {
      if (phase === 'total') continue;
      phasePeaks[phase] = sampler.peak(at, at + s * 1000 + 25);
      if (timeline) phaseTimeline[phase] = timeline.lowStretches(at, at + s * 1000, threads - 0.5);
      at += s * 1000;
    }
    const step = {
      ms: end - start, seconds: m.seconds, cpuSeconds: m.cpuSeconds, tokens: m.responseLength * job.prompts * job.group, phasePeaks,
      ...(timeline ? { timeline: phaseTimeline } : {}), metrics: { loss: m.loss, kl: m.kl, gradNorm: m.gradNorm },
    };
    if (process.env.STEPRL_BENCH_GRPO_TRACE) console.error(JSON.stringify(step));
    if (i >= warmup) steps.push(step);
  }
  await sampler.stop();
  await timeline?.stop();
  const at = steps.indexOf(steps.find((s) => s.ms === median(steps.map((x) => x.ms))));
  const parameters = model.numParameters;
  const rss = residentBytes();
  console.log(JSON.stringify({
    medianMs: steps[at].ms, phases: steps[at].seconds, phaseCpuSeconds: steps[at].cpuSeconds, threads, warmup,
    ...(timeline ? { phaseTimeline: steps[at].timeline, timelineThreshold: threads - 0.5, timelineIntervalMs: timeline.intervalMs } : {}),
    phasePeakRssBytes: steps[at].phasePeaks, responseTokens: steps[at].tokens,
    liveTensorsAfterEachStep: live, metrics: steps[at].metrics,
    peakRssBytes: rss?.hwm ?? process.resourceUsage().maxRSS * 1024, rssBeforeStepsBytes: beforeSteps?.rss ?? null,
    setupPeakRssBytes: beforeSteps?.hwm ?? null,
    // Policy weights, grads and AdamW's two moments (16 B/parameter) plus the reference's weights (4 B). The
    // reference's grad buffer is allocated but never written (untouched pages are not resident).
    stateBytes: parameters * 20, parameters,
    hostPool: steprl.hostMemory(),
  }));
} else {
  const prompts = Array.from({ length: job.batch }, () => tokenizer.encode(promptText()));
  const times = [];
  let generated = 0;
  for (let i = 0; i < warmup + iterations; i++) {
    const start = performance.now();
    const out = await policy.generate(prompts, { maxNewTokens: job.newTokens, temperature: 1, seed: i, stopTokens: [tokenizer.eosId] });
    const ms = performance.now() - start;
    generated = out.lengths.reduce((a, b) => a + b, 0);
    for (const t of [out.tokens, out.mask, out.logprobs, out.entropy]) t.dispose();
    if (i >= warmup) times.push(ms);
  }
  const parameters = model.numParameters;
  // The peak is read before the bandwidth probe, whose 512 MiB buffer is not the decode's memory.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({
    medianMs: median(times), generatedTokens: generated, parameters, bandwidthGBs: steprl.probeReadBandwidth(512 * 2 ** 20, 5),
    peakRssBytes, stateBytes: parameters * 4,
  }));
}
