// attention.test.ts (torch): steprl's causal GQA attention and its backward against softmax(QKᵀ·scale
// + mask)V written in PyTorch float64 with repeat_kv and autograd: training, a padded KV-cache
// prefill and T = 1 decoding.
import { Tensor, ops } from '../../lib';
import { attentionBackwardReference, attentionReference } from '../reference/attention';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

const CASES = [
  { B: 2, T: 64, H: 4, KVH: 4, D: 32, S: 64, Smax: 64 },
  { B: 3, T: 40, H: 6, KVH: 2, D: 24, S: 70, Smax: 80 },
  { B: 4, T: 1, H: 8, KVH: 2, D: 64, S: 150, Smax: 160 },
];

describeTorch('attention', () => {
  test.each(CASES)('B=$B T=$T H=$H KVH=$KVH D=$D S=$S Smax=$Smax with left padding', (c) => {
    const rng = new Rng(c.B * c.T + c.S);
    const q = rng.floats(c.B * c.T * c.H * c.D, 1.2), k = rng.floats(c.B * c.Smax * c.KVH * c.D), v = rng.floats(c.B * c.Smax * c.KVH * c.D);
    const dout = rng.floats(q.length, 0.9);
    const kvStart = Int32Array.from({ length: c.B }, (_, b) => (b * 5) % 17);
    const scale = 1 / Math.sqrt(c.D);
    const qShape = [c.B, c.T, c.H, c.D], kShape = [c.B, c.Smax, c.KVH, c.D];
    const t = { q: Tensor.from(q, qShape), k: Tensor.from(k, kShape), v: Tensor.from(v, kShape), kvStart: Tensor.from(kvStart, [c.B]) };
    const out = Tensor.zeros(qShape), lse = Tensor.zeros([c.B, c.H, c.T]);
    ops.attention({ out, lse, ...t }, { kvLength: c.S });
    const grads = { dq: Tensor.zeros(qShape), dk: Tensor.zeros(kShape), dv: Tensor.zeros(kShape) };
    ops.attentionBackward({ ...grads, dout: Tensor.from(dout, qShape), out, lse, ...t }, { kvLength: c.S });
    const torch = runTorch('attention', { q, k, v, dout, kvStart }, { ...c, scale });
    const s = { ...c, scale };
    const ref = attentionReference(q, k, v, kvStart, s), dref = attentionBackwardReference(dout, q, k, v, kvStart, s);
    expectClose(out.toArray(), torch.out, { rtol: 2e-5, atol: 1e-9, scale: ref.outScale });
    expectClose(lse.toArray(), torch.lse, { rtol: 2e-5, atol: 1e-9, scale: ref.lseScale });
    expectClose(grads.dq.toArray(), torch.dq, { rtol: 2e-5, atol: 1e-9, scale: dref.dqScale });
    expectClose(grads.dk.toArray(), torch.dk, { rtol: 2e-5, atol: 1e-9, scale: dref.dkScale });
    expectClose(grads.dv.toArray(), torch.dv, { rtol: 2e-5, atol: 1e-9, scale: dref.dvScale });
  });
});
