// linear_logprobs_vs_matmul.cjs: the fused linearTokenLogprobs forward and backward against the plain
// matmul products of the same shape (lm_head forward, dinput, dweight), in GFLOP/s, to show whether
// the fused op runs at the GEMM's rate (its backward does 3 products: the recomputed logits + 2).
//   npx tsc -p tsconfig.json && node bench/linear_logprobs_vs_matmul.cjs [N V chunk]   (default 1024 32768 4096)
const { Tensor, ops } = require('../dist');
const N = +process.argv[2] || 1024, V = +process.argv[3] || 32768, C = 896, chunk = +process.argv[4] || 4096;
const rnd = (n, s) => { const a = new Float32Array(n); let x = 1; for (let i = 0; i < n; i++) { x = (x * 16807) % 2147483647; a[i] = (x / 2147483647 - 0.5) * s; } return a; };
const h = Tensor.from(rnd(N * C, 1), [N, C]), w = Tensor.from(rnd(V * C, 0.1), [V, C]);
const tg = Tensor.from(Int32Array.from({ length: N }, (_, i) => (i * 7919) % V), [N]);
const dW = Tensor.from(new Float32Array(V * C), [V, C]);
const gfl = (ms, mults) => (2 * N * V * C * mults / ms / 1e6).toFixed(1);
function time(label, f, mults) { f(); const ts = []; for (let i = 0; i < 3; i++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); } ts.sort((a, b) => a - b); console.log(label, ts[1].toFixed(0), 'ms', gfl(ts[1], mults), 'GFLOP/s'); }
let fwd;
time('fused fwd', () => { fwd = ops.linearTokenLogprobs(h, w, tg, { chunkSize: chunk }); }, 1);
const g = Tensor.from(rnd(N, 1), [N]);
time('fused bwd', () => { ops.linearTokenLogprobsBackward(h, w, tg, fwd.logZ, g, { chunkSize: chunk, dweight: dW }).dispose(); }, 3);
time('fused bwd no dW', () => { ops.linearTokenLogprobsBackward(h, w, tg, fwd.logZ, g, { chunkSize: chunk }).dispose(); }, 2);
const out = Tensor.from(new Float32Array(N * V), [N, V]);
time('matmul fwd', () => { ops.matmul({ out, inp: h, weight: w }); }, 1);
const dinp = Tensor.from(new Float32Array(N * C), [N, C]);
time('matmul bwd dinp', () => { ops.matmulBackward({ dinp, dout: out, inp: h, weight: w }); }, 1);
time('matmul bwd dweight', () => { ops.matmulBackward({ dweight: dW, dout: out, inp: h, weight: w }); }, 1);
