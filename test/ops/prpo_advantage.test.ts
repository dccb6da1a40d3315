// prpo_advantage.test.ts: prpoAdvantages against the float64 reference on every device: the spec's
// §5.6 vector, G = 1 (β = 0), all-equal rewards (β = 0 exactly), both priors with and without the
// reference-compat last token, random scattered groups over tiny, odd and realistic shapes (empty,
// full and holed masks, float32 and uint8); thread-count independence, cuda against the cpu, and
// errors by class and message (the device reports bad values as the cpu does).
import { ArgumentError, DeviceError, ShapeError, ops, setNumThreads, type Device } from '../../lib';
import { prpoAdvantagesReference, type PrpoReferenceOptions } from '../reference/prpo_advantage';
import { expectClose } from '../util/close';
import { describeOn, devices } from '../util/devices';
import { Rng } from '../util/random';
import { SHAPES, f32, i32, makeGroupIds, makeMask, maskTensor, sameBits } from '../util/rows';

const TOL = { rtol: 1e-5, atol: 1e-6 };
const OPTIONS: PrpoReferenceOptions[] = [{}, { compat: true }, { prior: 'empirical' }, { prior: 'empirical', compat: true },
  { prior: 'empirical', eps: 0 }, { mu0: -0.25, sigma0: 2 }];

function makeInputs(rng: Rng, R: number, T: number, holes = false) {
  const scores = Float32Array.from({ length: R * T }, () => (rng.int(0, 10) === 0 ? 0.5 : rng.next()));
  const rewards = Float32Array.from({ length: R }, () => (rng.int(0, 2) === 0 ? 1 : -1) - (rng.int(0, 4) === 0 ? rng.next() : 0));
  const ids = makeGroupIds(rng, R);
  return { scores, rewards, ids, mask: makeMask(rng, R, T, holes) };
}

const runOn = (device: Device, x: ReturnType<typeof makeInputs>, R: number, T: number, o: PrpoReferenceOptions = {}, maskType: 'float32' | 'uint8' = 'float32') =>
  ops.prpoAdvantages({ tokenScores: f32(x.scores, [R, T], device), rewards: f32(x.rewards, [R], device), groupIds: i32(x.ids, [R], device),
    mask: maskTensor(x.mask, [R, T], device, maskType) }, o);

for (const device of devices()) {
  describe(`prpoAdvantages on ${device}`, () => {
    const run = (x: ReturnType<typeof makeInputs>, R: number, T: number, o: PrpoReferenceOptions = {}, maskType: 'float32' | 'uint8' = 'float32') =>
      runOn(device, x, R, T, o, maskType);

    test('the spec vector (§5.6): G = 4, r = [1, −1, −1, 1]; p = 0.9 in rollout 0 → 2.959592', () => {
      const T = 3;
      const x = { scores: new Float32Array([0.9, 0.5, 0.2, 0.5, 0.5, 0.5, 0.9, 0, 0, 0.1, 0.1, 0.1]), rewards: new Float32Array([1, -1, -1, 1]),
        ids: new Int32Array([3, 3, 3, 3]), mask: new Float32Array([1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1]) };
      const z = (s: number) => (s - 0.5) / Math.sqrt(1 / 24);
      const out = run(x, 4, T).toArray();
      expectClose(out, [2.959592, 1, z(0.2) + 1, -1, -1, -1, z(0.9) - 1, 0, 0, z(0.1) + 1, z(0.1) + 1, z(0.1) + 1], TOL);
      // compat: the last valid token keeps s + β
      expectClose(run(x, 4, T, { compat: true }).toArray(), [2.959592, 1, 0.2 + 1, -1, -1, 0.5 - 1, 0.9 - 1, 0, 0, z(0.1) + 1, z(0.1) + 1, 0.1 + 1], TOL);
    });

    test('a singleton group has β = 0; all-equal rewards give β = 0 exactly', () => {
      const x = { scores: new Float32Array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), rewards: new Float32Array([0.3, 0.1, 0.1, 0.1, 0.7, -3]),
        ids: new Int32Array([9, 4, 4, 4, 5, 6]), mask: new Float32Array(6).fill(1) };
      expect(Array.from(run(x, 6, 1).toArray())).toEqual([0, 0, 0, 0, 0, 0]);
    });

    test('empirical prior: a group whose valid scores are all equal gets z = 0, with or without eps', () => {
      const x = { scores: new Float32Array([0.3, 0.3, 0.3, 0.3, 0.3, 0.3]), rewards: new Float32Array([1, -1]),
        ids: new Int32Array([0, 0]), mask: new Float32Array([1, 1, 1, 1, 1, 0]) };
      expect(Array.from(run(x, 2, 3, { prior: 'empirical' }).toArray())).toEqual([1, 1, 1, -1, -1, 0]);
      expect(Array.from(run(x, 2, 3, { prior: 'empirical', eps: 0 }).toArray())).toEqual([1, 1, 1, -1, -1, 0]);
    });

    test.each(SHAPES)('random groups [%i, %i]: both priors, compat, float32 and uint8 masks', (R, T) => {
      const rng = new Rng(R * 7919 + T);
      for (const holes of [false, true]) {
        const x = makeInputs(rng, R, T, holes);
        for (const o of OPTIONS) {
          const out = run(x, R, T, o, holes ? 'uint8' : 'float32');
          expect(out.shape).toEqual([R, T]);
          expect(out.device).toBe(device);
          expectClose(out.toArray(), prpoAdvantagesReference(x.scores, x.rewards, x.ids, x.mask, R, T, o), TOL);
        }
      }
    });

    test('one group of every row, and every row its own group', () => {
      const R = 300, T = 40;
      const x = makeInputs(new Rng(3), R, T);
      x.ids.fill(-7);
      expectClose(run(x, R, T, { prior: 'empirical' }).toArray(), prpoAdvantagesReference(x.scores, x.rewards, x.ids, x.mask, R, T, { prior: 'empirical' }), TOL);
      x.ids.forEach((_, i) => { x.ids[i] = R - i; });
      expectClose(run(x, R, T, { prior: 'empirical' }).toArray(), prpoAdvantagesReference(x.scores, x.rewards, x.ids, x.mask, R, T, { prior: 'empirical' }), TOL);
    });

    test('bad values name their first index: mask, then rewards, then valid token scores', () => {
      const x = makeInputs(new Rng(4), 3, 4);
      x.mask.fill(1);
      x.scores[9] = NaN;
      x.rewards[2] = Infinity;
      x.mask[6] = 3;
      expect(() => run(x, 3, 4)).toThrow('Expected 0 or 1 for every element of mask but received 3 of type number at index 6');
      x.mask[6] = 1;
      expect(() => run(x, 3, 4)).toThrow(ArgumentError);
      expect(() => run(x, 3, 4)).toThrow('Expected a finite number for every element of rewards but received Infinity of type number at index 2');
      x.rewards[2] = 1;
      expect(() => run(x, 3, 4, { prior: 'empirical' })).toThrow('Expected a finite number for every valid (mask = 1) element of tokenScores but received NaN of type number at index 9');
      x.mask[9] = 0; // a NaN score on padding is fine
      expect(run(x, 3, 4).toArray()[9]).toBe(0);
    });
  });
}

describeOn('cpu', 'prpoAdvantages on the cpu: threads', () => {
  test('results do not depend on the thread count', () => {
    const R = 512, T = 300;
    const x = makeInputs(new Rng(8), R, T, true);
    setNumThreads(1);
    const one = runOn('cpu', x, R, T, { prior: 'empirical' }).toArray();
    setNumThreads(0);
    expect(sameBits(one, runOn('cpu', x, R, T, { prior: 'empirical' }).toArray())).toBe(true);
  });
});

describeOn('cpu', 'prpoAdvantages errors', () => {
  const x = makeInputs(new Rng(2), 2, 3);
  const good = () => ({ tokenScores: f32(x.scores, [2, 3], 'cpu'), rewards: f32(x.rewards, [2], 'cpu'), groupIds: i32(x.ids, [2], 'cpu'), mask: f32(x.mask, [2, 3], 'cpu') });
  test('inputs and options', () => {
    expect(() => ops.prpoAdvantages({ ...good(), groupIds: f32([0, 0], [2], 'cpu') })).toThrow('Expected dtype int32 for groupIds but received Tensor float32 [2] on cpu');
    expect(() => ops.prpoAdvantages({ ...good(), rewards: f32([0], [1], 'cpu') })).toThrow(ShapeError);
    expect(() => ops.prpoAdvantages({ ...good(), mask: f32(x.mask, [3, 2], 'cpu') })).toThrow('Expected shape [2, 3] for mask but received [3, 2]');
    expect(() => ops.prpoAdvantages(good(), { prior: 'beta' as never })).toThrow(`Expected one of 'fixed', 'empirical' for options.prior`);
    expect(() => ops.prpoAdvantages(good(), { sigma0: 0 })).toThrow('Expected a finite number > 0 for options.sigma0 but received 0 of type number');
    expect(() => ops.prpoAdvantages(good(), { eps: -1e-6 })).toThrow('Expected a finite number >= 0 for options.eps');
    expect(() => ops.prpoAdvantages(good(), { mu0: NaN })).toThrow('for options.mu0 but received NaN');
    expect(() => ops.prpoAdvantages(good(), { compat: 1 as never })).toThrow('Expected a boolean for options.compat but received 1 of type number');
  });
  test('the native layer re-checks sizes and options', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    expect(() => native.prpoAdvantages(new Float32Array(6), new Float32Array(2), new Int32Array(1), new Float32Array(6), 2, 3, 'fixed', 0.5, 0.2, 0, false)).toThrow('Expected 2 elements for groupIds');
    expect(() => native.prpoAdvantages(new Float32Array(6), new Float32Array(2), new Int32Array(2), new Float32Array(6), 2, 3, 'fixed', 0.5, 0, 0, false)).toThrow('for sigma0');
  });
});

describeOn('cuda', 'prpoAdvantages across devices', () => {
  test('mixing devices is a DeviceError', () => {
    const x = makeInputs(new Rng(1), 2, 3);
    expect(() => ops.prpoAdvantages({ tokenScores: f32(x.scores, [2, 3], 'cuda'), rewards: f32(x.rewards, [2], 'cpu'), groupIds: i32(x.ids, [2], 'cpu'),
      mask: f32(x.mask, [2, 3], 'cpu') })).toThrow(DeviceError);
  });
  test('cuda gives the cpu result, with the same bits on every run', () => {
    const R = 200, T = 333;
    const x = makeInputs(new Rng(21), R, T, true);
    for (const o of OPTIONS) {
      const a = runOn('cuda', x, R, T, o).toArray(), b = runOn('cuda', x, R, T, o).toArray();
      expect(sameBits(a, b)).toBe(true);
      expectClose(a, runOn('cpu', x, R, T, o).toArray(), { rtol: 1e-6, atol: 1e-7 });
    }
  });
  test('more rows than one sort tile (R = 4500: global merge steps)', () => {
    const R = 4500, T = 5;
    const x = makeInputs(new Rng(22), R, T);
    for (const o of [{}, { prior: 'empirical' as const }])
      expectClose(runOn('cuda', x, R, T, o).toArray(), prpoAdvantagesReference(x.scores, x.rewards, x.ids, x.mask, R, T, o), TOL);
  });
});
