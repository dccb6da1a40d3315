// grpo_step.bench.mjs: one whole GRPO step through the Trainer (rollouts with the KV cache,
// reference log-probs, advantages, update with AdamW) with its breakdown and peak resident memory,
// and batched decode tokens/s against the bound of reading the weights once per decode step.
// Full shape: the exact Qwen2.5-0.5B configuration (bench/rl_step.bench.mjs), 8 prompts x 8
// rollouts x 128 new tokens, 32-token prompts, a frozen reference, microBatchRows 8; decode at batch
// 64. --quick: a small model (d=128, 2 layers, V=2048), 2 x 4 x 16 tokens; decode batch 64 x 16.
// STEPRL_BENCH_GRPO_SHAPE=vocab: that small model with the real vocabulary (V=151936), 4 x 4 x 32.
// STEPRL_BENCH_GRPO_SHAPE=d512: a new user's first model, d=512 with the real vocabulary (95M
// parameters: 6 layers, 8 heads / 2 KV heads, ffn 1408), 8 x 8 x 64 tokens at the Trainer's default
// microBatchRows (64). STEPRL_BENCH_GRPO_LAYERS=n: the shape's model with n layers (same width), to
// iterate on memory and phase rates at full width in less time. STEPRL_BENCH_GRPO_ROWS=grpo,model,decode
// (default all three) picks the rows: the GRPO step, the model step it is held to, the decode row.
// Each GRPO row is followed by one row per phase (rollout, reference, update) of the same step:
// tokens/s there counts the tokens the phase runs the model over (R x (P + T) for the reference and
// the update, R x T decoded for the rollout), comparable with the model step of rl_step.bench.mjs.
// The small shapes also run the logits path (a model offering only forward/backward) beside the
// hidden-state path, for the memory the [rows, P+T, V] logits cost.
// Each row runs in a process of its own (grpo_step_worker.mjs), so its peak memory is its own.
// Each phase row and the model-step row also give wall seconds, the process's CPU seconds (every
// thread) and cores busy = CPU s / wall s against the native thread count (in the notes below the
// table and in the --json rows): a phase slower than the model step with as many CPU seconds per
// token but fewer cores busy waited on idle cores (or on another process).
// STEPRL_BENCH_CPU_TIMELINE=1: a thread reads the process's CPU time every 50 ms, and each phase
// and the model step report the fraction of their wall time with fewer than threads - 0.5 cores
// busy and the longest such stretch. STEPRL_BENCH_GRPO_WARMUP=n: n untimed GRPO steps before the
// measured one (default 1 with --quick, else 0: the full shape's single step is cold).
// FLOPs per GRPO step (matmuls only; the lm_head, V x C, apart from the rest of the parameters, since
// it runs only where a log-prob is needed): the rollout runs the layers over the prompt and the
// decoded tokens but the first (2 per layer parameter) and the lm_head once per decoded token (2·V·C);
// the reference the layers over prompt + response (2 per layer parameter) and the lm_head over the
// response; the update 3x the reference. (Until 2026-12-07 every token was counted at 2·params or
// 6·params, the lm_head included: 6% too many FLOPs at the full shape, 35-50% at d512.) The full
// shape needs ~10-20 GB:
// `flock /tmp/steprl-bigmem.lock nice -n 5 npm run bench -- grpo_step`.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { root } from './common.mjs';

const python = process.env.STEPRL_TORCH_PYTHON ?? '/usr/bin/python3';
import { D512, QWEN25_05B } from './rl_step.bench.mjs';

function worker(job) {
  const run = spawnSync(process.execPath, [path.join(root, 'bench', 'grpo_step_worker.mjs'), JSON.stringify(job)],
    { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`grpo_step_worker ${job.kind} failed: ${run.stderr.split('\n').slice(-8).join('\n')}`);
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

function torchDecode(name, config, B, P, N, repeats) {
  if (process.env.STEPRL_BENCH_TORCH === '0' || spawnSync(python, ['-c', 'import torch']).status !== 0) return null;
  const job = { name, op: 'qwen2_generate', ...config, B, P, N, repeats, warmup: 1 };
  const run = spawnSync(python, [path.join(root, 'bench', 'torch_bench.py')], { input: JSON.stringify([job]), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) {
    console.warn(`PyTorch qwen2_generate failed: ${run.stderr.split('\n').slice(-3).join(' ')}`);
    return null;
  }
  const out = JSON.parse(run.stdout);
  return { ms: out.results[name], peak: out.peakRssBytes };
}

/** TinyLM's parameter count for a config (same count as rl_step.bench.mjs; q/k/v biases, tied embeddings). */
function parameterCount(c) {
  const C = c.hiddenSize, F = c.intermediateSize, KV = (C / c.numHeads) * c.numKvHeads;
  const perLayer = 2 * C + C * C + C + 2 * (C * KV + KV) + C * C + 3 * C * F;
  return c.vocabSize * C * (c.tieEmbeddings ? 1 : 2) + c.numLayers * perLayer + C;
}

const results = [];

/** A phase's (or the model step's) wall and CPU seconds, cores busy, and the timeline's idle stretches. */
function cpuUsage(wallSeconds, cpuSeconds, threads, timeline) {
  return {
    wallSeconds, cpuSeconds: cpuSeconds ?? null, threads,
    coresBusy: cpuSeconds === undefined || cpuSeconds === null ? null : cpuSeconds / wallSeconds,
    ...(timeline ? { lowCoresFraction: timeline.lowFraction, longestLowCoresSeconds: timeline.longestLowSeconds, timelineSamples: timeline.samples } : {}),
  };
}

/** The shapes: `full` (default), `small` (--quick), `vocab` (STEPRL_BENCH_GRPO_SHAPE=vocab: a small model with the real vocabulary). */
const SMALL = { ...QWEN25_05B, vocabSize: 2048, hiddenSize: 128, intermediateSize: 384, numLayers: 2, numHeads: 4, numKvHeads: 2 };
const SHAPES = {
  full: { config: QWEN25_05B, label: 'qwen2.5-0.5b', prompts: 8, group: 8, newTokens: 128, microBatchRows: 8, paths: ['fused'] },
  small: { config: SMALL, label: 'small', prompts: 2, group: 4, newTokens: 16, microBatchRows: 4, paths: ['fused', 'logits'] },
  vocab: { config: { ...SMALL, vocabSize: QWEN25_05B.vocabSize }, label: 'd128-L2-V151936', prompts: 4, group: 4, newTokens: 32, microBatchRows: 8, paths: ['fused', 'logits'] },
  d512: {
    config: D512,
    label: 'd512-L6-V151936', prompts: 8, group: 8, newTokens: 64, microBatchRows: 64, paths: ['fused'],
  },
};

export function register(suite, { quick }) {
  const which = process.env.STEPRL_BENCH_GRPO_SHAPE ?? (quick ? 'small' : 'full');
  if (!(which in SHAPES)) throw new Error(`STEPRL_BENCH_GRPO_SHAPE: expected one of ${Object.keys(SHAPES).join(', ')} but received ${which}`);
  const { config: shapeConfig, label: shapeLabel, paths, ...shape } = SHAPES[which];
  const layers = Number(process.env.STEPRL_BENCH_GRPO_LAYERS ?? shapeConfig.numLayers);
  if (!Number.isInteger(layers) || layers < 1) throw new Error(`STEPRL_BENCH_GRPO_LAYERS: expected a positive integer but received ${process.env.STEPRL_BENCH_GRPO_LAYERS}`);
  const config = { ...shapeConfig, numLayers: layers };
  const label = layers === shapeConfig.numLayers ? shapeLabel : `${shapeLabel}-L${layers}`;
  const promptLength = 32;
  const params = parameterCount(config);
  // Matmul FLOPs of one pass: `factor` (2 forward, 6 forward + backward) per layer parameter per
  // layer token and per lm_head parameter per token the log-probs are taken at.
  const headParams = config.vocabSize * config.hiddenSize;
  const passFlops = (factor, layerTokens, headTokens) => factor * ((params - headParams) * layerTokens + headParams * headTokens);
  const R = shape.prompts * shape.group, P = promptLength, T = shape.newTokens;
  const rows = (process.env.STEPRL_BENCH_GRPO_ROWS ?? 'grpo,model,decode').split(',');
  const timeline = process.env.STEPRL_BENCH_CPU_TIMELINE === '1';
  const warmup = Number(process.env.STEPRL_BENCH_GRPO_WARMUP ?? (quick ? 1 : 0));
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`STEPRL_BENCH_GRPO_WARMUP: expected an integer >= 0 but received ${process.env.STEPRL_BENCH_GRPO_WARMUP}`);
  for (const trainPath of rows.includes('grpo') ? paths : []) {
    const grpoName = `grpo-step/${trainPath}/cpu/${label}-${shape.prompts}x${shape.group}x${T}`;
    let step = null;
    suite.add({
      name: grpoName, tokens: R * T, flops: passFlops(2, R * (P + T - 1), R * T) + passFlops(8, R * (P + T), R * T),
      external: async () => {
        const r = worker({ kind: 'grpo', config, ...shape, path: trainPath, promptLength, warmup, iterations: quick ? 3 : 1, timeline });
        if (r.parameters !== params) throw new Error(`grpo-step: TinyLM has ${r.parameters} parameters, the bench counted ${params}`);
        results.push({ name: grpoName, ...r });
        step = r;
        return { ...r, json: cpuUsage(r.phases.total, r.phaseCpuSeconds?.total, r.threads) };
      },
    });
    // The same step's phases as rows of their own (no new run): seconds, tokens/s, the phase's peak
    // RSS, and its CPU seconds and cores busy (with the timeline: its stretches of idle cores).
    const phaseWork = {
      rollout: [R * T, passFlops(2, R * (P + T - 1), R * T)],
      reference: [R * (P + T), passFlops(2, R * (P + T), R * T)],
      update: [R * (P + T), passFlops(6, R * (P + T), R * T)],
    };
    for (const [phase, [tokens, flops]] of Object.entries(phaseWork)) {
      const name = `${grpoName}/${phase}`;
      suite.add({
        name, tokens, flops,
        external: async () => {
          if (step === null) throw new Error(`${name}: the step's row did not run`);
          const usage = cpuUsage(step.phases[phase], step.phaseCpuSeconds?.[phase], step.threads, step.phaseTimeline?.[phase]);
          results.push({ name, phase: true, ...usage });
          return { medianMs: step.phases[phase] * 1000, peakRssBytes: step.phasePeakRssBytes[phase], stateBytes: step.stateBytes, json: usage };
        },
      });
    }
  }
  // The model step of rl_step.bench.mjs (4 x 256 tokens: forward, fused log-probs, loss, backward,
  // AdamW) at this shape's config, in a process of its own: the rate the update and reference phases
  // are held to (the reference is forward-only: about 3x this per token).
  if (rows.includes('model')) {
    const modelStepName = `model-step/fused/cpu/${label}-B4-T256`;
    suite.add({
      name: modelStepName, tokens: 4 * 256, flops: 6 * params * 4 * 256,
      external: async () => {
        const run = spawnSync(process.execPath, [path.join(root, 'bench', 'rl_step_worker.mjs'),
          JSON.stringify({ config, B: 4, T: 256, path: 'fused', iterations: 1, warmup: quick ? 0 : 1, timeline })], { encoding: 'utf8', maxBuffer: 1 << 24 });
        if (run.status !== 0) throw new Error(`rl_step_worker failed: ${run.stderr.split('\n').slice(-8).join('\n')}`);
        const r = JSON.parse(run.stdout.trim().split('\n').pop());
        const usage = cpuUsage(r.medianMs / 1e3, r.cpuMs / 1e3, r.threads, r.stepTimeline?.[0]);
        results.push({ name: modelStepName, phase: true, ...usage });
        return { ...r, json: usage };
      },
    });
  }
  const batch = 64, newTokens = which === 'full' ? 32 : 16;
  if (!rows.includes('decode')) return;
  const decodeName = `decode/cpu/${label}-B${batch}x${newTokens}`;
  suite.add({
    name: decodeName, tokens: batch * newTokens, flops: passFlops(2, batch * (P + newTokens - 1), batch * newTokens),
    external: async () => {
      const iterations = quick ? 3 : 1;
      const r = worker({ kind: 'decode', config, batch, newTokens, promptLength, warmup: quick ? 1 : 0, iterations });
      // PyTorch's same decode (torch_bench.py qwen2_generate: KV cache, sampling, log-prob, entropy) in its own process.
      const torch = torchDecode(decodeName, config, batch, promptLength, newTokens, iterations);
      results.push({ name: decodeName, ...r, newTokens, torchMs: torch?.ms ?? null });
      return { ...r, torchMs: torch?.ms ?? null, torchPeakRssBytes: torch?.peak ?? null };
    },
  });
}

export function note() {
  const lines = ['grpo-step / decode rows (bench/grpo_step.bench.mjs): tokens/s of a GRPO step counts response tokens (R x new tokens); ' +
    'its state = policy weights, grads, AdamW moments + reference weights (20 B/parameter; the reference grad buffer is never written, so not resident).'];
  const usage = results.filter((r) => r.phase);
  if (usage.length > 0) {
    const timeline = usage.some((r) => r.lowCoresFraction !== undefined);
    lines.push(`Wall and CPU seconds (process-wide, every thread) per phase and of the model step; cores busy = CPU / wall against ${usage[0].threads} native threads` +
      (timeline ? `; low = sampled 50 ms intervals with fewer than ${usage[0].threads - 0.5} cores busy:` : ':'));
    lines.push(`| row | wall s | CPU s | cores busy |${timeline ? ' low-cores fraction of wall | longest low stretch s |' : ''}`);
    lines.push(`|---|---:|---:|---:|${timeline ? '---:|---:|' : ''}`);
    const f = (x, d) => (x === null || x === undefined ? '' : x.toFixed(d));
    for (const r of usage) {
      lines.push(`| ${r.name} | ${f(r.wallSeconds, 2)} | ${f(r.cpuSeconds, 2)} | ${r.coresBusy === null ? '' : `${f(r.coresBusy, 2)} of ${r.threads}`} |` +
        (timeline ? ` ${f(r.lowCoresFraction, 2)} | ${f(r.longestLowCoresSeconds, 2)} |` : ''));
    }
  }
  for (const r of results) {
    if (r.phase) continue;
    if (r.phases) {
      const phases = Object.entries(r.phases).map(([k, s]) => `${k} ${s.toFixed(2)} s`).join(', ');
      const peaks = Object.entries(r.phasePeakRssBytes).map(([k, b]) => `${k} ${(b / 1e9).toFixed(2)}`).join(', ');
      lines.push(`${r.name}: ${(r.medianMs / 1e3).toFixed(2)} s per step (${phases}); ${r.responseTokens} response tokens; ` +
        `peak RSS ${(r.peakRssBytes / 1e9).toFixed(2)} GB = state ${(r.stateBytes / 1e9).toFixed(2)} GB + ${((r.peakRssBytes - r.stateBytes) / 1e9).toFixed(2)} GB ` +
        `(per phase, GB: ${peaks}; before the first step ${(r.rssBeforeStepsBytes / 1e9).toFixed(2)}); ` +
        `live tensors after each step ${r.liveTensorsAfterEachStep.join(', ')}`);
    } else {
      // Each decode step reads every weight once: steps/s <= bandwidth / (4 B x parameters).
      const seconds = r.medianMs / 1e3, steps = r.generatedTokens / 64;
      const boundTokensPerSecond = (64 * r.bandwidthGBs * 1e9) / (4 * r.parameters);
      lines.push(`${r.name}: ${(r.generatedTokens / seconds).toFixed(1)} tokens/s (${steps.toFixed(0)} steps per row, prefill included); ` +
        `bound of reading the weights once per step at the ${r.bandwidthGBs.toFixed(1)} GB/s probe: ${boundTokensPerSecond.toFixed(0)} tokens/s ` +
        `(${((100 * r.generatedTokens) / seconds / boundTokensPerSecond).toFixed(0)}% of it)` +
        (r.torchMs ? `; PyTorch ${((64 * r.newTokens) / (r.torchMs / 1e3)).toFixed(1)} tokens/s (${(r.torchMs / r.medianMs).toFixed(2)}x steprl's time)` : ''));
    }
  }
  return lines.join('\n');
}
