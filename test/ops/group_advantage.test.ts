// group_advantage.test.ts: groupAdvantages against the float64 reference on every device (the cpu
// at every SIMD level, cuda where the backend has it): the spec's vector, singleton and
// zero-variance groups, scattered and extreme int32 ids, binary and continuous rewards, both
// scales and both std conventions, over tiny, realistic and odd sizes (powers of two and not);
// plus thread-count and SIMD-level independence and errors (device mixing included).
import { ArgumentError, DeviceError, DisposedError, DTypeError, ShapeError, Tensor, ops, setNumThreads, type Device } from '../../lib';
import { groupAdvantagesReference, rlooAdvantagesReference, type GroupAdvantageReferenceOptions } from '../reference/group_advantage';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeOn, describeTargets, onTarget, type Target } from '../util/devices';
import { simdLevels, withSimd } from '../util/simd';

const TOL = { rtol: 2e-5, atol: 1e-30 };

/** Groups of mixed sizes (1 included) under shuffled, scattered int32 ids; some all-equal groups. */
function makeGroups(rng: Rng, R: number, binary: boolean): { rewards: Float32Array; ids: Int32Array } {
  const rewards = new Float32Array(R), ids = new Int32Array(R);
  const sizes = [1, 2, 4, 8, 16, 64, 5];
  const extremes = [2147483647, -2147483648, 0, -1];
  let row = 0, g = 0;
  while (row < R) {
    const size = Math.min(sizes[rng.int(0, sizes.length)], R - row);
    const id = g < extremes.length ? extremes[g] : rng.int(-2e9, 2e9);
    const constant = rng.int(0, 6) === 0;
    const base = binary ? rng.int(0, 2) : rng.normal() * 3;
    for (let k = 0; k < size; k++, row++) {
      ids[row] = id;
      rewards[row] = constant ? base : binary ? rng.int(0, 2) : base + rng.normal();
    }
    g++;
  }
  for (let i = R - 1; i > 0; i--) { // scatter: rows of a group end up anywhere
    const j = rng.int(0, i + 1);
    [rewards[i], rewards[j]] = [rewards[j], rewards[i]];
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return { rewards, ids };
}

const onDevice = (device: Device) => (r: ArrayLike<number>, ids: ArrayLike<number>, o: GroupAdvantageReferenceOptions = {}) =>
  ops.groupAdvantages(Tensor.from(Float32Array.from(r), [r.length], { device }), Tensor.from(Int32Array.from(ids), [ids.length], { device }), o).toArray();

describeTargets('groupAdvantages', (target: Target) => {
  const device = target.device;
  const advantages = onDevice(device);
  test('the spec vector: r = [1, 0, 0, 0] in one group', () => {
    expectClose(advantages([1, 0, 0, 0], [7, 7, 7, 7]), [1.499997, -0.499999, -0.499999, -0.499999], { rtol: 1e-6 });
    // population std: σ = √(3/16), a factor √(4/3) on A
    const population = advantages([1, 0, 0, 0], [7, 7, 7, 7], { std: 'population' });
    expectClose(population, [0.75 / (Math.sqrt(3 / 16) + 1e-6), -0.25 / (Math.sqrt(3 / 16) + 1e-6), -0.25 / (Math.sqrt(3 / 16) + 1e-6), -0.25 / (Math.sqrt(3 / 16) + 1e-6)], TOL);
    expectClose(advantages([1, 0, 0, 0], [7, 7, 7, 7], { scale: 'none' }), [0.75, -0.25, -0.25, -0.25], TOL);
  });

  test('singletons: A = r/(1 + eps) with std, r without', () => {
    expectClose(advantages([0.7, -2, 5], [1, 2, 3]), [0.7 / (1 + 1e-6), -2 / (1 + 1e-6), 5 / (1 + 1e-6)], TOL);
    expectClose(advantages([0.7, -2, 5], [1, 2, 3], { scale: 'none', eps: 0.5 }), [0.7, -2, 5], TOL);
    expectClose(advantages([3], [0], { eps: 0 }), [3], TOL);
  });

  test('all-equal groups give exactly 0, even where the float mean is inexact', () => {
    const out = advantages([0.1, 0.1, 0.1, 1, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], [4, 4, 4, 9, 5, 5, 5, 5, 5, 5, 5]);
    expect(Array.from(out)).toEqual([0, 0, 0, 1 / (1 + 1e-6), 0, 0, 0, 0, 0, 0, 0].map((x) => Math.fround(x)));
  });

  test.each([1, 2, 17, 1024, 1271, 4096, 20000])('R = %i, binary and continuous rewards, every option', (R) => {
    onTarget(target, () => {
      for (const binary of [true, false]) {
        const { rewards, ids } = makeGroups(new Rng(R + (binary ? 1 : 0)), R, binary);
        const r = Tensor.from(rewards, [R], { device }), g = Tensor.from(ids, [R], { device });
        for (const o of [{}, { std: 'population' as const }, { scale: 'none' as const }, { eps: 0.1 }, { eps: 0 }]) {
          const out = ops.groupAdvantages(r, g, o);
          expect(out.shape).toEqual([R]);
          expect(out.dtype).toBe('float32');
          expect(out.device).toBe(device);
          expectClose(out.toArray(), groupAdvantagesReference(rewards, ids, o), TOL);
        }
      }
    });
  });

  test('one group of every row, and every row its own group', () => {
    const R = 3000;
    const rewards = new Rng(4).floats(R);
    expectClose(advantages(rewards, new Int32Array(R).fill(-5)), groupAdvantagesReference(rewards, new Int32Array(R).fill(-5)), TOL);
    const ids = Int32Array.from({ length: R }, (_, i) => R - i);
    expectClose(advantages(rewards, ids), groupAdvantagesReference(rewards, ids), TOL);
  });

  test('an empty batch gives an empty tensor', () => {
    expect(ops.groupAdvantages(Tensor.zeros([0], { device }), Tensor.zeros([0], { dtype: 'int32', device })).shape).toEqual([0]);
  });

  test('non-finite rewards name the first index and its value', () => {
    const ids = Tensor.from(new Int32Array([0, 0, 1, 1]), [4], { device });
    expect(() => ops.groupAdvantages(Tensor.from([1, NaN, 0, Infinity], [4], { device }), ids)).toThrow(ArgumentError);
    expect(() => ops.groupAdvantages(Tensor.from([1, NaN, 0, Infinity], [4], { device }), ids))
      .toThrow('Expected a finite number for every element of rewards but received NaN of type number at index 1');
    expect(() => ops.groupAdvantages(Tensor.from([1, 0, -Infinity, 2], [4], { device }), ids)).toThrow('received -Infinity of type number at index 2');
  });

});

describeOn('cpu', 'groupAdvantages on the cpu: threads and SIMD levels', () => {
  test('results do not depend on the thread count or the SIMD level', () => {
    const R = 200000;
    const { rewards, ids } = makeGroups(new Rng(3), R, false);
    const run = () => ops.groupAdvantages(Tensor.from(rewards, [R]), Tensor.from(ids, [R])).toArray();
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    const all = run();
    expect(Buffer.compare(Buffer.from(one.buffer), Buffer.from(all.buffer))).toBe(0);
    for (const level of simdLevels()) expect(Buffer.compare(Buffer.from(withSimd(level, run).buffer), Buffer.from(one.buffer))).toBe(0);
  });
});

describeOn('cpu', 'groupAdvantages errors', () => {
  const rewards = Tensor.from([1, 0, 1], [3]);
  const ids = Tensor.from(new Int32Array([0, 0, 1]), [3]);

  test('wrong dtypes and shapes', () => {
    expect(() => ops.groupAdvantages(rewards, Tensor.from([0, 0, 1], [3]))).toThrow(DTypeError);
    expect(() => ops.groupAdvantages(rewards, Tensor.from([0, 0, 1], [3]))).toThrow('Expected dtype int32 for groupIds but received Tensor float32 [3] on cpu');
    expect(() => ops.groupAdvantages(rewards, Tensor.from(new Int32Array(4), [4]))).toThrow(ShapeError);
    expect(() => ops.groupAdvantages(rewards, Tensor.from(new Int32Array(4), [4]))).toThrow('Expected shape [3] for groupIds but received [4]');
    expect(() => ops.groupAdvantages(rewards.reshape([3, 1]), ids)).toThrow('Expected a 1-d tensor for rewards but received shape [3, 1]');
  });

  test('non-finite rewards', () => {
    expect(() => ops.groupAdvantages(Tensor.from([1, NaN, 0], [3]), ids)).toThrow(ArgumentError);
    expect(() => ops.groupAdvantages(Tensor.from([1, NaN, 0], [3]), ids))
      .toThrow('Expected a finite number for every element of rewards but received NaN of type number at index 1');
    expect(() => ops.groupAdvantages(Tensor.from([1, 0, -Infinity], [3]), ids)).toThrow('received -Infinity of type number at index 2');
  });

  test('bad options', () => {
    expect(() => ops.groupAdvantages(rewards, ids, { scale: 'mad' as never }))
      .toThrow(`Expected one of 'std', 'none' for options.scale but received "mad" of type string`);
    expect(() => ops.groupAdvantages(rewards, ids, { std: 'sample' as never })).toThrow(`Expected one of 'unbiased', 'population' for options.std`);
    expect(() => ops.groupAdvantages(rewards, ids, { eps: -1 })).toThrow('Expected a finite number >= 0 for options.eps but received -1 of type number');
    expect(() => ops.groupAdvantages(rewards, ids, { epsilon: 1e-6 } as never)).toThrow('unknown option "epsilon"');
  });

  test('disposed tensors are refused', () => {
    const dead = Tensor.from(new Int32Array(3), [3]);
    dead.dispose();
    expect(() => ops.groupAdvantages(rewards, dead)).toThrow(DisposedError);
    expect(() => ops.groupAdvantages(rewards, dead)).toThrow('Expected a live tensor for groupIds but received a disposed tensor');
  });

  test('the native layer re-checks sizes and names', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    expect(() => native.groupAdvantages(new Float32Array(3), new Int32Array(2), 3, 'std', 1e-6, 'unbiased')).toThrow('Expected 3 elements for groupIds');
    expect(() => native.groupAdvantages(new Float32Array(3), new Int32Array(3), 3, 'std', 1e-6, 'biased')).toThrow('for std but received biased');
  });
});

describeOn('cuda', 'groupAdvantages across devices', () => {
  test('mixing cpu and cuda tensors is a DeviceError', () => {
    expect(() => ops.groupAdvantages(Tensor.zeros([3], { device: 'cuda' }), Tensor.zeros([3], { dtype: 'int32' }))).toThrow(DeviceError);
  });

  test('cuda gives the cpu result, deterministically', () => {
    const R = 5000;
    const { rewards, ids } = makeGroups(new Rng(31), R, false);
    const cpu = ops.groupAdvantages(Tensor.from(rewards, [R]), Tensor.from(ids, [R])).toArray();
    const r = Tensor.from(rewards, [R], { device: 'cuda' }), g = Tensor.from(ids, [R], { device: 'cuda' });
    const a = ops.groupAdvantages(r, g).toArray(), b = ops.groupAdvantages(r, g).toArray();
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
    expectClose(a, cpu, { rtol: 1e-6, atol: 1e-30 });
  });
});

/** makeGroups without singleton groups (each joined to a neighbour's id). */
function makeRlooGroups(rng: Rng, R: number, binary: boolean): { rewards: Float32Array; ids: Int32Array } {
  const { rewards, ids } = makeGroups(rng, R, binary);
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (let i = 0; i < R; i++) if (counts.get(ids[i]) === 1) ids[i] = ids[i === 0 ? 1 : i - 1];
  return { rewards, ids };
}

describeTargets('rlooAdvantages', (target: Target) => {
  const device = target.device;
  const rloo = (r: ArrayLike<number>, ids: ArrayLike<number>) =>
    ops.rlooAdvantages(Tensor.from(Float32Array.from(r), [r.length], { device }), Tensor.from(Int32Array.from(ids), [ids.length], { device })).toArray();

  test('a hand-computed group: r = [1, 0, 0, 0] → [1, −1/3, −1/3, −1/3]; pairs; all-equal groups give 0', () => {
    expectClose(rloo([1, 0, 0, 0], [7, 7, 7, 7]), [1, -1 / 3, -1 / 3, -1 / 3], { rtol: 1e-6 });
    expectClose(rloo([2, 5, 0.5, 0.5, 0.5], [1, 1, -4, -4, -4]), [-3, 3, 0, 0, 0], { rtol: 1e-6 });
    expect(Array.from(rloo([0.1, 0.1, 0.1], [3, 3, 3]))).toEqual([0, 0, 0]);
  });

  test.each([2, 5, 41, 1271, 8192])('R = %i matches the leave-one-out float64 reference (binary and continuous rewards)', (R) => {
    onTarget(target, () => {
      for (const binary of [true, false]) {
        const { rewards, ids } = makeRlooGroups(new Rng(R + (binary ? 1 : 0)), R, binary);
        expectClose(rloo(rewards, ids), rlooAdvantagesReference(rewards, ids), { rtol: 2e-5, atol: 1e-6 });
      }
    });
  });

  test('a group of one row is refused, naming its id and row', () => {
    const message = 'Expected at least 2 rows in every group for RLOO but received group id 9 with 1 row (row 2)';
    expect(() => rloo([1, 0, 3, 4], [5, 5, 9, 5])).toThrow(ArgumentError);
    expect(() => rloo([1, 0, 3, 4], [5, 5, 9, 5])).toThrow(message);
  });
});

describeOn('cpu', 'rlooAdvantages errors', () => {
  test('bad inputs; the native layer refuses singletons too', () => {
    expect(() => ops.rlooAdvantages(Tensor.zeros([3]), Tensor.zeros([3]))).toThrow(DTypeError);
    expect(() => ops.rlooAdvantages(Tensor.zeros([3]), Tensor.zeros([2], { dtype: 'int32' }))).toThrow(ShapeError);
    expect(() => ops.rlooAdvantages(Tensor.from([1, NaN], [2]), Tensor.zeros([2], { dtype: 'int32' })))
      .toThrow('Expected a finite number for every element of rewards but received NaN');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    expect(() => native.groupAdvantages(new Float32Array(2), new Int32Array([0, 1]), 2, 'rloo', 0, 'unbiased'))
      .toThrow('Expected at least 2 rows in every group for RLOO but received group id 0 with 1 row (row 0)');
    expect(() => native.groupAdvantages(new Float32Array(2), new Int32Array(2), 2, 'loo', 0, 'unbiased'))
      .toThrow('Expected one of std, none, rloo for scale but received loo');
  });
});
