// token_logprobs.bench.mjs: tokenLogprobs forward (fp32, bf16, with entropy) and backward on the
// RL-sized [2048, 32768] logits. Forward must read R*V elements; backward reads them and writes
// R*V gradients. PyTorch row: log_softmax().gather() and its autograd backward, same shapes.
import { MiB, Rng, assertClose, reference, steprl } from './common.mjs';

const { Tensor, ops, toBFloat16 } = steprl;

export function register(suite, { quick }) {
  const R = quick ? 256 : 2048, V = 32768;
  const rng = new Rng(1);
  const z = rng.floats(R * V, 3);
  const t = rng.ints(R, 0, V);
  const logits = Tensor.from(z, [R, V]);
  const logitsBf16 = Tensor.from(toBFloat16(z), [R, V], { dtype: 'bfloat16' });
  const targets = Tensor.from(t, [R]);
  const g = Tensor.from(rng.floats(R), [R]);
  const out = Tensor.zeros([R, V]);

  // Correctness first, on a few rows, against the float64 reference.
  const rows = 4;
  const head = ops.tokenLogprobs(Tensor.from(z.subarray(0, rows * V), [rows, V]), Tensor.from(t.subarray(0, rows), [rows]), { entropy: true });
  const ref = reference('token_logprobs').tokenLogprobsReference(z.subarray(0, rows * V), t.subarray(0, rows), rows, V);
  assertClose('token_logprobs', head.logprobs.toArray(), ref.logprobs, 2e-5, 1);
  const fwd = ops.tokenLogprobs(logits, targets);
  const shape = `${R}x${V}`;
  const read = R * V * 4;

  suite.add({
    name: `token_logprobs/forward/cpu/f32/${shape}`, bytes: read, extraBytes: 12 * R,
    run: () => ops.tokenLogprobs(logits, targets), dispose: (r) => { r.logprobs.dispose(); r.logZ.dispose(); },
    torch: { op: 'token_logprobs_forward', R, V, dtype: 'float32' },
  });
  suite.add({
    name: `token_logprobs/forward+entropy/cpu/f32/${shape}`, bytes: read,
    run: () => ops.tokenLogprobs(logits, targets, { entropy: true }),
    dispose: (r) => { r.logprobs.dispose(); r.logZ.dispose(); r.entropy.dispose(); },
    torch: { op: 'token_logprobs_forward_entropy', R, V, dtype: 'float32' },
  });
  suite.add({
    name: `token_logprobs/forward/cpu/bf16/${shape}`, bytes: R * V * 2,
    run: () => ops.tokenLogprobs(logitsBf16, targets), dispose: (r) => { r.logprobs.dispose(); r.logZ.dispose(); },
    torch: { op: 'token_logprobs_forward', R, V, dtype: 'bfloat16' },
  });
  suite.add({
    name: `token_logprobs/backward(out)/cpu/f32/${shape}`, bytes: 2 * read,
    run: () => ops.tokenLogprobsBackward(logits, targets, fwd.logZ, g, { out }),
    torch: { op: 'token_logprobs_backward', R, V, dtype: 'float32' },
  });
  suite.add({
    name: `token_logprobs/backward(alloc)/cpu/f32/${shape}`, bytes: 2 * read,
    run: () => ops.tokenLogprobsBackward(logits, targets, fwd.logZ, g), dispose: (d) => d.dispose(),
  });
  return () => {
    for (const x of [logits, logitsBf16, targets, g, out]) x.dispose();
  };
}

export const note = "token_logprobs: the forward keeps 12 bytes of output per row (logprobs, logZ; entropy adds 4) and no [R,V] temporary (the extra host memory column).";
