// grpo_step_worker.mjs: whole GRPO steps through the Trainer, or a batched decode, of TinyLM at a
// given shape, in a process of its own so its peak resident memory is the job's
// (bench/grpo_step.bench.mjs spawns it).
//   grpo    policy + frozen reference (a clone), B prompts x G rollouts x maxNewTokens new tokens,
//           GRPO with the KL term (reference log-probs), microBatchRows rows per pass; each step's
//           phases (rollout, reference, advantages, update) come from the Trainer's own timers.
//           `path: 'logits'` trains through forward/backward only (the logits path) instead of the
//           hidden-state path.
//   decode  policy.generate() for `batch` prompts with the KV cache, `newTokens` tokens each.
// A synthetic tokenizer maps ids to letters and random weights rarely sample the stop token, so
// every response runs to maxNewTokens (the step's full shape). Prints one JSON line.
import { Rng, steprl } from './common.mjs';

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
  for (let i = 0; i < warmup + iterations; i++) {
    const start = performance.now();
    const m = await trainer.trainStep();
    const ms = performance.now() - start;
    live.push(memory().tensors);
    if (i >= warmup) steps.push({ ms, seconds: m.seconds, tokens: m.responseLength * job.prompts * job.group });
  }
  const at = steps.indexOf(steps.find((s) => s.ms === median(steps.map((x) => x.ms))));
  const parameters = model.numParameters;
  console.log(JSON.stringify({
    medianMs: steps[at].ms, phases: steps[at].seconds, responseTokens: steps[at].tokens, liveTensorsAfterEachStep: live,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    // Policy weights, grads and AdamW's two moments (16 B/parameter) plus the reference's weights and grad buffer (8 B).
    stateBytes: parameters * 24, parameters,
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
