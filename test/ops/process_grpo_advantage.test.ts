// process_grpo_advantage.test.ts: processGrpoAdvantages against the float64 reference on every
// device: a worked example of §1.6 (pooled unbiased std, scatter, inclusive reverse cumsum), the
// edge rules (one step in a group, equal rewards → 0), shared step ends, random ragged steps under
// scattered group ids over tiny, odd and realistic shapes (empty rows, holes, float32 and uint8
// masks); thread-count independence, cuda against the cpu, and every validation error on every
// device in the same words (offsets, mask, step ends, rewards).
import { ArgumentError, DeviceError, ShapeError, ops, setNumThreads, type Device } from '../../lib';
import { processGrpoAdvantagesReference } from '../reference/process_grpo_advantage';
import { expectClose } from '../util/close';
import { describeOn, devices } from '../util/devices';
import { Rng } from '../util/random';
import { SHAPES, f32, i32, makeGroupIds, makeMask, maskTensor, sameBits } from '../util/rows';

const TOL = { rtol: 1e-5, atol: 1e-6 };

interface Steps { rewards: Float32Array; ends: Int32Array; offsets: Int32Array; ids: Int32Array; mask: Float32Array }

/** Ragged steps: each row gets 0..maxK sorted ends in [0, L_i) (repeats allowed). */
function makeInputs(rng: Rng, R: number, T: number, holes = false, maxK = 12): Steps {
  const mask = makeMask(rng, R, T, holes);
  const offsets = new Int32Array(R + 1), ends: number[] = [];
  for (let i = 0; i < R; i++) {
    let L = 0;
    for (let t = 0; t < T; t++) if (mask[i * T + t]) L = t + 1;
    const K = L === 0 ? 0 : rng.int(0, maxK + 1);
    const row = Array.from({ length: K }, () => rng.int(0, L)).sort((a, b) => a - b);
    if (K > 0 && rng.int(0, 2) === 0) row[K - 1] = L - 1;
    ends.push(...row);
    offsets[i + 1] = offsets[i] + K;
  }
  const rewards = Float32Array.from({ length: ends.length }, () => (rng.int(0, 3) === 0 ? rng.int(0, 2) : rng.normal()));
  return { rewards, ends: Int32Array.from(ends), offsets, ids: makeGroupIds(rng, R), mask };
}

const runOn = (device: Device, x: Steps, T: number, eps?: number, maskType: 'float32' | 'uint8' = 'float32') => {
  const R = x.offsets.length - 1, S = x.rewards.length;
  return ops.processGrpoAdvantages({ stepRewards: f32(x.rewards, [S], device), stepEnds: i32(x.ends, [S], device), stepOffsets: i32(x.offsets, [R + 1], device),
    groupIds: i32(x.ids, [R], device), mask: maskTensor(x.mask, [R, T], device, maskType) }, eps === undefined ? {} : { eps });
};

for (const device of devices()) {
  describe(`processGrpoAdvantages on ${device}`, () => {
    const run = (x: Steps, T: number, eps?: number, maskType: 'float32' | 'uint8' = 'float32') => runOn(device, x, T, eps, maskType).toArray();

    test('one group of two rows: R_g = {1, 0, 0}, r̃ = (r − 1/3)/(√(1/3) + 1e-6), suffix sums', () => {
      const x: Steps = { rewards: new Float32Array([1, 0, 0]), ends: new Int32Array([2, 4, 3]), offsets: new Int32Array([0, 2, 3]),
        ids: new Int32Array([5, 5]), mask: new Float32Array([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0]) };
      const hi = (2 / 3) / (Math.sqrt(1 / 3) + 1e-6), lo = (-1 / 3) / (Math.sqrt(1 / 3) + 1e-6);
      expectClose(run(x, 6), [hi + lo, hi + lo, hi + lo, lo, lo, 0, lo, lo, lo, lo, 0, 0], TOL);
    });

    test('a group with one step, or with equal rewards, gets 0; steps may share an end', () => {
      const x: Steps = { rewards: new Float32Array([3, 0.5, 0.5, 0.5, 1, 2]), ends: new Int32Array([1, 0, 2, 2, 1, 1]),
        offsets: new Int32Array([0, 1, 3, 4, 6]), ids: new Int32Array([0, 1, 1, 2]), mask: new Float32Array(12).fill(1) };
      const r = (v: number) => (v - 1.5) / (Math.SQRT1_2 + 1e-6);
      expectClose(run(x, 3), [0, 0, 0, 0, 0, 0, 0, 0, 0, r(1) + r(2), r(1) + r(2), 0], TOL);
    });

    test.each(SHAPES)('random ragged steps [%i, %i]: scattered groups, eps, float32 and uint8 masks, holes', (R, T) => {
      const rng = new Rng(R * 13 + T);
      for (const holes of [false, true]) {
        const x = makeInputs(rng, R, T, holes);
        for (const eps of [undefined, 0, 0.5]) {
          const out = runOn(device, x, T, eps, holes ? 'uint8' : 'float32');
          expect(out.shape).toEqual([R, T]);
          expect(out.device).toBe(device);
          expectClose(out.toArray(), processGrpoAdvantagesReference(x.rewards, x.ends, x.offsets, x.ids, x.mask, T, eps ?? 1e-6), TOL);
        }
      }
    });

    test('every row in one group, and many steps per row', () => {
      const x = makeInputs(new Rng(5), 40, 300, false, 200);
      x.ids.fill(1);
      expectClose(run(x, 300), processGrpoAdvantagesReference(x.rewards, x.ends, x.offsets, x.ids, x.mask, 300), TOL);
    });

    test('bad input in order: offsets, mask, step ends (range, order), rewards', () => {
      const base = (): Steps => ({ rewards: new Float32Array([1, 0, 2]), ends: new Int32Array([0, 2, 1]), offsets: new Int32Array([0, 2, 3]),
        ids: new Int32Array([0, 0]), mask: new Float32Array([1, 1, 1, 0, 1, 1, 0, 0]) });
      const expectError = (x: Steps, message: string) => {
        expect(() => run(x, 4)).toThrow(ArgumentError);
        expect(() => run(x, 4)).toThrow(message);
      };
      expect(() => run(base(), 4)).not.toThrow();
      let x = base();
      x.offsets[0] = 1;
      expectError(x, 'Expected 0 for stepOffsets[0] but received 1 of type number');
      x = base();
      x.offsets[1] = 4;
      expectError(x, 'Expected non-decreasing values for stepOffsets but received 3 after 4 at index 2');
      x = base();
      x.offsets[2] = 2;
      expectError(x, 'Expected 3 (the number of steps) for stepOffsets[2] but received 2 of type number');
      x = base();
      x.mask[0] = -1;
      x.ends[0] = 9;
      expectError(x, 'Expected 0 or 1 for every element of mask but received -1 of type number at index 0');
      x = base();
      x.ends[2] = 2;
      x.rewards[0] = NaN;
      expectError(x, 'Expected a token index in [0, 2) (the length of row 1) for stepEnds[2] but received 2');
      x.ends[2] = -1;
      expectError(x, 'Expected a token index in [0, 2) (the length of row 1) for stepEnds[2] but received -1');
      x = base();
      x.ends[0] = 2;
      x.ends[1] = 1;
      expectError(x, 'Expected non-decreasing stepEnds within row 0 but received 1 after 2 at index 1');
      x = base();
      x.rewards[2] = -Infinity;
      expectError(x, 'Expected a finite number for every element of stepRewards but received -Infinity of type number at index 2');
    });
  });
}

describeOn('cpu', 'processGrpoAdvantages on the cpu: threads', () => {
  test('results do not depend on the thread count', () => {
    const x = makeInputs(new Rng(17), 400, 300, true);
    setNumThreads(1);
    const one = runOn('cpu', x, 300).toArray();
    setNumThreads(0);
    expect(sameBits(one, runOn('cpu', x, 300).toArray())).toBe(true);
  });
});

describeOn('cpu', 'processGrpoAdvantages errors', () => {
  const good = () => ({ stepRewards: f32([1, 0], [2], 'cpu'), stepEnds: i32([0, 1], [2], 'cpu'), stepOffsets: i32([0, 1, 2], [3], 'cpu'),
    groupIds: i32([0, 0], [2], 'cpu'), mask: f32([1, 1, 1, 1], [2, 2], 'cpu') });
  test('inputs and options', () => {
    expect(() => ops.processGrpoAdvantages({ ...good(), stepEnds: i32([0], [1], 'cpu') })).toThrow('Expected shape [2] (S, one per step) for stepEnds but received [1]');
    expect(() => ops.processGrpoAdvantages({ ...good(), stepOffsets: i32([], [0], 'cpu') })).toThrow('Expected at least 1 element (R + 1) for stepOffsets but received shape [0]');
    expect(() => ops.processGrpoAdvantages({ ...good(), groupIds: i32([0, 0, 0], [3], 'cpu') })).toThrow(ShapeError);
    expect(() => ops.processGrpoAdvantages({ ...good(), mask: f32([1, 1, 1, 1], [4], 'cpu') })).toThrow('Expected shape [2, T] for mask but received [4]');
    expect(() => ops.processGrpoAdvantages({ ...good(), stepEnds: f32([0, 1], [2], 'cpu') })).toThrow('Expected dtype int32 for stepEnds');
    expect(() => ops.processGrpoAdvantages(good(), { eps: -1 })).toThrow('Expected a finite number >= 0 for options.eps but received -1 of type number');
    expect(() => ops.processGrpoAdvantages(good(), { std: 'population' } as never)).toThrow('unknown option "std"');
  });
  test('the native layer re-checks offsets and step ends on its own', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    const call = (ends: number[], offsets: number[]) => () => native.processGrpoAdvantages(new Float32Array(2), Int32Array.from(ends),
      Int32Array.from(offsets), new Int32Array(2), new Float32Array([1, 1, 1, 0]), 2, 2, 2, 1e-6);
    expect(call([0, 1], [0, 1, 2])).toThrow('Expected a token index in [0, 1) (the length of row 1) for stepEnds[1] but received 1');
    expect(call([0, 0], [0, 3, 2])).toThrow('Expected non-decreasing values for stepOffsets');
    expect(call([0, 0], [0, 1, 1])).toThrow('Expected 2 (the number of steps) for stepOffsets[2]');
    expect(call([5, 0], [0, 1, 2])).toThrow('for stepEnds[0] but received 5');
  });
});

describeOn('cuda', 'processGrpoAdvantages across devices', () => {
  test('mixing devices is a DeviceError', () => {
    expect(() => ops.processGrpoAdvantages({ stepRewards: f32([1], [1], 'cuda'), stepEnds: i32([0], [1], 'cpu'), stepOffsets: i32([0, 1], [2], 'cpu'),
      groupIds: i32([0], [1], 'cpu'), mask: f32([1], [1, 1], 'cpu') })).toThrow(DeviceError);
  });
  test('cuda gives the cpu result, with the same bits on every run', () => {
    const x = makeInputs(new Rng(61), 150, 700, true, 40);
    const a = runOn('cuda', x, 700).toArray();
    expect(sameBits(a, runOn('cuda', x, 700).toArray())).toBe(true);
    expectClose(a, runOn('cpu', x, 700).toArray(), { rtol: 1e-6, atol: 1e-7 });
  });
  test('more rows than one sort tile (R = 4500: global merge steps)', () => {
    const x = makeInputs(new Rng(62), 4500, 6, false, 4);
    expectClose(runOn('cuda', x, 6).toArray(), processGrpoAdvantagesReference(x.rewards, x.ends, x.offsets, x.ids, x.mask, 6), TOL);
  });
});
