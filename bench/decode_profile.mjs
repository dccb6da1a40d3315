// decode_profile.mjs: where TinyLM.generate spends its time, per op family, in CPU seconds (both
// threads, process.cpuUsage) with wall seconds and GFLOP/s of the matmuls beside them: the GRPO step's
// rollout phase (grpo_step.bench.mjs) without the Trainer around it.
//   node bench/decode_profile.mjs [rows=64] [newTokens=64]
// STEPRL_PROFILE_SHAPE=d512 (default) or full: grpo_step.bench.mjs's d512 model or the exact
// Qwen2.5-0.5B shape; 32-token prompts, random weights, no stop token sampled (every row decodes
// newTokens). One untimed generate (first touch of the KV cache and workspaces), then one measured.
import * as path from 'node:path';
import { createRequire } from 'node:module';

import { Rng, cpuLedger, root, steprl } from './common.mjs';
import { D512, QWEN25_05B } from './rl_step.bench.mjs';

const require = createRequire(import.meta.url);
const dist = (p) => require(path.join(root, 'dist', p));
const shapes = {
  d512: D512,
  full: QWEN25_05B,
};
const which = process.env.STEPRL_PROFILE_SHAPE ?? 'd512';
if (!(which in shapes)) throw new Error(`STEPRL_PROFILE_SHAPE: expected one of ${Object.keys(shapes).join(', ')} but received ${which}`);
const config = shapes[which];
const B = Number(process.argv[2] ?? 64), N = Number(process.argv[3] ?? 64), P = 32;
for (const [name, v] of [['rows', B], ['newTokens', N]]) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a positive integer but received ${v}`);
}

const { stats, wrap, cpuNow } = cpuLedger({ nested: 'exclusive' });
const matmul = dist('ops/matmul.js');
const gemmFlops = (t) => 2 * t.inp.shape.slice(0, -1).reduce((a, b) => a * b, 1) * t.weight.shape[0] * t.weight.shape[1];
wrap(matmul, 'matmul', (t) => (t.weight.shape[0] === config.vocabSize ? 'matmul lm_head' : `matmul ${t.inp.shape.slice(0, -1).reduce((a, b) => a * b, 1) > B ? 'prefill' : 'decode'} layers`), gemmFlops);
for (const [file, names] of [['attention', ['attention']], ['rmsnorm', ['rmsnorm']], ['rope', ['rope']], ['swiglu', ['swiglu']],
  ['embedding', ['embedding']], ['matmul_swiglu', ['matmulSwiglu']], ['sampling', ['sample']], ['token_logprobs', ['tokenLogprobs']], ['cast', ['cast']]]) {
  const mod = dist(`ops/${file}.js`);
  for (const name of names) wrap(mod, name, name);
}

const { TinyLM } = dist('model/tinylm.js');
const model = TinyLM.create(config, { seed: 1 });
const rng = new Rng(3);
const prompts = Array.from({ length: B }, () => Int32Array.from(rng.ints(P, 0, config.vocabSize - 2)));
const generate = (seed) => model.generate(prompts, { maxNewTokens: N, temperature: 1, seed, stopTokens: [] });
const dispose = (out) => { for (const t of [out.tokens, out.mask, out.logprobs, out.entropy]) t.dispose(); };
dispose(await generate(0));
stats.clear();
const c0 = cpuNow(), w0 = performance.now();
dispose(await generate(1));
const cpu = cpuNow() - c0, wall = (performance.now() - w0) / 1e3;
const accounted = [...stats.values()].reduce((a, s) => a + s.cpu, 0);
const rows = [...stats].sort((a, b) => b[1].cpu - a[1].cpu).map(([row, s]) => ({
  row, cpu: s.cpu, wall: s.wall, calls: s.calls, gflops: s.flops > 0 ? s.flops / s.wall / 1e9 : null,
}));
console.log(JSON.stringify({ shape: which, B, P, newTokens: N, threads: steprl.backendInfo().threads, cpu, wall, unaccounted: cpu - accounted, rows }));
