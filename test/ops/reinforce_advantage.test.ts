// reinforce_advantage.test.ts: reinforceAdvantages (REINFORCE++ and REINFORCE++-baseline) against the
// float64 reference on every device: a hand-worked batch, with and without the group baseline and
// the KL term, γ < 1, no normalizing, one-token and empty rows, holes, float32 and uint8 masks,
// all-equal rewards, one-row groups, over tiny, odd and realistic shapes; thread-count independence
// and errors (cuda: device-side mask and reward checks).
import { ArgumentError, DTypeError, ShapeError, Tensor, ops, setNumThreads, type Device } from '../../lib';
import { reinforceReference, type ReinforceReferenceOptions } from '../reference/reinforce_advantage';
import { expectClose } from '../util/close';
import { describeOn, devices } from '../util/devices';
import { Rng } from '../util/random';
import { SHAPES, f32, i32, makeGroupIds, makeMask, maskTensor, sameBits } from '../util/rows';

const TOL = { rtol: 1e-5, atol: 1e-5 };
const OPTIONS: ReinforceReferenceOptions[] = [{}, { klCoef: 0.01 }, { klCoef: 0.1, gamma: 0.9 }, { normalize: false, klCoef: 0.05 }, { gamma: 0 }];

function makeInputs(rng: Rng, R: number, T: number, holes = false) {
  const mask = makeMask(rng, R, T, holes);
  const rewards = Float32Array.from({ length: R }, () => (rng.next() < 0.5 ? rng.int(0, 2) : rng.normal()));
  const old = Float32Array.from({ length: R * T }, () => -Math.abs(rng.normal()) * 3);
  const ref = Float32Array.from(old, (l) => l + rng.normal() * 0.2);
  return { rewards, mask, old, ref, ids: makeGroupIds(rng, R) };
}

type Inputs = ReturnType<typeof makeInputs>;
const runOn = (device: Device, x: Inputs, R: number, T: number, o: ReinforceReferenceOptions, baseline: boolean, maskType: 'float32' | 'uint8' = 'float32') =>
  ops.reinforceAdvantages({
    rewards: f32(x.rewards, [R], device), mask: maskTensor(x.mask, [R, T], device, maskType), groupIds: baseline ? i32(x.ids, [R], device) : undefined,
    oldLogprobs: f32(x.old, [R, T], device), refLogprobs: f32(x.ref, [R, T], device),
  }, o);
const reference = (x: Inputs, R: number, T: number, o: ReinforceReferenceOptions, baseline: boolean) =>
  reinforceReference(x.rewards, x.mask, R, T, o, baseline ? x.ids : undefined, x.old, x.ref);

for (const device of devices()) {
  describe(`reinforceAdvantages on ${device}`, () => {
    test('a hand-worked batch: two rows of one group, β = 0.1, γ = 1', () => {
      // row 0: L = 2, r = 1; row 1: L = 1, r = 0. Baseline μ = 0.5 → r̃ = ±0.5.
      const x = { rewards: new Float32Array([1, 0]), mask: new Float32Array([1, 1, 1, 0]), old: new Float32Array([-1, -2, -1, 0]),
        ref: new Float32Array([-1.5, -2, -0.5, 0]), ids: new Int32Array([4, 4]) };
      // token rewards: row 0: [−0.05, 0 + 0.5], row 1: [0.05 − 0.5]
      const { returns, advantages } = runOn(device, x, 2, 2, { klCoef: 0.1, normalize: false }, true);
      expectClose(returns.toArray(), [0.45, 0.5, -0.45, 0], TOL);
      expectClose(advantages.toArray(), [0.45, 0.5, -0.45, 0], TOL);
      const mean = (0.45 + 0.5 - 0.45) / 3, sd = Math.sqrt(((0.45 - mean) ** 2 + (0.5 - mean) ** 2 + (-0.45 - mean) ** 2) / 3);
      expectClose(runOn(device, x, 2, 2, { klCoef: 0.1 }, true).advantages.toArray(), [(0.45 - mean) / sd, (0.5 - mean) / sd, (-0.45 - mean) / sd, 0], TOL);
      // without the baseline: row 0 [0.95, 1], row 1 [0.05]
      expectClose(runOn(device, x, 2, 2, { klCoef: 0.1, normalize: false }, false).returns.toArray(), [0.95, 1, 0.05, 0], TOL);
    });

    test('all-equal rewards without KL: every advantage 0 (baseline: r̃ = 0; plain: var floored, numerator 0)', () => {
      const R = 8, T = 5, x = makeInputs(new Rng(3), R, T);
      x.rewards.fill(1);
      x.ids.fill(2);
      for (const baseline of [true, false]) {
        const out = runOn(device, x, R, T, {}, baseline).advantages.toArray();
        expect(Array.from(out).every((v) => v === 0)).toBe(true);
      }
    });

    test.each(OPTIONS.map((o) => [JSON.stringify(o), o] as const))('%s matches float64 over every shape, with and without baseline', (_, o) => {
      for (const [R, T] of SHAPES)
        for (const baseline of [false, true]) {
          const x = makeInputs(new Rng(R * 13 + T), R, T, R % 2 === 1);
          const ref = reference(x, R, T, o, baseline);
          const out = runOn(device, x, R, T, o, baseline, R % 3 === 0 ? 'uint8' : 'float32');
          expectClose(out.returns.toArray(), ref.returns, TOL);
          expectClose(out.advantages.toArray(), ref.advantages, TOL);
        }
    });

    test('one-token rows, empty rows and one-row groups', () => {
      const R = 9, T = 1, x = makeInputs(new Rng(9), R, T);
      x.mask.set([1, 0, 1, 1, 0, 1, 1, 1, 1]);
      x.ids.set([0, 0, 1, 2, 2, 3, 3, 3, 4]);
      for (const o of [{ klCoef: 0.2 }, {}])
        for (const baseline of [true, false]) {
          const ref = reference(x, R, T, o, baseline), out = runOn(device, x, R, T, o, baseline);
          expectClose(out.advantages.toArray(), ref.advantages, TOL);
          expectClose(out.returns.toArray(), ref.returns, TOL);
        }
    });

    test('a mask with no tokens gives zeros', () => {
      const x = makeInputs(new Rng(4), 3, 4);
      x.mask.fill(0);
      const out = runOn(device, x, 3, 4, { klCoef: 0.1 }, true);
      expect(Array.from(out.advantages.toArray()).every((v) => v === 0)).toBe(true);
    });

    test('mask values other than 0 and 1 and non-finite rewards are named', () => {
      const x = makeInputs(new Rng(5), 2, 3);
      x.mask.set([1, 0.5, 0, 1, 1, 0]);
      expect(() => runOn(device, x, 2, 3, {}, false)).toThrow('Expected 0 or 1 for every element of mask but received 0.5 of type number at index 1');
      const y = makeInputs(new Rng(5), 2, 3);
      y.rewards[1] = NaN;
      expect(() => runOn(device, y, 2, 3, {}, false)).toThrow('Expected a finite number for every element of rewards but received NaN');
    });
  });
}

describeOn('cpu', 'reinforceAdvantages behaviour and errors', () => {
  test('results do not depend on the thread count', () => {
    const R = 64, T = 300, x = makeInputs(new Rng(8), R, T, true);
    setNumThreads(1);
    const one = runOn('cpu', x, R, T, { klCoef: 0.05 }, true).advantages.toArray();
    setNumThreads(0);
    expect(sameBits(runOn('cpu', x, R, T, { klCoef: 0.05 }, true).advantages.toArray(), one)).toBe(true);
  });

  test('bad inputs and options', () => {
    const mask = Tensor.from(new Float32Array(6).fill(1), [2, 3]);
    const rewards = Tensor.zeros([2]);
    expect(() => ops.reinforceAdvantages({ rewards: Tensor.zeros([3]), mask })).toThrow(ShapeError);
    expect(() => ops.reinforceAdvantages({ rewards, mask: Tensor.zeros([6]) })).toThrow('Expected a 2-d tensor for mask');
    expect(() => ops.reinforceAdvantages({ rewards, mask, groupIds: Tensor.zeros([2]) })).toThrow(DTypeError);
    expect(() => ops.reinforceAdvantages({ rewards, mask }, { klCoef: 0.1 }))
      .toThrow('Expected a float32 Tensor [2, 3] for oldLogprobs when options.klCoef is 0.1 but received undefined');
    expect(() => ops.reinforceAdvantages({ rewards, mask }, { gamma: -1 })).toThrow('options.gamma');
    expect(() => ops.reinforceAdvantages({ rewards, mask }, { whiten: true } as never)).toThrow('unknown option "whiten"');
    expect(() => ops.reinforceAdvantages({ rewards, mask, values: rewards } as never)).toThrow(ArgumentError);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    expect(() => native.reinforceAdvantages(new Float32Array(2), null, null, null, new Float32Array(6), 2, 3, 0.1, 1, true))
      .toThrow('Expected oldLogprobs when klCoef is not 0 but received none');
    expect(() => native.reinforceAdvantages(new Float32Array(1), null, null, null, new Float32Array(6), 2, 3, 0, 1, true))
      .toThrow('Expected 2 elements for rewards');
  });
});
