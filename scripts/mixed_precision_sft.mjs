// mixed_precision_sft.mjs: does the demo's model still learn under precision 'bf16-mixed'? A short
// supervised run (lib/model/sft.ts: the demo's SFT warm start, scaled down) on the embedded
// arithmetic task with the demo's TinyLM (lib/cli/setup.ts TINY, 0.7M parameters), once in fp32 on
// the cpu and once in 'bf16-mixed' on cuda, same seed, same data and order; prints the loss every
// few steps and both curves' first and last averages. On a machine without a GPU run it through the
// simulator (slow: keep --problems small):
//   npx tsc -p tsconfig.json && STEPRL_BACKEND=cuda-sim STEPRL_SIM_ALIGN=16 node scripts/mixed_precision_sft.mjs --problems 96 --batch 8
// Flags: --problems N (default 256), --batch B (8), --epochs E (1), --lr X (3e-3), --seed S (0), --only cpu|cuda.
import { Random } from '../dist/util/random.js';
import { TinyLM } from '../dist/model/tinylm.js';
import { supervisedFineTune } from '../dist/model/sft.js';
import { TINY, loadTask, tokenizer } from '../dist/cli/setup.js';
import { promptTokens } from '../dist/optim/rollout.js';
import { backendInfo } from '../dist/index.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const problems = Number(flag('problems', 256)), batch = Number(flag('batch', 8)), epochs = Number(flag('epochs', 1));
const lr = Number(flag('lr', 3e-3)), seed = Number(flag('seed', 0)), only = flag('only', null);

const task = loadTask('arithmetic', 'mixed_precision_sft');
const random = new Random(seed + 5);
const examples = task.problems('train', problems, seed).map((p) => ({
  prompt: promptTokens(tokenizer, p),
  completion: Int32Array.from([...tokenizer.encode(task.solution(p, { flawed: false, random })), tokenizer.eosId]),
}));

async function run(device, precision) {
  const model = TinyLM.create(TINY, { seed, device, precision });
  const losses = [];
  const started = Date.now();
  await supervisedFineTune(model, examples, {
    epochs, batchSize: batch, lr, seed, padToken: tokenizer.padId, onStep: (s) => losses.push(s.loss),
  });
  const seconds = (Date.now() - started) / 1000;
  model.dispose();
  return { device, precision, losses, seconds };
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
process.stdout.write(`backend ${backendInfo().backend}; ${examples.length} examples, batch ${batch}, ${epochs} epoch(s), lr ${lr}, seed ${seed}\n`);
const runs = [];
if (only !== 'cuda') runs.push(await run('cpu', 'fp32'));
if (only !== 'cpu') runs.push(await run('cuda', 'bf16-mixed'));
const every = Math.max(1, Math.floor(runs[0].losses.length / 16));
process.stdout.write(`step  ${runs.map((r) => `${r.device}/${r.precision}`.padStart(16)).join('')}\n`);
for (let s = 0; s < runs[0].losses.length; s += every)
  process.stdout.write(`${String(s + 1).padStart(4)}  ${runs.map((r) => r.losses[s].toFixed(4).padStart(16)).join('')}\n`);
for (const r of runs) {
  const k = Math.max(1, Math.floor(r.losses.length / 8));
  process.stdout.write(`${r.device}/${r.precision}: loss first ${k} steps ${mean(r.losses.slice(0, k)).toFixed(4)}, last ${k} steps ${mean(r.losses.slice(-k)).toFixed(4)} (${r.losses.length} steps, ${r.seconds.toFixed(1)} s)\n`);
}
