// token_logprobs.test.ts: tokenLogprobs / tokenLogprobsBackward against the float64 reference,
// on every device (the cpu at every SIMD level, cuda where the backend has it), over tiny,
// realistic and odd shapes (V not a multiple of the vector or warp width, rows starting off a
// 16-byte boundary), bf16 input, temperatures, -inf logits, masked rows and upstream gradients
// other than 1; plus determinism, async forms, views, and errors (device mixing included).
// (The same ops are checked against PyTorch autograd in test/torch/ when torch is installed.)
import {
  ArgumentError, DeviceError, DisposedError, DTypeError, ShapeError, Tensor, fromBFloat16, ops, setNumThreads, toBFloat16,
} from '../../lib';
import { tokenLogprobsBackwardReference, tokenLogprobsReference } from '../reference/token_logprobs';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, hasCuda, onTarget, type Target } from '../util/devices';
import { Rng } from '../util/random';

// float32 results within 2e-5 of float64, relative to the magnitude of the terms they come from.
const TOL = { rtol: 2e-5, atol: 1e-9 };

interface Case {
  R: number;
  V: number;
  temperature: number;
  scale: number;
  negInf?: boolean;
}

const CASES: Case[] = [
  { R: 1, V: 1, temperature: 1, scale: 1 },
  { R: 2, V: 3, temperature: 1, scale: 1 },
  { R: 5, V: 17, temperature: 0.7, scale: 3 },
  { R: 41, V: 1271, temperature: 1, scale: 4, negInf: true },
  { R: 7, V: 1025, temperature: 1.3, scale: 2 },
  { R: 3, V: 5000, temperature: 1, scale: 8, negInf: true },
  { R: 16, V: 4096, temperature: 1, scale: 2 },
];

/** Logits whose max grows block after block, so the online rescaling path is exercised. */
function makeLogits(rng: Rng, c: Case): Float32Array {
  const z = rng.floats(c.R * c.V, c.scale);
  for (let r = 0; r < c.R; r++) {
    for (let v = 0; v < c.V; v++) z[r * c.V + v] += (v / c.V) * c.scale * (r % 2 === 0 ? 3 : -3);
    if (c.negInf) for (let k = 0; k < Math.min(5, c.V - 1); k++) z[r * c.V + rng.int(0, c.V)] = -Infinity;
  }
  return z;
}

function makeTargets(rng: Rng, z: Float32Array, c: Case): Int32Array {
  const t = rng.ints(c.R, 0, c.V);
  // Keep targets on finite logits except one deliberate -inf target (logprob -inf, gradient finite).
  for (let r = 0; r < c.R; r++) if (z[r * c.V + t[r]] === -Infinity && !(c.negInf && r === 0)) z[r * c.V + t[r]] = 0;
  return t;
}

describeTargets('tokenLogprobs', (target: Target) => {
  const device = target.device;
  test.each(CASES)('forward matches float64: R=$R V=$V tau=$temperature', (c) => {
    onTarget(target, () => {
      const rng = new Rng(c.R * 1000 + c.V);
      const z = makeLogits(rng, c), t = makeTargets(rng, z, c);
      const out = ops.tokenLogprobs(Tensor.from(z, [c.R, c.V], { device }), Tensor.from(t, [c.R], { device }), { temperature: c.temperature, entropy: true });
      expect(out.logprobs.device).toBe(device);
      const ref = tokenLogprobsReference(z, t, c.R, c.V, c.temperature);
      expect(out.logprobs.shape).toEqual([c.R]);
      expectClose(out.logprobs.toArray(), ref.logprobs, { ...TOL, scale: ref.logprobsScale });
      expectClose(out.logZ.toArray(), ref.logZ, TOL);
      expectClose(out.entropy!.toArray(), ref.entropy, { ...TOL, scale: ref.entropyScale });
    });
  });

  test.each(CASES)('backward matches float64: R=$R V=$V tau=$temperature', (c) => {
    onTarget(target, () => {
      const rng = new Rng(c.R * 7 + c.V);
      const z = makeLogits(rng, c), t = makeTargets(rng, z, c);
      const g = rng.floats(c.R, 1.5), gh = rng.floats(c.R, 0.5);
      if (c.R > 2) {
        g[1] = 0; // a masked row: no gradient at all
        gh[1] = 0;
        gh[2] = 0; // logprob gradient only
      }
      const logits = Tensor.from(z, [c.R, c.V], { device }), targets = Tensor.from(t, [c.R], { device });
      const fwd = ops.tokenLogprobs(logits, targets, { temperature: c.temperature, entropy: true });
      const ref = tokenLogprobsBackwardReference(z, t, g, gh, c.R, c.V, c.temperature);
      const withEntropy = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, Tensor.from(g, [c.R], { device }), {
        temperature: c.temperature, dentropy: Tensor.from(gh, [c.R], { device }), entropy: fwd.entropy,
      });
      // The entropy recomputed inside the backward must give the same gradient.
      const recomputed = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, Tensor.from(g, [c.R], { device }), {
        temperature: c.temperature, dentropy: Tensor.from(gh, [c.R], { device }),
      });
      expect(withEntropy.shape).toEqual([c.R, c.V]);
      expect(withEntropy.device).toBe(device);
      expectClose(withEntropy.toArray(), ref.dlogits, { ...TOL, scale: ref.scale });
      expectClose(recomputed.toArray(), ref.dlogits, { ...TOL, scale: ref.scale });
      const masked = withEntropy.toArray().subarray(c.V, 2 * c.V);
      if (c.R > 2) expect(masked.every((x) => x === 0)).toBe(true);
    });
  });

  test.each([777, 8, 3001])('bfloat16 logits give the float32 result of the rounded values: V=%d', (V) => {
    onTarget(target, () => {
      const c: Case = { R: 9, V, temperature: 0.9, scale: 3, negInf: true };
      const rng = new Rng(99 + V);
      const z = makeLogits(rng, c), t = makeTargets(rng, z, c);
      const bits = toBFloat16(z), widened = fromBFloat16(bits);
      const logits = Tensor.from(bits, [c.R, c.V], { dtype: 'bfloat16', device }), targets = Tensor.from(t, [c.R], { device });
      const out = ops.tokenLogprobs(logits, targets, { temperature: c.temperature, entropy: true });
      const ref = tokenLogprobsReference(widened, t, c.R, c.V, c.temperature);
      expectClose(out.logprobs.toArray(), ref.logprobs, { ...TOL, scale: ref.logprobsScale });
      expectClose(out.entropy!.toArray(), ref.entropy, { ...TOL, scale: ref.entropyScale });
      const g = rng.floats(c.R), gh = rng.floats(c.R, 0.5);
      g[3] = 0; // a masked row
      gh[3] = 0;
      const dz = ops.tokenLogprobsBackward(logits, targets, out.logZ, Tensor.from(g, [c.R], { device }), { temperature: c.temperature });
      const dref = tokenLogprobsBackwardReference(widened, t, g, null, c.R, c.V, c.temperature);
      expectClose(dz.toArray(), dref.dlogits, { ...TOL, scale: dref.scale });
      const dzh = ops.tokenLogprobsBackward(logits, targets, out.logZ, Tensor.from(g, [c.R], { device }), {
        temperature: c.temperature, dentropy: Tensor.from(gh, [c.R], { device }),
      });
      const dhref = tokenLogprobsBackwardReference(widened, t, g, gh, c.R, c.V, c.temperature);
      expectClose(dzh.toArray(), dhref.dlogits, { ...TOL, scale: dhref.scale });
    });
  });

  test('rows of views at any offset: logits and dlogits aligned differently', () => {
    onTarget(target, () => {
      const R = 6, V = 203;
      const rng = new Rng(17);
      const z = rng.floats(R * V + 3, 2), t = rng.ints(R, 0, V), g = rng.floats(R);
      const base = Tensor.from(z, [R * V + 3], { device });
      const out = Tensor.zeros([R * V + 1], { device });
      const targets = Tensor.from(t, [R], { device });
      for (const [offset, outOffset] of [[1, 0], [2, 1], [3, 1], [0, 1]]) {
        const logits = base.view(offset, [R, V]);
        const expected = z.subarray(offset, offset + R * V);
        const fwd = ops.tokenLogprobs(logits, targets, { entropy: true });
        const ref = tokenLogprobsReference(expected, t, R, V);
        expectClose(fwd.logprobs.toArray(), ref.logprobs, { ...TOL, scale: ref.logprobsScale });
        const dlogits = out.view(outOffset, [R, V]);
        ops.tokenLogprobsBackward(logits, targets, fwd.logZ, Tensor.from(g, [R], { device }), { out: dlogits });
        const dref = tokenLogprobsBackwardReference(expected, t, g, null, R, V);
        expectClose(dlogits.toArray(), dref.dlogits, { ...TOL, scale: dref.scale });
      }
    });
  });

  test('backward in place into the f32 logits; a partially overlapping out is an ArgumentError', () => {
    onTarget(target, () => {
      const R = 4, V = 37;
      const rng = new Rng(23);
      const z = rng.floats((R + 1) * V, 2), t = rng.ints(R, 0, V), g = rng.floats(R);
      const dref = tokenLogprobsBackwardReference(z.subarray(0, R * V), t, g, null, R, V);
      const base = Tensor.from(z, [(R + 1) * V], { device });
      const logits = base.view(0, [R, V]);
      const targets = Tensor.from(t, [R], { device });
      const fwd = ops.tokenLogprobs(logits, targets);
      const dlogprobs = Tensor.from(g, [R], { device });
      // A view shifted by one row: row r's writes would land on row r+1 while it is being read.
      const shifted = base.view(V, [R, V]);
      expect(() => ops.tokenLogprobsBackward(logits, targets, fwd.logZ, dlogprobs, { out: shifted })).toThrow(ArgumentError);
      expect(() => ops.tokenLogprobsBackward(logits, targets, fwd.logZ, dlogprobs, { out: base.view(1, [R, V]) })).toThrow(/out.*logits/);
      // out over the per-row inputs.
      const rowsAndMore = Tensor.zeros([R * V + R], { device });
      const logz = rowsAndMore.view(R * V, [R]);
      logz.copyFrom(fwd.logZ);
      expect(() => ops.tokenLogprobsBackward(logits, targets, logz, dlogprobs, { out: rowsAndMore.view(R, [R, V]) })).toThrow(/out.*logZ/);
      const grads = Tensor.zeros([R * V], { device });
      const g2 = grads.view(0, [R]);
      g2.copyFrom(dlogprobs);
      expect(() => ops.tokenLogprobsBackward(logits, targets, fwd.logZ, g2, { out: grads.reshape([R, V]) })).toThrow(/out.*dlogprobs/);
      // Exactly the logits: allowed, and the same gradient as a separate buffer.
      const returned = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, dlogprobs, { out: logits });
      expect(returned).toBe(logits);
      expectClose(logits.toArray(), dref.dlogits, { ...TOL, scale: dref.scale });
    });
  });

  test('all -inf rows and a -inf target', () => {
    onTarget(target, () => {
      const z = new Float32Array([0, -Infinity, 1, -Infinity, -Infinity, -Infinity]);
      const out = ops.tokenLogprobs(Tensor.from(z, [2, 3], { device }), Tensor.from(new Int32Array([1, 0]), [2], { device }), { entropy: true });
      const logprobs = out.logprobs.toArray();
      expect(logprobs[0]).toBe(-Infinity);
      expect(out.logZ.toArray()[1]).toBe(-Infinity); // an all -inf row has no distribution
      expect(Number.isNaN(logprobs[1])).toBe(true);
      expect(out.entropy!.toArray()[0]).toBeCloseTo(-(Math.log(1 / (1 + Math.E)) / (1 + Math.E) + Math.log(Math.E / (1 + Math.E)) * Math.E / (1 + Math.E)), 5);
    });
  });

  test('async forms resolve to the sync results', async () => {
    const rng = new Rng(5);
    const R = 13, V = 1001;
    const logits = Tensor.from(rng.floats(R * V, 3), [R, V], { device }), targets = Tensor.from(rng.ints(R, 0, V), [R], { device });
    const sync = ops.tokenLogprobs(logits, targets, { entropy: true });
    const async = await ops.tokenLogprobsAsync(logits, targets, { entropy: true });
    expect(async.logprobs.device).toBe(device);
    expect(async.logprobs.toArray()).toEqual(sync.logprobs.toArray());
    expect(async.entropy!.toArray()).toEqual(sync.entropy!.toArray());
    const g = Tensor.from(rng.floats(R), [R], { device });
    const dSync = ops.tokenLogprobsBackward(logits, targets, sync.logZ, g);
    const pending = ops.tokenLogprobsBackwardAsync(logits, targets, sync.logZ, g);
    logits.dispose(); // the op in flight keeps its inputs alive
    expect((await pending).toArray()).toEqual(dSync.toArray());
  });

  test('entropy is never negative (1-wide vocabularies, near one-hot rows); the backward uses the same H', () => {
    onTarget(target, () => {
      const rng = new Rng(11);
      const R = 64;
      for (const V of [1, 2, 3, 17]) {
        // Each row: one hot logit, the others 20-30 below it (p of the rest ~1e-9): H is ~0, where
        // ln s - ln2 * d / s cancels in float32 (a 1-wide vocabulary gave -1.8e-8).
        const z = new Float32Array(R * V), t = new Int32Array(R);
        for (let r = 0; r < R; r++) {
          t[r] = rng.int(0, V);
          const hot = rng.normal() * 5;
          for (let v = 0; v < V; v++) z[r * V + v] = v === t[r] ? hot : hot - 20 - rng.uniform(0, 10);
        }
        for (const dtype of ['float32', 'bfloat16'] as const) {
          const logits = Tensor.from(dtype === 'float32' ? z : toBFloat16(z), [R, V], { device, dtype }), targets = Tensor.from(t, [R], { device });
          for (const temperature of [1, 0.7]) {
            const out = ops.tokenLogprobs(logits, targets, { entropy: true, temperature });
            const h = out.entropy!.toArray() as Float32Array;
            const ref = tokenLogprobsReference(dtype === 'float32' ? z : fromBFloat16(toBFloat16(z)), t, R, V, temperature);
            for (let r = 0; r < R; r++) {
              expect(`V=${V} ${dtype} row ${r}: ${Object.is(h[r], -0) ? '-0' : h[r] >= 0 ? 'H >= 0' : h[r]}`).toBe(`V=${V} ${dtype} row ${r}: H >= 0`);
              expect(Math.abs(h[r] - ref.entropy[r])).toBeLessThanOrEqual(1e-6);
              if (V === 1) expect(h[r]).toBeLessThan(1e-7); // exactly 0 but for the rounding of z * scale - max * scale
            }
            // dentropy only: the backward with the forward's H and with H recomputed agree (to the
            // float32 rounding of H, ~1e-6 here, over tau), and for V = 1 (H constant 0) the gradient is 0
            // up to the rounding of t_v = log2 p_v.
            const zero = Tensor.zeros([R], { device }), ones = Tensor.from(new Float32Array(R).fill(1), [R], { device });
            const kept = ops.tokenLogprobsBackward(logits, targets, out.logZ, zero, { temperature, dentropy: ones, entropy: out.entropy }).toArray();
            const recomputed = ops.tokenLogprobsBackward(logits, targets, out.logZ, zero, { temperature, dentropy: ones }).toArray();
            expectClose(recomputed, kept, { rtol: 1e-4, atol: 5e-6 });
            // (t = z * scale - max * scale rounds to ~ulp(|z| * scale), up to ~4e-6 for |z| ~ 20.)
            if (V === 1) for (const d of kept) expect(Math.abs(d)).toBeLessThan(1e-5);
          }
        }
      }
    });
  });

  test('targets out of range name the argument, the range and the first bad index', () => {
    const logits = Tensor.from(new Float32Array(8), [4, 2], { device });
    const bad = Tensor.from(new Int32Array([0, 2, 1, -1]), [4], { device });
    expect(() => ops.tokenLogprobs(logits, bad)).toThrow(ArgumentError);
    expect(() => ops.tokenLogprobs(logits, bad)).toThrow('Expected every target in [0, 2) but received 2 at index 1');
    const negative = Tensor.from(new Int32Array([0, 1, 1, -7]), [4], { device });
    const zeros = Tensor.zeros([4], { device });
    expect(() => ops.tokenLogprobsBackward(logits, negative, zeros, zeros)).toThrow('Expected every target in [0, 2) but received -7 at index 3');
  });
});

describeOn('cpu', 'tokenLogprobs behaviour', () => {
  const rng = new Rng(5);
  const R = 37, V = 3001;
  const z = rng.floats(R * V, 3), t = rng.ints(R, 0, V);
  const logits = Tensor.from(z, [R, V]), targets = Tensor.from(t, [R]);

  test('results do not depend on the thread count', () => {
    setNumThreads(1);
    const one = ops.tokenLogprobs(logits, targets, { entropy: true });
    const dOne = ops.tokenLogprobsBackward(logits, targets, one.logZ, one.logprobs);
    setNumThreads(0);
    const all = ops.tokenLogprobs(logits, targets, { entropy: true });
    const dAll = ops.tokenLogprobsBackward(logits, targets, all.logZ, all.logprobs);
    expect(Buffer.compare(Buffer.from(one.logprobs.toArray().buffer), Buffer.from(all.logprobs.toArray().buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(one.entropy!.toArray().buffer), Buffer.from(all.entropy!.toArray().buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(dOne.toArray().buffer), Buffer.from(dAll.toArray().buffer))).toBe(0);
  });

  test('leading dimensions are kept: logits [B,T,V] give logprobs [B,T]', () => {
    const out = ops.tokenLogprobs(logits.reshape([1, R, V]), targets.reshape([1, R]));
    expect(out.logprobs.shape).toEqual([1, R]);
    expect(out.entropy).toBeUndefined();
  });

  test('async forms resolve to the sync results', async () => {
    const sync = ops.tokenLogprobs(logits, targets, { entropy: true });
    const async = await ops.tokenLogprobsAsync(logits, targets, { entropy: true });
    expect(async.logprobs.toArray()).toEqual(sync.logprobs.toArray());
    expect(async.entropy!.toArray()).toEqual(sync.entropy!.toArray());
    const g = Tensor.from(rng.floats(R), [R]);
    const dSync = ops.tokenLogprobsBackward(logits, targets, sync.logZ, g);
    const dAsync = await ops.tokenLogprobsBackwardAsync(logits, targets, sync.logZ, g);
    expect(dAsync.toArray()).toEqual(dSync.toArray());
  });

  test('backward writes into options.out when given', () => {
    const out = Tensor.zeros([R, V]);
    const fwd = ops.tokenLogprobs(logits, targets);
    const g = Tensor.from(rng.floats(R), [R]);
    const returned = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, g, { out });
    expect(returned).toBe(out);
    expect(out.toArray()).toEqual(ops.tokenLogprobsBackward(logits, targets, fwd.logZ, g).toArray());
  });

  test('a target with a -inf logit has logprob -inf', () => {
    const zz = new Float32Array([0, -Infinity, 1]);
    const out = ops.tokenLogprobs(Tensor.from(zz, [1, 3]), Tensor.from(new Int32Array([1]), [1]));
    expect(out.logprobs.toArray()[0]).toBe(-Infinity);
  });
});

describeOn('cpu', 'tokenLogprobs errors', () => {
  const logits = Tensor.from(new Float32Array(6), [2, 3]);
  const targets = Tensor.from(new Int32Array([0, 2]), [2]);

  test('targets out of range name the argument, the range and the index', () => {
    const bad = Tensor.from(new Int32Array([0, 3]), [2]);
    expect(() => ops.tokenLogprobs(logits, bad)).toThrow(ArgumentError);
    expect(() => ops.tokenLogprobs(logits, bad)).toThrow('Expected every target in [0, 3) but received 3 at index 1');
    const negative = Tensor.from(new Int32Array([-1, 0]), [2]);
    expect(() => ops.tokenLogprobsBackward(logits, negative, Tensor.zeros([2]), Tensor.zeros([2]))).toThrow('received -1 at index 0');
  });

  test('wrong dtypes and shapes', () => {
    expect(() => ops.tokenLogprobs(logits, Tensor.from(new Float32Array(2), [2]))).toThrow(DTypeError);
    expect(() => ops.tokenLogprobs(logits, Tensor.from(new Float32Array(2), [2]))).toThrow('Expected dtype int32 for targets');
    expect(() => ops.tokenLogprobs(logits, Tensor.from(new Int32Array(3), [3]))).toThrow(ShapeError);
    expect(() => ops.tokenLogprobs(logits, Tensor.from(new Int32Array(3), [3]))).toThrow('Expected shape [2] for targets but received [3]');
    expect(() => ops.tokenLogprobsBackward(logits, targets, Tensor.zeros([3]), Tensor.zeros([2]))).toThrow('for logZ');
    expect(() => ops.tokenLogprobsBackward(logits, targets, Tensor.zeros([2]), Tensor.zeros([2]), { out: Tensor.zeros([3, 2]) })).toThrow(ShapeError);
  });

  test('bad options and non-tensors', () => {
    expect(() => ops.tokenLogprobs(logits, targets, { temperature: 0 })).toThrow('Expected a finite number > 0 for options.temperature but received 0 of type number');
    expect(() => ops.tokenLogprobs(logits, targets, { temperature: NaN })).toThrow(ArgumentError);
    expect(() => ops.tokenLogprobs(logits, targets, { temprature: 2 } as never)).toThrow('unknown option "temprature"');
    expect(() => ops.tokenLogprobs(logits, targets, { entropy: 'yes' } as never)).toThrow('Expected a boolean for options.entropy');
    expect(() => ops.tokenLogprobs(new Float32Array(6) as never, targets)).toThrow('Expected a Tensor for logits but received Float32Array(6)');
    expect(() => ops.tokenLogprobs(undefined as never, targets)).toThrow('Expected a Tensor for logits but received undefined');
  });

  test('disposed tensors are refused', () => {
    const dead = Tensor.from(new Float32Array(6), [2, 3]);
    dead.dispose();
    expect(() => ops.tokenLogprobs(dead, targets)).toThrow(DisposedError);
    expect(() => ops.tokenLogprobs(dead, targets)).toThrow('Expected a live tensor for logits but received a disposed tensor');
  });
});

describeOn('cuda', 'tokenLogprobs across devices', () => {
  test('mixing cpu and cuda tensors is a DeviceError naming both', () => {
    const logits = Tensor.from(new Float32Array(6), [2, 3], { device: 'cuda' });
    const targets = Tensor.from(new Int32Array([0, 2]), [2]);
    expect(() => ops.tokenLogprobs(logits, targets)).toThrow(DeviceError);
    expect(() => ops.tokenLogprobs(logits, targets)).toThrow('Expected targets on cuda like logits but received a tensor on cpu');
    const fwd = ops.tokenLogprobs(logits, targets.to('cuda'));
    expect(() => ops.tokenLogprobsBackward(logits, targets.to('cuda'), fwd.logZ, Tensor.zeros([2]))).toThrow(DeviceError);
  });

  test('cuda and cpu agree to 2e-5 on the same inputs', () => {
    const R = 33, V = 4099;
    const rng = new Rng(8);
    const z = rng.floats(R * V, 4), t = rng.ints(R, 0, V), g = rng.floats(R);
    const run = (device: 'cpu' | 'cuda') => {
      const logits = Tensor.from(z, [R, V], { device }), targets = Tensor.from(t, [R], { device });
      const fwd = ops.tokenLogprobs(logits, targets, { entropy: true });
      const dz = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, Tensor.from(g, [R], { device }));
      return { logprobs: fwd.logprobs.toArray(), entropy: fwd.entropy!.toArray(), dz: dz.toArray() };
    };
    const cpu = run('cpu'), cuda = run('cuda');
    expectClose(cuda.logprobs, cpu.logprobs, { rtol: 2e-5, atol: 1e-5 });
    expectClose(cuda.entropy, cpu.entropy, { rtol: 2e-5, atol: 1e-5 });
    expectClose(cuda.dz, cpu.dz, { rtol: 2e-5, atol: 1e-8 });
  });

  test('results are deterministic: the same bits twice', () => {
    const R = 7, V = 5003;
    const rng = new Rng(9);
    const logits = Tensor.from(rng.floats(R * V, 3), [R, V], { device: 'cuda' }), targets = Tensor.from(rng.ints(R, 0, V), [R], { device: 'cuda' });
    const a = ops.tokenLogprobs(logits, targets, { entropy: true }), b = ops.tokenLogprobs(logits, targets, { entropy: true });
    expect(Buffer.compare(Buffer.from(a.entropy!.toArray().buffer), Buffer.from(b.entropy!.toArray().buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.logZ.toArray().buffer), Buffer.from(b.logZ.toArray().buffer))).toBe(0);
  });
});

test('this run covers the devices the backend has', () => {
  expect(hasCuda() || process.env.STEPRL_TEST_DEVICES !== 'cuda').toBe(true);
});
