// weibull_reward.test.ts: weibullReward against the float64 reference on every device (cpu, and
// cuda where the backend has it): the spec's vectors (h(1..12), p = [0.9, 0.8, 0.7, 0.9]), every
// shaping × aggregate over random ragged rows (K = 0..20, scores with exact 0s and 1s), minSteps,
// custom k/λ/C; plus thread-count independence and errors, including malformed offsets that the
// native layer (and on cuda the kernel) must refuse on its own.
import { ArgumentError, DeviceError, DisposedError, DTypeError, ShapeError, Tensor, ops, setNumThreads, type Device } from '../../lib';
import type { WeibullRewardOptions } from '../../lib/ops/weibull_reward';
import { weibullRewardReference } from '../reference/weibull_reward';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, type Target } from '../util/devices';
import { Rng } from '../util/random';

const TOL = { rtol: 2e-5, atol: 1e-30 };
const SHAPINGS = ['weibull', 'pspo_ff', 'linear'] as const;
const AGGREGATES = ['geomean', 'product', 'min', 'last'] as const;

function rewardOn(device: Device, rows: number[][], options: WeibullRewardOptions = {}): Float32Array {
  const offsets = [0];
  for (const row of rows) offsets.push(offsets[offsets.length - 1] + row.length);
  const scores = rows.flat();
  return ops.weibullReward(Tensor.from(scores, [scores.length], { device }), Tensor.from(new Int32Array(offsets), [offsets.length], { device }), options).toArray() as Float32Array;
}

/** Ragged rows of K = 0..maxK steps; scores uniform with some exact 0s and 1s. */
function makeSteps(rng: Rng, R: number, maxK = 20): { scores: Float32Array; offsets: Int32Array } {
  const offsets = new Int32Array(R + 1);
  for (let i = 0; i < R; i++) offsets[i + 1] = offsets[i] + rng.int(0, maxK + 1);
  const scores = new Float32Array(offsets[R]);
  for (let j = 0; j < scores.length; j++) {
    const kind = rng.int(0, 20);
    scores[j] = kind === 0 ? 0 : kind === 1 ? 1 : rng.next();
  }
  return { scores, offsets };
}

describeTargets('weibullReward', (target: Target) => {
  const device = target.device;
  const reward = (rows: number[][], options: WeibullRewardOptions = {}) => rewardOn(device, rows, options);
  test('h(1..12) of the spec', () => {
    const rows = Array.from({ length: 12 }, (_, n) => new Array(n + 1).fill(1));
    const h = reward(rows, { minSteps: 1 });
    // The spec prints 3 decimals; its h(8) = C·(k/λ)·e^−1 = 0.74047 appears as .741, hence atol 1e-3.
    expectClose(h, [0.681, 0.888, 0.98, 0.999, 0.971, 0.91, 0.831, 0.741, 0.647, 0.556, 0.471, 0.393], { rtol: 0, atol: 1e-3 });
    expect(h[7]).toBeCloseTo(10.735 * (1.5 / 8) * Math.exp(-1), 6);
    expect(h[3]).toBeCloseTo(0.9994, 4);
  });

  test('p = [0.9, 0.8, 0.7, 0.9]: geomean, Weibull, product, min, last, ff', () => {
    const p = [[0.9, 0.8, 0.7, 0.9]];
    expect(reward(p, { shaping: 'linear' })[0]).toBeCloseTo(0.82067, 5);
    expect(reward(p)[0]).toBeCloseTo(0.82018, 5);
    expect(reward(p, { shaping: 'linear', aggregate: 'product' })[0]).toBeCloseTo(0.4536, 6);
    expect(reward(p, { shaping: 'linear', aggregate: 'min' })[0]).toBeCloseTo(0.7, 6);
    expect(reward(p, { shaping: 'linear', aggregate: 'last' })[0]).toBeCloseTo(0.9, 6);
    expect(reward(p, { shaping: 'pspo_ff' })[0]).toBeCloseTo(4.9765, 4);
  });

  test('fewer than minSteps steps, and no steps at all, give 0', () => {
    expect(Array.from(reward([[], [0.9], [0.9, 0.9]]))).toEqual([0, 0, reward([[0.9, 0.9]])[0]]);
    expect(Array.from(reward([[], [0.9]], { minSteps: 0 }))).toEqual([0, reward([[0.9]], { minSteps: 1 })[0]]);
    expect(Array.from(reward([[0.9, 0.9, 0.9]], { minSteps: 4 }))).toEqual([0]);
  });

  test('a zero score: geomean and product use the 1e-12 floor, min gives 0', () => {
    expectClose(reward([[0, 1]], { shaping: 'linear' }), [1e-6], TOL);
    expectClose(reward([[0, 0.5]], { shaping: 'linear', aggregate: 'product' }), [5e-13], TOL);
    expect(reward([[0, 0.5, 0.7]], { aggregate: 'min', shaping: 'pspo_ff' })[0]).toBe(0);
  });

  test.each([1, 7, 41, 1271])('R = %i ragged rows: every shaping and aggregate match float64', (R) => {
    const { scores, offsets } = makeSteps(new Rng(R), R);
    for (const shaping of SHAPINGS)
      for (const aggregate of AGGREGATES)
        for (const extra of [{}, { minSteps: 0 }, { k: 2.5, lambda: 3, peak: 2 }]) {
          const o = { shaping, aggregate, ...extra };
          const out = ops.weibullReward(Tensor.from(scores, [scores.length], { device }), Tensor.from(offsets, [R + 1], { device }), o);
          expect(out.shape).toEqual([R]);
          expect(out.device).toBe(device);
          expectClose(out.toArray(), weibullRewardReference(scores, offsets, o), TOL);
        }
  });

  test('no rows at all', () => {
    expect(ops.weibullReward(Tensor.zeros([0], { device }), Tensor.from(new Int32Array([0]), [1], { device })).shape).toEqual([0]);
  });

  test('bad offsets and scores give the same errors on every device', () => {
    const scores = Tensor.from([0.5, 0.6, 0.7], [3], { device });
    const bad = (values: number[]) => () => ops.weibullReward(scores, Tensor.from(new Int32Array(values), [values.length], { device }));
    expect(bad([1, 2, 3])).toThrow(ArgumentError);
    expect(bad([1, 2, 3])).toThrow('Expected 0 for stepOffsets[0] but received 1 of type number');
    expect(bad([0, 2, 1, 3])).toThrow('Expected non-decreasing values for stepOffsets but received 1 after 2 at index 2');
    expect(bad([0, 2, 4])).toThrow('Expected 3 (the number of step scores) for stepOffsets[2] but received 4 of type number');
    expect(bad([0, 1000000, 3])).toThrow('received 3 after 1000000 at index 2');
    expect(bad([0, -7, 3])).toThrow('received -7 after 0 at index 1');
    const offsets = Tensor.from(new Int32Array([0, 2, 3]), [3], { device });
    expect(() => ops.weibullReward(Tensor.from([0.5, 1.5, 0.7], [3], { device }), offsets))
      .toThrow('Expected a number in [0, 1] for every element of stepScores but received 1.5 of type number at index 1');
    expect(() => ops.weibullReward(Tensor.from([0.5, 0.6, NaN], [3], { device }), offsets)).toThrow('received NaN of type number at index 2');
  });

});

describeOn('cpu', 'weibullReward on the cpu: threads', () => {
  test('results do not depend on the thread count', () => {
    const R = 100000;
    const { scores, offsets } = makeSteps(new Rng(8), R, 12);
    const run = () => ops.weibullReward(Tensor.from(scores, [scores.length]), Tensor.from(offsets, [R + 1]), { shaping: 'pspo_ff' }).toArray();
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    expect(Buffer.compare(Buffer.from(one.buffer), Buffer.from(run().buffer))).toBe(0);
  });
});

describeOn('cpu', 'weibullReward errors', () => {
  const scores = Tensor.from([0.5, 0.6, 0.7], [3]);
  const offsets = Tensor.from(new Int32Array([0, 2, 3]), [3]);

  test('bad offsets', () => {
    const bad = (values: number[]) => () => ops.weibullReward(scores, Tensor.from(new Int32Array(values), [values.length]));
    expect(bad([1, 2, 3])).toThrow(ArgumentError);
    expect(bad([1, 2, 3])).toThrow('Expected 0 for stepOffsets[0] but received 1 of type number');
    expect(bad([0, 2, 1, 3])).toThrow('Expected non-decreasing values for stepOffsets but received 1 after 2 at index 2');
    expect(bad([0, 2, 4])).toThrow('Expected 3 (the number of step scores) for stepOffsets[2] but received 4 of type number');
    expect(bad([0, 2])).toThrow('for stepOffsets[1] but received 2');
    expect(() => ops.weibullReward(scores, Tensor.from(new Int32Array(0), [0]))).toThrow('Expected at least 1 element (R + 1) for stepOffsets');
  });

  test('scores outside [0, 1] or not finite', () => {
    expect(() => ops.weibullReward(Tensor.from([0.5, 1.5, 0.7], [3]), offsets))
      .toThrow('Expected a number in [0, 1] for every element of stepScores but received 1.5 of type number at index 1');
    expect(() => ops.weibullReward(Tensor.from([0.5, 0.6, NaN], [3]), offsets)).toThrow('received NaN of type number at index 2');
    expect(() => ops.weibullReward(Tensor.from([-0.1, 0.6, 0.7], [3]), offsets)).toThrow(ArgumentError);
  });

  test('wrong dtypes, ranks and options', () => {
    expect(() => ops.weibullReward(scores, Tensor.from([0, 2, 3], [3]))).toThrow(DTypeError);
    expect(() => ops.weibullReward(scores, Tensor.from([0, 2, 3], [3]))).toThrow('Expected dtype int32 for stepOffsets but received Tensor float32 [3] on cpu');
    expect(() => ops.weibullReward(scores.reshape([1, 3]), offsets)).toThrow(ShapeError);
    expect(() => ops.weibullReward(scores, offsets, { shaping: 'gauss' as never }))
      .toThrow(`Expected one of 'weibull', 'pspo_ff', 'linear' for options.shaping but received "gauss" of type string`);
    expect(() => ops.weibullReward(scores, offsets, { aggregate: 'mean' as never })).toThrow('for options.aggregate');
    expect(() => ops.weibullReward(scores, offsets, { k: 0 })).toThrow('Expected a finite number > 0 for options.k but received 0 of type number');
    expect(() => ops.weibullReward(scores, offsets, { minSteps: 1.5 })).toThrow('Expected an integer >= 0 for options.minSteps but received 1.5 of type number');
    expect(() => ops.weibullReward(scores, offsets, { C: 10 } as never)).toThrow('unknown option "C"');
  });

  test('disposed tensors are refused', () => {
    const dead = Tensor.from([0.5], [1]);
    dead.dispose();
    expect(() => ops.weibullReward(dead, offsets)).toThrow(DisposedError);
    expect(() => ops.weibullReward(dead, offsets)).toThrow('Expected a live tensor for stepScores but received a disposed tensor');
  });

  test('the native layer refuses offsets that would read out of bounds', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    const call = (offsetValues: number[], S = 3) =>
      native.weibullReward(new Float32Array(S), new Int32Array(offsetValues), S, offsetValues.length - 1, 'weibull', 'geomean', 1.5, 8, 10.735, 2);
    expect(() => call([0, 1000000, 3])).toThrow('Expected non-decreasing stepOffsets but received 3 after 1000000 at index 2');
    expect(() => call([0, 2, 1000000])).toThrow('Expected stepOffsets[2] = 3 (the number of step scores) but received 1000000');
    expect(() => call([-5, 2, 3])).toThrow('Expected stepOffsets[0] = 0 but received -5');
    expect(() => native.weibullReward(new Float32Array(3), new Int32Array([0, 2, 4]), 4, 2, 'weibull', 'geomean', 1.5, 8, 10.735, 2))
      .toThrow('Expected 4 elements for stepScores');
    const ok = call([0, 1, 3]); // K = 1 (below minSteps), then K = 2 zero scores: the 1e-12 floor
    expect(ok[0]).toBe(0);
    expect(ok[1]).toBeCloseTo(1e-12 * 0.888, 15);
  });
});

describeOn('cuda', 'weibullReward across devices', () => {
  test('mixing cpu and cuda tensors is a DeviceError', () => {
    expect(() => ops.weibullReward(Tensor.zeros([2], { device: 'cuda' }), Tensor.from(new Int32Array([0, 2]), [2]))).toThrow(DeviceError);
  });

  test('cuda gives the cpu result', () => {
    const { scores, offsets } = makeSteps(new Rng(12), 3001, 12);
    for (const shaping of SHAPINGS) {
      const cpu = ops.weibullReward(Tensor.from(scores, [scores.length]), Tensor.from(offsets, [3002]), { shaping }).toArray();
      const cuda = ops.weibullReward(Tensor.from(scores, [scores.length], { device: 'cuda' }), Tensor.from(offsets, [3002], { device: 'cuda' }), { shaping }).toArray();
      expectClose(cuda, cpu, { rtol: 1e-6, atol: 1e-30 });
    }
  });
});
