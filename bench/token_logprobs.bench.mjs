// token_logprobs.bench.mjs: tokenLogprobs forward (fp32, bf16, with entropy) and backward on the
// RL-sized [2048, 32768] logits, on the cpu and, when a real GPU is present (STEPRL_BACKEND=cuda),
// on cuda. Each row states the bytes one launch must move: the forward reads R*V logits (4 or 2
// bytes) and the targets and writes 8 bytes per row (12 with the entropy); the backward reads the
// logits and 12 bytes per row and writes R*V fp32 gradients. The table's H100 column is that over
// 3.35 TB/s. CUDA tasks synchronize inside the timed function. PyTorch row: log_softmax().gather()
// and its autograd backward, same shapes.
import { Rng, assertClose, realCudaDevice, reference, steprl } from './common.mjs';

const { Tensor, ops, synchronize, toBFloat16 } = steprl;

/** Bytes one launch moves: [R,V] logits of `size` bytes each plus the per-row vectors. */
const forwardBytes = (R, V, size, entropy) => R * V * size + 4 * R + (entropy ? 12 : 8) * R;
const backwardBytes = (R, V, size) => R * V * size + 12 * R + R * V * 4;

export function register(suite, { quick }) {
  const R = quick ? 256 : 2048, V = 32768;
  const rng = new Rng(1);
  const z = rng.floats(R * V, 3);
  const t = rng.ints(R, 0, V);
  const g = rng.floats(R);

  // Correctness first, on a few rows, against the float64 reference.
  const rows = 4;
  const head = ops.tokenLogprobs(Tensor.from(z.subarray(0, rows * V), [rows, V]), Tensor.from(t.subarray(0, rows), [rows]), { entropy: true });
  const ref = reference('token_logprobs').tokenLogprobsReference(z.subarray(0, rows * V), t.subarray(0, rows), rows, V);
  assertClose('token_logprobs', head.logprobs.toArray(), ref.logprobs, 2e-5, 1);

  const gpu = realCudaDevice();
  const owned = [];
  for (const device of gpu === null ? ['cpu'] : ['cpu', 'cuda']) {
    const on = (tensor) => {
      const moved = tensor.to(device);
      owned.push(moved);
      return moved;
    };
    const logits = on(Tensor.from(z, [R, V]));
    const logitsBf16 = on(Tensor.from(toBFloat16(z), [R, V], { dtype: 'bfloat16' }));
    const targets = on(Tensor.from(t, [R]));
    const dlogprobs = on(Tensor.from(g, [R]));
    const out = on(Tensor.zeros([R, V]));
    const fwd = ops.tokenLogprobs(logits, targets);
    owned.push(fwd.logZ, fwd.logprobs);
    // CUDA launches are asynchronous: the timed function waits for the kernel.
    const timed = (run) => (device === 'cuda' ? () => { const r = run(); synchronize(); return r; } : run);
    const shape = `${R}x${V}`;
    const disposeForward = (r) => { r.logprobs.dispose(); r.logZ.dispose(); r.entropy?.dispose(); };

    suite.add({
      name: `token_logprobs/forward/${device}/f32/${shape}`, bytes: forwardBytes(R, V, 4, false),
      extraBytes: device === 'cpu' ? 12 * R : undefined,
      run: timed(() => ops.tokenLogprobs(logits, targets)), dispose: disposeForward,
      torch: device === 'cpu' ? { op: 'token_logprobs_forward', R, V, dtype: 'float32' } : undefined,
    });
    suite.add({
      name: `token_logprobs/forward+entropy/${device}/f32/${shape}`, bytes: forwardBytes(R, V, 4, true),
      run: timed(() => ops.tokenLogprobs(logits, targets, { entropy: true })), dispose: disposeForward,
      torch: device === 'cpu' ? { op: 'token_logprobs_forward_entropy', R, V, dtype: 'float32' } : undefined,
    });
    suite.add({
      name: `token_logprobs/forward/${device}/bf16/${shape}`, bytes: forwardBytes(R, V, 2, false),
      run: timed(() => ops.tokenLogprobs(logitsBf16, targets)), dispose: disposeForward,
      torch: device === 'cpu' ? { op: 'token_logprobs_forward', R, V, dtype: 'bfloat16' } : undefined,
    });
    suite.add({
      name: `token_logprobs/backward(out)/${device}/f32/${shape}`, bytes: backwardBytes(R, V, 4),
      run: timed(() => ops.tokenLogprobsBackward(logits, targets, fwd.logZ, dlogprobs, { out })),
      torch: device === 'cpu' ? { op: 'token_logprobs_backward', R, V, dtype: 'float32' } : undefined,
    });
    suite.add({
      name: `token_logprobs/backward(out)/${device}/bf16/${shape}`, bytes: backwardBytes(R, V, 2),
      run: timed(() => ops.tokenLogprobsBackward(logitsBf16, targets, fwd.logZ, dlogprobs, { out })),
    });
    suite.add({
      name: `token_logprobs/backward(alloc)/${device}/f32/${shape}`, bytes: backwardBytes(R, V, 4),
      run: timed(() => ops.tokenLogprobsBackward(logits, targets, fwd.logZ, dlogprobs)), dispose: (d) => d.dispose(),
    });
  }
  return () => {
    for (const x of owned) x.dispose();
  };
}

export const note = 'token_logprobs: the forward keeps 12 bytes of output per row (logprobs, logZ; entropy adds 4) and no [R,V] ' +
  'temporary (the extra host memory column). On an H100 the f32 forward floor is 0.08 ms and the backward 0.16 ms for ' +
  '[2048, 32768]; the cuda kernels are one block per row with 16-byte loads (npm run check:cuda shows them in the PTX).';
