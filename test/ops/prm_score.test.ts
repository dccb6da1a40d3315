// prm_score.test.ts: prmScore against the float64 reference on every device: the spec's vector
// (p = [0.9, 0.8, 0.7, 0.9]), K = 0 → NaN, the 1e-12 floor, random ragged rows with exact 0s and 1s
// for every aggregate; errors (offsets, scores outside [0, 1]) in the same words on every device.
import { ArgumentError, DeviceError, ops, setNumThreads } from '../../lib';
import { prmScoreReference } from '../reference/prm_score';
import { expectClose } from '../util/close';
import { describeOn, devices } from '../util/devices';
import { Rng } from '../util/random';
import { f32, i32, sameBits } from '../util/rows';

const AGGREGATES = ['product', 'min', 'geomean', 'last'] as const;

function makeSteps(rng: Rng, R: number, maxK = 20) {
  const offsets = new Int32Array(R + 1);
  for (let i = 0; i < R; i++) offsets[i + 1] = offsets[i] + rng.int(0, maxK + 1);
  const scores = Float32Array.from({ length: offsets[R] }, () => [0, 1][rng.int(0, 20)] ?? rng.next());
  return { scores, offsets };
}

for (const device of devices()) {
  describe(`prmScore on ${device}`, () => {
    const score = (scores: number[], offsets: number[], aggregate?: (typeof AGGREGATES)[number]) =>
      ops.prmScore(f32(scores, [scores.length], device), i32(offsets, [offsets.length], device), aggregate ? { aggregate } : {}).toArray();

    test('the spec vector p = [0.9, 0.8, 0.7, 0.9]; a row without steps gives NaN', () => {
      const p = [0.9, 0.8, 0.7, 0.9];
      expectClose(score(p, [0, 4, 4]), [0.4536, NaN], { rtol: 1e-6 });
      expectClose(score(p, [0, 0, 4], 'min'), [NaN, 0.7], { rtol: 1e-6 });
      expectClose(score(p, [0, 4], 'geomean'), [0.82067], { rtol: 1e-5 });
      expectClose(score(p, [0, 4], 'last'), [0.9], { rtol: 1e-7 });
      expectClose(score([0, 0.5], [0, 2]), [5e-13], { rtol: 1e-6, atol: 0 }); // p floored at 1e-12
      expectClose(score([0, 1], [0, 2], 'geomean'), [1e-6], { rtol: 1e-6 });
    });

    test.each([1, 17, 300, 4099])('random ragged rows, R = %i, every aggregate', (R) => {
      const { scores, offsets } = makeSteps(new Rng(R), R);
      for (const aggregate of AGGREGATES) {
        const out = ops.prmScore(f32(scores, [scores.length], device), i32(offsets, [R + 1], device), { aggregate });
        expect(out.shape).toEqual([R]);
        expect(out.device).toBe(device);
        expectClose(out.toArray(), prmScoreReference(scores, offsets, aggregate), { rtol: 1e-5, atol: 1e-30 });
      }
    });

    test('an empty batch, and bad offsets and scores in the order the cpu checks them', () => {
      expect(ops.prmScore(f32([], [0], device), i32([0], [1], device)).shape).toEqual([0]);
      const fails = (scores: number[], offsets: number[], message: string) => {
        expect(() => score(scores, offsets)).toThrow(ArgumentError);
        expect(() => score(scores, offsets)).toThrow(message);
      };
      fails([0.5, 2], [1, 2], 'Expected 0 for stepOffsets[0] but received 1 of type number');
      fails([0.5, 0.5, 2], [0, 2, 1, 3], 'Expected non-decreasing values for stepOffsets but received 1 after 2 at index 2');
      fails([0.5, 0.5], [0, 1], 'Expected 2 (the number of step scores) for stepOffsets[1] but received 1 of type number');
      fails([0.5, -0.25, NaN], [0, 3], 'Expected a number in [0, 1] for every element of stepScores but received -0.25 of type number at index 1');
    });
  });
}

describeOn('cpu', 'prmScore on the cpu', () => {
  test('threads, options, and the native re-check of offsets', () => {
    const { scores, offsets } = makeSteps(new Rng(3), 20000);
    const run = () => ops.prmScore(f32(scores, [scores.length], 'cpu'), i32(offsets, [offsets.length], 'cpu'), { aggregate: 'geomean' }).toArray();
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    expect(sameBits(one, run())).toBe(true);
    expect(() => ops.prmScore(f32([0.5], [1], 'cpu'), i32([0, 1], [2], 'cpu'), { aggregate: 'mean' as never }))
      .toThrow(`Expected one of 'product', 'min', 'geomean', 'last' for options.aggregate but received "mean" of type string`);
    expect(() => ops.prmScore(f32([0.5], [1], 'cpu'), f32([0, 1], [2], 'cpu'))).toThrow('Expected dtype int32 for stepOffsets');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    expect(() => native.prmScore(new Float32Array(2), new Int32Array([0, 5]), 2, 1, 'product')).toThrow('Expected 2 (the number of step scores) for stepOffsets[1]');
    expect(() => native.prmScore(new Float32Array(2), new Int32Array([0, 2]), 2, 1, 'mean')).toThrow('for aggregate');
  });
});

describeOn('cuda', 'prmScore across devices', () => {
  test('mixing devices is a DeviceError; cuda gives the cpu result', () => {
    expect(() => ops.prmScore(f32([0.5], [1], 'cuda'), i32([0, 1], [2], 'cpu'))).toThrow(DeviceError);
    const { scores, offsets } = makeSteps(new Rng(8), 3000);
    for (const aggregate of AGGREGATES) {
      const on = (device: 'cpu' | 'cuda') => ops.prmScore(f32(scores, [scores.length], device), i32(offsets, [offsets.length], device), { aggregate }).toArray();
      expectClose(on('cuda'), on('cpu'), { rtol: 1e-6, atol: 1e-30 });
    }
  });
});
