// kl_penalty.test.ts: klPenalty against the float64 reference for every estimator, on every device
// (the cpu at every SIMD level, cuda where the backend has it), over tiny, realistic and odd
// shapes, with differences d = ref − ℓ from 1e-7 (where e^d − d − 1 cancels) to beyond both
// clamps; plus determinism, async, views at odd offsets and errors (device mixing included).
import { ArgumentError, DeviceError, DisposedError, DTypeError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { klPenaltyReference, makeKlInputs, type KlEstimatorName } from '../reference/kl_penalty';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeOn, describeTargets, onTarget, type Target } from '../util/devices';
import { simdLevels, withSimd } from '../util/simd';

// Relative to float64 with no absolute slack: the tiny values of k3 (d ~ 1e-6) must be right too.
const TOL = { rtol: 2e-5, atol: 1e-30 };
const ESTIMATORS: KlEstimatorName[] = ['k1', 'k2', 'k3', 'k3+', 'abs'];
const SHAPES: number[][] = [[1], [1, 1], [7], [3, 17], [2, 3, 5], [41, 1271], [256, 1024], [0, 4]];

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

// Inputs and references do not depend on the SIMD level: build them once.
const memo = new Map<string, unknown>();
function cached<T>(key: string, make: () => T): T {
  if (!memo.has(key)) memo.set(key, make());
  return memo.get(key) as T;
}

describeTargets('klPenalty', (target: Target) => {
  const device = target.device;
  test.each(ESTIMATORS)('%s matches float64 over every shape', (estimator) => {
    onTarget(target, () => {
      for (const shape of SHAPES) {
        const n = shape.reduce((a, b) => a * b, 1);
        const { logprobs, ref, expected } = cached(`${shape.join('x')} ${estimator}`, () => {
          const inputs = makeKlInputs(new Rng(n + estimator.length), n);
          return { ...inputs, expected: klPenaltyReference(inputs.logprobs, inputs.ref, estimator) };
        });
        const out = ops.klPenalty(Tensor.from(logprobs, shape, { device }), Tensor.from(ref, shape, { device }), { estimator });
        expect(out.kl.device).toBe(device);
        expect(out.kl.shape).toEqual(shape);
        expect(out.dkl.shape).toEqual(shape);
        expectClose(out.kl.toArray(), expected.kl, TOL);
        expectClose(out.dkl.toArray(), expected.dkl, TOL);
      }
    });
  });

  test('k3 edge values: 0 at d = 0, clamps at ±20 and 10, exact small-d series', () => {
    onTarget(target, () => {
      const ref = new Float32Array([0, 1e-7, -1e-7, 0.5, -0.5, 0.50001, 2, 3, -12, 25, -25, 20, -20]);
      const logprobs = new Float32Array(ref.length);
      const out = ops.klPenalty(Tensor.from(logprobs, [ref.length], { device }), Tensor.from(ref, [ref.length], { device }));
      const kl = out.kl.toArray(), dkl = out.dkl.toArray();
      expect(kl[0]).toBe(0);
      expect(Math.abs(dkl[0])).toBe(0); // -expm1(0)
      expectClose(kl.subarray(1, 3), [5e-15 + 1e-21 / 6, 5e-15 - 1e-21 / 6], { rtol: 2e-5, atol: 0 });
      for (const i of [7, 8, 9, 10, 11, 12]) {
        expect(kl[i]).toBe(10);
        expect(dkl[i]).toBe(0);
      }
      const plus = ops.klPenalty(Tensor.from(logprobs, [ref.length], { device }), Tensor.from(ref, [ref.length], { device }), { estimator: 'k3+' });
      expect(Array.from(plus.kl.toArray())).toEqual(Array.from(kl));
      expect(Array.from(plus.dkl.toArray())).toEqual(Array.from(ref, (d) => -d));
    });
  });

  test('abs has gradient 0 at d = 0 and -sign(d) elsewhere', () => {
    onTarget(target, () => {
      const l = Tensor.from([1, 1, 1], [3], { device }), ref = Tensor.from([1, 2, 0], [3], { device });
      const out = ops.klPenalty(l, ref, { estimator: 'abs' });
      expect(Array.from(out.kl.toArray())).toEqual([0, 1, 1]);
      expect(Array.from(out.dkl.toArray())).toEqual([0, -1, 1]);
    });
  });
  test('views at offsets that misalign the four arrays differently', () => {
    onTarget(target, () => {
      const n = 1031;
      const { logprobs, ref } = makeKlInputs(new Rng(77), n + 3);
      const l = Tensor.from(logprobs, [n + 3], { device }), r = Tensor.from(ref, [n + 3], { device });
      for (const [a, b] of [[0, 0], [1, 1], [1, 2], [3, 0]]) {
        const out = ops.klPenalty(l.view(a, [n]), r.view(b, [n]));
        const expected = klPenaltyReference(logprobs.subarray(a, a + n), ref.subarray(b, b + n), 'k3');
        expectClose(out.kl.toArray(), expected.kl, TOL);
        expectClose(out.dkl.toArray(), expected.dkl, TOL);
      }
    });
  });

  test('the async form resolves to the sync result', async () => {
    const { logprobs, ref } = makeKlInputs(new Rng(12), 5 * 999);
    const l = Tensor.from(logprobs, [5, 999], { device }), r = Tensor.from(ref, [5, 999], { device });
    const sync = ops.klPenalty(l, r, { estimator: 'k3' });
    const async = await ops.klPenaltyAsync(l, r, { estimator: 'k3' });
    expect(async.kl.device).toBe(device);
    expect(sameBits(async.kl.toArray() as Float32Array, sync.kl.toArray() as Float32Array)).toBe(true);
    expect(sameBits(async.dkl.toArray() as Float32Array, sync.dkl.toArray() as Float32Array)).toBe(true);
  });
});

describeOn('cpu', 'klPenalty behaviour', () => {
  const rng = new Rng(11);
  const { logprobs, ref } = makeKlInputs(rng, 37 * 3001);
  const l = Tensor.from(logprobs, [37, 3001]), r = Tensor.from(ref, [37, 3001]);

  test('results do not depend on the thread count', () => {
    setNumThreads(1);
    const one = ops.klPenalty(l, r);
    setNumThreads(0);
    const all = ops.klPenalty(l, r);
    expect(sameBits(one.kl.toArray() as Float32Array, all.kl.toArray() as Float32Array)).toBe(true);
    expect(sameBits(one.dkl.toArray() as Float32Array, all.dkl.toArray() as Float32Array)).toBe(true);
  });

  test('SIMD levels agree to 1e-6', () => {
    const levels = simdLevels();
    const results = levels.map((level) => withSimd(level, () => ops.klPenalty(l, r, { estimator: 'k3' })));
    for (const other of results.slice(1)) {
      expectClose(other.kl.toArray(), results[0].kl.toArray(), { rtol: 1e-6, atol: 1e-12 });
      expectClose(other.dkl.toArray(), results[0].dkl.toArray(), { rtol: 1e-6, atol: 1e-12 });
    }
  });

  test('the async form resolves to the sync result', async () => {
    for (const estimator of ESTIMATORS) {
      const sync = ops.klPenalty(l, r, { estimator });
      const async = await ops.klPenaltyAsync(l, r, { estimator });
      expect(sameBits(async.kl.toArray() as Float32Array, sync.kl.toArray() as Float32Array)).toBe(true);
      expect(sameBits(async.dkl.toArray() as Float32Array, sync.dkl.toArray() as Float32Array)).toBe(true);
    }
  });
});

describeOn('cpu', 'klPenalty errors', () => {
  const l = Tensor.from(new Float32Array(6), [2, 3]);
  const r = Tensor.from(new Float32Array(6), [2, 3]);

  test('wrong dtypes and shapes', () => {
    const ints = Tensor.from(new Int32Array(6), [2, 3]);
    expect(() => ops.klPenalty(ints, r)).toThrow(DTypeError);
    expect(() => ops.klPenalty(ints, r)).toThrow('Expected dtype float32 for logprobs but received Tensor int32 [2, 3] on cpu');
    expect(() => ops.klPenalty(l, Tensor.zeros([3, 2]))).toThrow(ShapeError);
    expect(() => ops.klPenalty(l, Tensor.zeros([3, 2]))).toThrow('Expected shape [2, 3] for refLogprobs but received [3, 2]');
    expect(() => ops.klPenalty(l, new Float32Array(6) as never)).toThrow('Expected a Tensor for refLogprobs but received Float32Array(6)');
  });

  test('bad options', () => {
    expect(() => ops.klPenalty(l, r, { estimator: 'k4' as never })).toThrow(ArgumentError);
    expect(() => ops.klPenalty(l, r, { estimator: 'k4' as never }))
      .toThrow(`Expected one of 'k1', 'k2', 'k3', 'k3+', 'abs' for options.estimator but received "k4" of type string`);
    expect(() => ops.klPenalty(l, r, { estimater: 'k1' } as never)).toThrow('unknown option "estimater"');
    expect(() => ops.klPenalty(l, r, 'k1' as never)).toThrow('Expected an options object for options but received "k1" of type string');
  });

  test('disposed tensors are refused', () => {
    const dead = Tensor.from(new Float32Array(6), [2, 3]);
    dead.dispose();
    expect(() => ops.klPenalty(l, dead)).toThrow(DisposedError);
    expect(() => ops.klPenalty(l, dead)).toThrow('Expected a live tensor for refLogprobs but received a disposed tensor');
  });

  test('the native layer re-checks element counts and the estimator', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    expect(() => native.klPenalty(new Float32Array(5), new Float32Array(6), 6, 'k3', false)).toThrow('Expected 6 elements for logprobs');
    expect(() => native.klPenalty(new Float32Array(6), new Float32Array(6), 6, 'k9', false)).toThrow('for estimator but received k9');
  });
});

describeOn('cuda', 'klPenalty across devices', () => {
  test('mixing cpu and cuda tensors is a DeviceError', () => {
    const l = Tensor.zeros([2, 3], { device: 'cuda' }), r = Tensor.zeros([2, 3]);
    expect(() => ops.klPenalty(l, r)).toThrow(DeviceError);
    expect(() => ops.klPenalty(l, r)).toThrow('Expected refLogprobs on cuda like logprobs but received a tensor on cpu');
  });

  test('cuda and cpu agree on every estimator', () => {
    const { logprobs, ref } = makeKlInputs(new Rng(21), 4099);
    for (const estimator of ESTIMATORS) {
      const cpu = ops.klPenalty(Tensor.from(logprobs, [4099]), Tensor.from(ref, [4099]), { estimator });
      const cuda = ops.klPenalty(Tensor.from(logprobs, [4099], { device: 'cuda' }), Tensor.from(ref, [4099], { device: 'cuda' }), { estimator });
      expectClose(cuda.kl.toArray(), cpu.kl.toArray(), { rtol: 2e-6, atol: 1e-30 });
      expectClose(cuda.dkl.toArray(), cpu.dkl.toArray(), { rtol: 2e-6, atol: 1e-30 });
    }
  });
});
