// token_logprobs.test.ts: tokenLogprobs / tokenLogprobsBackward against the float64 reference,
// on every SIMD level, over tiny, realistic and odd shapes, bf16 input, temperatures, -inf logits,
// masked rows and upstream gradients other than 1; plus determinism, async forms and errors.
// (The same ops are checked against PyTorch autograd in test/torch/ when torch is installed.)
import { ArgumentError, DisposedError, DTypeError, ShapeError, Tensor, fromBFloat16, ops, setNumThreads, toBFloat16 } from '../../lib';
import { tokenLogprobsBackwardReference, tokenLogprobsReference } from '../reference/token_logprobs';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { simdLevels, withSimd } from '../util/simd';

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

describe.each(simdLevels())('tokenLogprobs on the cpu (%s)', (level) => {
  test.each(CASES)('forward matches float64: R=$R V=$V tau=$temperature', (c) => {
    withSimd(level, () => {
      const rng = new Rng(c.R * 1000 + c.V);
      const z = makeLogits(rng, c), t = makeTargets(rng, z, c);
      const out = ops.tokenLogprobs(Tensor.from(z, [c.R, c.V]), Tensor.from(t, [c.R]), { temperature: c.temperature, entropy: true });
      const ref = tokenLogprobsReference(z, t, c.R, c.V, c.temperature);
      expect(out.logprobs.shape).toEqual([c.R]);
      expectClose(out.logprobs.toArray(), ref.logprobs, { ...TOL, scale: ref.logprobsScale });
      expectClose(out.logZ.toArray(), ref.logZ, TOL);
      expectClose(out.entropy!.toArray(), ref.entropy, { ...TOL, scale: ref.entropyScale });
    });
  });

  test.each(CASES)('backward matches float64: R=$R V=$V tau=$temperature', (c) => {
    withSimd(level, () => {
      const rng = new Rng(c.R * 7 + c.V);
      const z = makeLogits(rng, c), t = makeTargets(rng, z, c);
      const g = rng.floats(c.R, 1.5), gh = rng.floats(c.R, 0.5);
      if (c.R > 2) {
        g[1] = 0; // a masked row: no gradient at all
        gh[1] = 0;
        gh[2] = 0; // logprob gradient only
      }
      const logits = Tensor.from(z, [c.R, c.V]), targets = Tensor.from(t, [c.R]);
      const fwd = ops.tokenLogprobs(logits, targets, { temperature: c.temperature, entropy: true });
      const ref = tokenLogprobsBackwardReference(z, t, g, gh, c.R, c.V, c.temperature);
      const withEntropy = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, Tensor.from(g, [c.R]), {
        temperature: c.temperature, dentropy: Tensor.from(gh, [c.R]), entropy: fwd.entropy,
      });
      // The entropy recomputed inside the backward must give the same gradient.
      const recomputed = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, Tensor.from(g, [c.R]), {
        temperature: c.temperature, dentropy: Tensor.from(gh, [c.R]),
      });
      expect(withEntropy.shape).toEqual([c.R, c.V]);
      expectClose(withEntropy.toArray(), ref.dlogits, { ...TOL, scale: ref.scale });
      expectClose(recomputed.toArray(), ref.dlogits, { ...TOL, scale: ref.scale });
      const masked = withEntropy.toArray().subarray(c.V, 2 * c.V);
      if (c.R > 2) expect(masked.every((x) => x === 0)).toBe(true);
    });
  });

  test('bfloat16 logits give the float32 result of the rounded values', () => {
    withSimd(level, () => {
      const c: Case = { R: 9, V: 777, temperature: 0.9, scale: 3, negInf: true };
      const rng = new Rng(99);
      const z = makeLogits(rng, c), t = makeTargets(rng, z, c);
      const bits = toBFloat16(z), widened = fromBFloat16(bits);
      const logits = Tensor.from(bits, [c.R, c.V], { dtype: 'bfloat16' }), targets = Tensor.from(t, [c.R]);
      const out = ops.tokenLogprobs(logits, targets, { temperature: c.temperature, entropy: true });
      const ref = tokenLogprobsReference(widened, t, c.R, c.V, c.temperature);
      expectClose(out.logprobs.toArray(), ref.logprobs, { ...TOL, scale: ref.logprobsScale });
      expectClose(out.entropy!.toArray(), ref.entropy, { ...TOL, scale: ref.entropyScale });
      const g = rng.floats(c.R);
      const dz = ops.tokenLogprobsBackward(logits, targets, out.logZ, Tensor.from(g, [c.R]), { temperature: c.temperature });
      const dref = tokenLogprobsBackwardReference(widened, t, g, null, c.R, c.V, c.temperature);
      expectClose(dz.toArray(), dref.dlogits, { ...TOL, scale: dref.scale });
    });
  });
});

describe('tokenLogprobs behaviour', () => {
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

describe('tokenLogprobs errors', () => {
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
