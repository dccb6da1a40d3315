// model_kernels.bench.mjs: the TinyLM kernels at model shapes (d = 256, T = 128, B·T = 8192 tokens):
// matmul (GEMM FLOPs 2·N·C·OC per product; backward = dinp + dweight), causal attention (FLOPs of
// the causal half: 4·B·H·D·Σ keys forward, 2.5x that backward), decoding attention against a
// 256-key cache (bytes of K and V), rmsnorm, swiglu, rope (bytes each call must move), adamw on
// 4M parameters (4 reads + 3 writes per parameter), cast float32 <-> bfloat16 over 4M elements
// (6 bytes each) and sampling over a 32K vocabulary. PyTorch rows
// run the same operation the usual way (F.linear, bmm + masked softmax, the HF formulas,
// torch.optim.AdamW, softmax + multinomial) with 2 threads.
// CUDA rows (only when a real GPU is loaded, STEPRL_BACKEND=cuda; never on the simulator) run the
// same shapes on device cuda, synchronized inside the timed function; each states the bytes it must
// move (its H100 floor at 3.35 TB/s) and, for the GEMMs and attention, the FLOPs, whose floor at
// the H100's ~67 TFLOP/s fp32 FMA rate the note lists (the kernels use no tensor cores).
import { Rng, assertClose, realCudaDevice, reference, steprl } from './common.mjs';

const { Tensor, ops, synchronize } = steprl;

/** CUDA rows at the cpu rows' shapes: the same tensors on the device, each run synchronized. */
function cudaRows(suite, rng, { N, C, quick }) {
  const device = 'cuda';
  const keep = [];
  const on = (shape, scale = 1) => {
    const t = Tensor.from(rng.floats(shape.reduce((a, b) => a * b, 1), scale), shape, { device });
    keep.push(t);
    return t;
  };
  const zeros = (shape) => {
    const t = Tensor.zeros(shape, { device });
    keep.push(t);
    return t;
  };
  const timed = (run) => () => { const r = run(); synchronize(); return r; };
  for (const [n, c, oc, backward] of [[512, 512, 512, false], [N, C, 768, true], [N, C, 1024, false]]) {
    const inp = on([n, c]), weight = on([oc, c], 0.05), out = zeros([n, oc]), dout = on([n, oc]), dinp = zeros([n, c]), dweight = zeros([oc, c]);
    const bytes = 4 * (n * c + oc * c + n * oc);
    suite.add({ name: `matmul/forward/cuda/${n}x${c}x${oc}`, flops: 2 * n * c * oc, bytes, run: timed(() => ops.matmul({ out, inp, weight })) });
    if (backward)
      suite.add({ name: `matmul/backward(dinp+dweight)/cuda/${n}x${c}x${oc}`, flops: 4 * n * c * oc, bytes: bytes + 4 * (n * c + oc * c),
        run: timed(() => ops.matmulBackward({ dinp, dweight, dout, inp, weight })) });
  }
  {
    const B = quick ? 8 : 64, T = 128, H = 4, D = 64, shape = [B, T, H, D];
    const q = on(shape), k = on(shape), v = on(shape), out = zeros(shape), lse = zeros([B, H, T]);
    const dout = on(shape), dq = zeros(shape), dk = zeros(shape), dv = zeros(shape);
    const flops = 4 * B * H * D * (T * (T + 1)) / 2, bytes = 4 * 4 * B * T * H * D;
    ops.attention({ out, lse, q, k, v });
    suite.add({ name: `attention/forward/cuda/B${B}xT${T}xH${H}xD${D}`, flops, bytes, run: timed(() => ops.attention({ out, lse, q, k, v })) });
    suite.add({ name: `attention/backward/cuda/B${B}xT${T}xH${H}xD${D}`, flops: 2.5 * flops, bytes: 2 * bytes + 4 * 3 * B * T * H * D,
      run: timed(() => ops.attentionBackward({ dq, dk, dv, dout, out, lse, q, k, v })) });
    const S = 256;
    const qd = on([B, 1, H, D]), kc = on([B, S, H, D]), vc = on([B, S, H, D]), od = zeros([B, 1, H, D]), ld = zeros([B, H, 1]);
    suite.add({ name: `attention/decode/cuda/B${B}xS${S}xH${H}xD${D}`, bytes: 2 * B * S * H * D * 4, flops: 4 * B * H * S * D,
      run: timed(() => ops.attention({ out: od, lse: ld, q: qd, k: kc, v: vc })) });
  }
  {
    const x = on([N, C]), w = on([C]), out = zeros([N, C]), rstd = zeros([N]), dout = on([N, C]), dinp = zeros([N, C]), dweight = zeros([C]);
    ops.rmsnorm({ out, rstd, inp: x, weight: w });
    suite.add({ name: `rmsnorm/forward/cuda/${N}x${C}`, bytes: 2 * N * C * 4, run: timed(() => ops.rmsnorm({ out, rstd, inp: x, weight: w })) });
    // dinp read + written, dout and inp read twice (the dweight column pass re-reads them).
    suite.add({ name: `rmsnorm/backward/cuda/${N}x${C}`, bytes: 6 * N * C * 4,
      run: timed(() => ops.rmsnormBackward({ dinp, dweight, dout, inp: x, weight: w, rstd })) });
    const F = 688, gu = on([N, 2 * F]), h = zeros([N, F]), dh = on([N, F]), dgu = zeros([N, 2 * F]);
    suite.add({ name: `swiglu/forward/cuda/${N}x${F}`, bytes: 3 * N * F * 4, run: timed(() => ops.swiglu({ out: h, inp: gu })) });
    suite.add({ name: `swiglu/backward/cuda/${N}x${F}`, bytes: 5 * N * F * 4, run: timed(() => ops.swigluBackward({ dinp: dgu, dout: dh, inp: gu })) });
    const positions = Tensor.from(Int32Array.from({ length: N }, (_, n) => n % 128), [N], { device });
    keep.push(positions);
    suite.add({ name: `rope/forward(in place)/cuda/${N}x4x64`, bytes: 2 * N * C * 4,
      run: timed(() => ops.rope({ out: x, inp: x, positions }, { headDim: 64 })) });
    const V = 32000, table = on([V, C]), tokens = Tensor.from(rng.ints(N, 0, V), [N], { device }), emb = zeros([N, C]), dtable = zeros([V, C]);
    keep.push(tokens);
    // The range check copies the N tokens back to the host (it synchronizes): part of the cost.
    suite.add({ name: `embedding/forward/cuda/${N}x${C}`, bytes: 2 * N * C * 4 + 4 * N, run: timed(() => ops.embedding({ out: emb, tokens, table })) });
    suite.add({ name: `embedding/backward/cuda/${N}x${C}`, bytes: 3 * N * C * 4 + 16 * N,
      run: timed(() => ops.embeddingBackward({ dtable, dout: emb, tokens })) });
  }
  {
    const n = quick ? 1 << 20 : 1 << 22;
    const params = on([n]), grads = on([n], 0.01), m = zeros([n]), v = zeros([n]);
    let step = 0;
    suite.add({ name: `adamw/step/cuda/${n}`, bytes: 7 * n * 4,
      run: timed(() => ops.adamw({ params, grads, m, v }, { lr: 1e-4, weightDecay: 0.01, step: ++step })) });
    suite.add({ name: `adamw/gradNorm/cuda/${n}`, bytes: n * 4, run: () => ops.gradNorm(grads) });  // returns a host number: waits
    // cast: the bf16 weight refresh of TinyLM's 'bf16-mixed' (4 bytes read + 2 written per parameter) and back.
    const half = Tensor.zeros([n], { device, dtype: 'bfloat16' }), wide = zeros([n]);
    keep.push(half);
    suite.add({ name: `cast/f32->bf16/cuda/${n}`, bytes: 6 * n, run: timed(() => ops.cast({ out: half, inp: params })) });
    suite.add({ name: `cast/bf16->f32/cuda/${n}`, bytes: 6 * n, run: timed(() => ops.cast({ out: wide, inp: half })) });
  }
  {
    const B = 64, V = 32768, logits = on([B, V], 3);
    let counter = 0;
    // The bisections re-read each row ~36 times (top-p) from L2; the floor is one HBM read.
    suite.add({ name: `sample/topP0.9/cuda/${B}x${V}`, bytes: B * V * 4,
      run: () => ops.sample(logits, { seed: 1, counter: counter++, topP: 0.9 }), dispose: (t) => t.dispose() });
    suite.add({ name: `sample/plain/cuda/${B}x${V}`, bytes: B * V * 4,
      run: () => ops.sample(logits, { seed: 1, counter: counter++ }), dispose: (t) => t.dispose() });
  }
  return keep;
}

function tensor(rng, shape, scale = 1) {
  return Tensor.from(rng.floats(shape.reduce((a, b) => a * b, 1), scale), shape);
}

function matmulRows(suite, rng, N, C, OC, withBackward) {
  const inp = tensor(rng, [N, C]), weight = tensor(rng, [OC, C], 0.05), out = Tensor.zeros([N, OC]);
  const dout = tensor(rng, [N, OC]), dinp = Tensor.zeros([N, C]), dweight = Tensor.zeros([OC, C]);
  const shape = `${N}x${C}x${OC}`;
  suite.add({ name: `matmul/forward/cpu/${shape}`, flops: 2 * N * C * OC,
    run: () => ops.matmul({ out, inp, weight }), torch: { op: 'linear_forward', N, C, OC } });
  if (withBackward)
    suite.add({ name: `matmul/backward(dinp+dweight)/cpu/${shape}`, flops: 4 * N * C * OC,
      run: () => ops.matmulBackward({ dinp, dweight, dout, inp, weight }), torch: { op: 'linear_backward', N, C, OC } });
  return [inp, weight, out, dout, dinp, dweight];
}

export function register(suite, { quick }) {
  const rng = new Rng(1);
  const N = quick ? 1024 : 8192, C = 256;
  const keep = [];

  // Correctness first, on small shapes, against the float64 references.
  {
    const x = rng.floats(64 * 48), w = rng.floats(40 * 48);
    const out = ops.matmul({ out: Tensor.zeros([64, 40]), inp: Tensor.from(x, [64, 48]), weight: Tensor.from(w, [40, 48]) });
    assertClose('matmul', out.toArray(), reference('matmul').matmulReference(x, w, null, null, 64, 48, 40).out, 2e-5, 1);
    const s = { B: 2, T: 16, H: 4, KVH: 2, D: 16, S: 16, Smax: 16, scale: 0.25 };
    const q = rng.floats(2 * 16 * 4 * 16), k = rng.floats(2 * 16 * 2 * 16), v = rng.floats(2 * 16 * 2 * 16);
    const o = Tensor.zeros([2, 16, 4, 16]);
    ops.attention({ out: o, lse: Tensor.zeros([2, 4, 16]), q: Tensor.from(q, [2, 16, 4, 16]), k: Tensor.from(k, [2, 16, 2, 16]), v: Tensor.from(v, [2, 16, 2, 16]) });
    assertClose('attention', o.toArray(), reference('attention').attentionReference(q, k, v, null, s).out, 2e-5, 1);
  }

  keep.push(...matmulRows(suite, rng, 512, 512, 512, false));
  keep.push(...matmulRows(suite, rng, N, C, 256, false));
  keep.push(...matmulRows(suite, rng, N, C, 768, true));
  keep.push(...matmulRows(suite, rng, N, C, 1024, false));

  {  // training attention
    const B = quick ? 8 : 64, T = 128, H = 4, D = 64;
    const shape = [B, T, H, D];
    const q = tensor(rng, shape), k = tensor(rng, shape), v = tensor(rng, shape), out = Tensor.zeros(shape), lse = Tensor.zeros([B, H, T]);
    const dout = tensor(rng, shape), dq = Tensor.zeros(shape), dk = Tensor.zeros(shape), dv = Tensor.zeros(shape);
    const flops = 4 * B * H * D * (T * (T + 1)) / 2;
    ops.attention({ out, lse, q, k, v });
    suite.add({ name: `attention/forward/cpu/B${B}xT${T}xH${H}xD${D}`, flops,
      run: () => ops.attention({ out, lse, q, k, v }), torch: { op: 'attention_forward', B, T, H, D } });
    suite.add({ name: `attention/backward/cpu/B${B}xT${T}xH${H}xD${D}`, flops: 2.5 * flops,
      run: () => ops.attentionBackward({ dq, dk, dv, dout, out, lse, q, k, v }), torch: { op: 'attention_backward', B, T, H, D } });
    keep.push(q, k, v, out, lse, dout, dq, dk, dv);
  }
  {  // decoding: one query per row against a 256-key cache
    const B = 64, H = 4, KVH = 4, D = 64, S = 256;
    const q = tensor(rng, [B, 1, H, D]), k = tensor(rng, [B, S, KVH, D]), v = tensor(rng, [B, S, KVH, D]);
    const out = Tensor.zeros([B, 1, H, D]), lse = Tensor.zeros([B, H, 1]);
    suite.add({ name: `attention/decode/cpu/B${B}xS${S}xH${H}xD${D}`, bytes: 2 * B * S * KVH * D * 4, flops: 4 * B * H * S * D,
      run: () => ops.attention({ out, lse, q, k, v }), torch: { op: 'attention_decode', B, S, H, D } });
    keep.push(q, k, v, out, lse);
  }
  {  // rmsnorm, swiglu, rope
    const x = tensor(rng, [N, C]), w = tensor(rng, [C]), out = Tensor.zeros([N, C]), rstd = Tensor.zeros([N]);
    const dout = tensor(rng, [N, C]), dinp = Tensor.zeros([N, C]), dweight = Tensor.zeros([C]);
    ops.rmsnorm({ out, rstd, inp: x, weight: w });
    suite.add({ name: `rmsnorm/forward/cpu/${N}x${C}`, bytes: 2 * N * C * 4,
      run: () => ops.rmsnorm({ out, rstd, inp: x, weight: w }), torch: { op: 'rmsnorm_forward', N, C } });
    suite.add({ name: `rmsnorm/backward/cpu/${N}x${C}`, bytes: 4 * N * C * 4,
      run: () => ops.rmsnormBackward({ dinp, dweight, dout, inp: x, weight: w, rstd }), torch: { op: 'rmsnorm_backward', N, C } });
    const F = 688;
    const gu = tensor(rng, [N, 2 * F]), h = Tensor.zeros([N, F]), dh = tensor(rng, [N, F]), dgu = Tensor.zeros([N, 2 * F]);
    suite.add({ name: `swiglu/forward/cpu/${N}x${F}`, bytes: 3 * N * F * 4,
      run: () => ops.swiglu({ out: h, inp: gu }), torch: { op: 'swiglu_forward', N, F } });
    suite.add({ name: `swiglu/backward/cpu/${N}x${F}`, bytes: 5 * N * F * 4,
      run: () => ops.swigluBackward({ dinp: dgu, dout: dh, inp: gu }), torch: { op: 'swiglu_backward', N, F } });
    const positions = Tensor.from(Int32Array.from({ length: N }, (_, n) => n % 128), [N]);
    suite.add({ name: `rope/forward(in place)/cpu/${N}x4x64`, bytes: 2 * N * C * 4,
      run: () => ops.rope({ out: x, inp: x, positions }, { headDim: 64 }), torch: { op: 'rope_forward', N, H: 4, D: 64 } });
    keep.push(x, w, out, rstd, dout, dinp, dweight, gu, h, dh, dgu, positions);
  }
  {  // adamw over 4M parameters
    const n = quick ? 1 << 20 : 1 << 22;
    const params = tensor(rng, [n]), grads = tensor(rng, [n], 0.01), m = Tensor.zeros([n]), v = Tensor.zeros([n]);
    let step = 0;
    suite.add({ name: `adamw/step/cpu/${n}`, bytes: 7 * n * 4,
      run: () => ops.adamw({ params, grads, m, v }, { lr: 1e-4, weightDecay: 0.01, step: ++step }), torch: { op: 'adamw', n } });
    suite.add({ name: `adamw/gradNorm/cpu/${n}`, bytes: n * 4, run: () => ops.gradNorm(grads), torch: { op: 'grad_norm', n } });
    const half = Tensor.zeros([n], { dtype: 'bfloat16' }), wide = Tensor.zeros([n]);
    suite.add({ name: `cast/f32->bf16/cpu/${n}`, bytes: 6 * n, run: () => ops.cast({ out: half, inp: params }) });
    suite.add({ name: `cast/bf16->f32/cpu/${n}`, bytes: 6 * n, run: () => ops.cast({ out: wide, inp: half }) });
    keep.push(params, grads, m, v, half, wide);
  }
  {  // sampling
    const B = 64, V = 32768;
    const logits = tensor(rng, [B, V], 3);
    let counter = 0;
    suite.add({ name: `sample/topP0.9/cpu/${B}x${V}`, bytes: B * V * 4,
      run: () => ops.sample(logits, { seed: 1, counter: counter++, topP: 0.9 }), dispose: (t) => t.dispose(),
      torch: { op: 'sample_top_p', B, V, topP: 0.9 } });
    suite.add({ name: `sample/plain/cpu/${B}x${V}`, bytes: B * V * 4,
      run: () => ops.sample(logits, { seed: 1, counter: counter++ }), dispose: (t) => t.dispose(),
      torch: { op: 'sample_plain', B, V } });
    keep.push(logits);
  }
  if (realCudaDevice() !== null) keep.push(...cudaRows(suite, rng, { N, C, quick }));
  return () => {
    for (const t of keep) t.dispose();
  };
}

export const note = 'model kernels: matmul rows are GEMMs on the built-in sgemm (no BLAS); PyTorch runs them on its BLAS. Attention in PyTorch is the eager path (bmm, masked softmax over all T×T scores, bmm); steprl computes only the causal half. ' +
  'CUDA rows (a real GPU only) are fp32 CUDA-core kernels: on an H100 their FLOP floor at ~67 TFLOP/s is 2·N·C·OC/67e12 s for a GEMM ' +
  '(8192x256x768: 48 µs; expected ~60-70% of it with the 128x128 tiles, ~40% with 64x64) and 4·B·H·D·T²/2/67e12 for causal attention ' +
  '(B64 T128 H4 D64: 8.1 µs forward; expected ~25-35% of peak); the other rows are bandwidth-bound (H100 floor column, expected ~80% of it).';
