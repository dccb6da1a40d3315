// rl_step_onepass_op.cjs: the lm_head + policy loss two ways at N, V, C (argv): linearTokenLogprobs ->
// policyLoss -> linearTokenLogprobsBackward against ops.linearPolicyLoss; CPU seconds per call (median
// of 3, interleaved) and GFLOP per CPU-second (8NVC vs 6NVC). Usage: node bench/rl_step_onepass_op.cjs 1024 151936 256
const s = require(require('node:path').resolve(__dirname, '..'));
const { Tensor, ops } = s;
const [N, V, C] = process.argv.slice(2).map(Number);
let seed = 1; const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5);
const f = (n, sc) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = rnd() * sc; return a; };
const hidden = Tensor.from(f(N * C, 1), [N, C]), weight = Tensor.from(f(V * C, 0.03), [V, C]);
const targets = Tensor.from(Int32Array.from({ length: N }, (_, i) => (i * 7919) % V), [N]);
const dweight = Tensor.zeros([V, C]);
const first = ops.linearTokenLogprobs(hidden, weight, targets);
const old = Tensor.from(first.logprobs.toArray().slice(), [1, N]);
const adv = Tensor.from(f(N, 2), [1, N]), mask = Tensor.from(new Float32Array(N).fill(1), [1, N]);
const cpu = (fn) => { const c0 = process.cpuUsage(), t0 = Date.now(); fn(); const c = process.cpuUsage(c0); return [(c.user + c.system) / 1e6, (Date.now() - t0) / 1e3]; };
const two = () => {
  const fw = ops.linearTokenLogprobs(hidden, weight, targets);
  const l = ops.policyLoss({ logprobs: fw.logprobs.reshape([1, N]), oldLogprobs: old, advantages: adv, mask });
  const dh = ops.linearTokenLogprobsBackward(hidden, weight, targets, fw.logZ, l.dlogprobs.reshape([N]), { dweight });
  dh.dispose();
};
const one = () => { const o = ops.linearPolicyLoss(hidden, weight, targets, { oldLogprobs: old, advantages: adv, mask }, { dweight }); o.dhidden.dispose(); };
const med = (xs) => xs.sort((a, b) => a - b)[1];
const r = { two: [], one: [] };
for (let k = 0; k < 3; k++) { r.two.push(cpu(two)); r.one.push(cpu(one)); }
const flops2 = 8 * N * V * C, flops1 = 6 * N * V * C;
const t2 = med(r.two.map((x) => x[0])), t1 = med(r.one.map((x) => x[0]));
console.log(JSON.stringify({ N, V, C, block: ops.defaultPolicyLossBlockRows(V), twoPassCpuS: t2, onePassCpuS: t1, twoWallS: med(r.two.map((x) => x[1])), oneWallS: med(r.one.map((x) => x[1])),
  twoGflopPerCpuS: flops2 / t2 / 1e9, oneGflopPerCpuS: flops1 / t1 / 1e9 }));
