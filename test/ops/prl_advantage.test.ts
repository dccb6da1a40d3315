// prl_advantage.test.ts: prlAdvantages against the float64 reference on every device (the cpu, and
// cuda where the backend has it): the spec's §4.4 vector in both suffix conventions and token mode,
// a step value of exactly 0 kept (the reference's next-non-zero fill is not reproduced), random
// rows over tiny, odd and realistic shapes (empty, full and holed masks, float32 and uint8), every
// option; thread-count independence, cuda against the cpu, and errors by class and message.
import { ArgumentError, DTypeError, DeviceError, ShapeError, Tensor, ops, setNumThreads, type Device } from '../../lib';
import { prlAdvantagesReference, prlScale, type PrlReferenceOptions } from '../reference/prl_advantage';
import { expectClose } from '../util/close';
import { describeOn, devices } from '../util/devices';
import { Rng } from '../util/random';
import { SHAPES, f32, makeMask, maskTensor, sameBits, u8 } from '../util/rows';

const TOL = { rtol: 1e-5, atol: 1e-6 };

function makeInputs(rng: Rng, R: number, T: number, holes = false) {
  const old = rng.floats(R * T, 0.8), ref = rng.floats(R * T, 0.8);
  const outcome = Float32Array.from({ length: R }, () => (rng.int(0, 4) === 0 ? 0 : rng.normal()));
  const mask = makeMask(rng, R, T, holes);
  const density = [0, 0.02, 0.2, 1][rng.int(0, 4)];
  const stepEnds = Uint8Array.from({ length: R * T }, () => (rng.next() < density ? 1 : 0));
  return { old, ref, outcome, mask, stepEnds };
}

for (const device of devices()) {
  describe(`prlAdvantages on ${device}`, () => {
    const run = (x: ReturnType<typeof makeInputs>, R: number, T: number, o: PrlReferenceOptions = {}, maskType: 'float32' | 'uint8' = 'float32') =>
      ops.prlAdvantages({
        outcomeAdvantages: f32(x.outcome, [R], device), oldLogprobs: f32(x.old, [R, T], device), refLogprobs: f32(x.ref, [R, T], device),
        mask: maskTensor(x.mask, [R, T], device, maskType), stepEnds: u8(x.stepEnds, [R, T], device),
      }, o);

    test('the spec vector (§4.4): K_len = 2, η = 100, Â = 1, d = [.1, .2, −.1, .05, 0]', () => {
      const T = 7; // two padding tokens after L = 5
      const x = { outcome: new Float32Array([1]), old: new Float32Array([0.1, 0.2, -0.1, 0.05, 0, 9, 9]), ref: new Float32Array(T),
        mask: new Float32Array([1, 1, 1, 1, 1, 0, 0]), stepEnds: new Uint8Array([0, 1, 0, 1, 0, 0, 1]) };
      expectClose(run(x, 1, T, { eta: 100 }).toArray(), [0.9985, 0.9985, 0.9995, 0.9995, 1, 0, 0], TOL);
      expectClose(run(x, 1, T, { eta: 100, suffixStart: 'next_step' }).toArray(), [1.0005, 1.0005, 1, 1, 1, 0, 0], TOL);
      expectClose(run(x, 1, T, { eta: 100, mode: 'token' }).toArray(), [0.9975, 0.9985, 1.0005, 0.9995, 1, 0, 0], TOL);
      expectClose(run(x, 1, T, { eta: 100, mode: 'token', suffixStart: 'next_step' }).toArray(), [0.9985, 1.0005, 0.9995, 1, 1, 0, 0], TOL);
    });

    test('a step whose value is exactly 0 keeps it (no next-non-zero fill)', () => {
      const x = { outcome: new Float32Array([1]), old: new Float32Array([0, 0.5, 0.25, 0.25, 0, 0]), ref: new Float32Array(6),
        mask: new Float32Array(6).fill(1), stepEnds: new Uint8Array([0, 1, 0, 1, 0, 1]) };
      expect(Array.from(run(x, 1, 6, { eta: 1 }).toArray())).toEqual([0, 0, 0.75, 0.75, 1, 1]);
    });

    test('token mode ignores stepEnds (which may be omitted); empty rows and T = 0', () => {
      const old = f32([0.5, 0.25, 1, 1], [2, 2], device), ref = f32([0, 0, 0, 0], [2, 2], device);
      const out = ops.prlAdvantages({ outcomeAdvantages: f32([2, 3], [2], device), oldLogprobs: old, refLogprobs: ref,
        mask: maskTensor(new Float32Array([1, 1, 0, 0]), [2, 2], device, 'uint8') }, { mode: 'token', eta: 0.5 });
      expect(Array.from(out.toArray())).toEqual([0.5, 1.5, 0, 0]);
      const empty = ops.prlAdvantages({ outcomeAdvantages: f32([], [0], device), oldLogprobs: f32([], [0, 4], device),
        refLogprobs: f32([], [0, 4], device), mask: f32([], [0, 4], device), stepEnds: u8([], [0, 4], device) });
      expect(empty.shape).toEqual([0, 4]);
      expect(ops.prlAdvantages({ outcomeAdvantages: f32([1], [1], device), oldLogprobs: f32([], [1, 0], device),
        refLogprobs: f32([], [1, 0], device), mask: f32([], [1, 0], device), stepEnds: u8([], [1, 0], device) }).shape).toEqual([1, 0]);
    });

    test.each(SHAPES)('random rows [%i, %i]: every mode, suffix and mask kind', (R, T) => {
      const rng = new Rng(R * 1000 + T);
      for (const holes of [false, true]) {
        const x = makeInputs(rng, R, T, holes);
        for (const o of [{}, { suffixStart: 'next_step' as const }, { mode: 'token' as const, eta: 3 }, { mode: 'token' as const, suffixStart: 'next_step' as const }, { eta: 0.7 }]) {
          const eta = o.eta ?? 200;
          const expected = prlAdvantagesReference(x.outcome, x.old, x.ref, x.mask, x.stepEnds, R, T, o);
          const scale = prlScale(x.outcome, x.old, x.ref, R, T, eta);
          const out = run(x, R, T, o, holes ? 'uint8' : 'float32');
          expect(out.shape).toEqual([R, T]);
          expect(out.device).toBe(device);
          expectClose(out.toArray(), expected, { ...TOL, scale });
        }
      }
    });

    test('a mask value other than 0 or 1 names its first index', () => {
      const x = makeInputs(new Rng(5), 2, 5);
      x.mask.set([1, 1, 0.5, 0, 2], 5);
      expect(() => run(x, 2, 5)).toThrow(ArgumentError);
      expect(() => run(x, 2, 5)).toThrow('Expected 0 or 1 for every element of mask but received 0.5 of type number at index 7');
    });
  });
}

describeOn('cpu', 'prlAdvantages on the cpu: threads', () => {
  test('results do not depend on the thread count', () => {
    const R = 300, T = 517;
    const x = makeInputs(new Rng(9), R, T, true);
    const run = () => ops.prlAdvantages({ outcomeAdvantages: f32(x.outcome, [R], 'cpu'), oldLogprobs: f32(x.old, [R, T], 'cpu'),
      refLogprobs: f32(x.ref, [R, T], 'cpu'), mask: f32(x.mask, [R, T], 'cpu'), stepEnds: u8(x.stepEnds, [R, T], 'cpu') }).toArray();
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    expect(sameBits(one, run())).toBe(true);
  });
});

describeOn('cpu', 'prlAdvantages errors', () => {
  const R = 2, T = 3;
  const good = () => ({ outcomeAdvantages: f32([1, 0], [R], 'cpu'), oldLogprobs: f32(new Float32Array(6), [R, T], 'cpu'),
    refLogprobs: f32(new Float32Array(6), [R, T], 'cpu'), mask: f32(new Float32Array(6).fill(1), [R, T], 'cpu'),
    stepEnds: u8(new Uint8Array(6), [R, T], 'cpu') });

  test('inputs: object, names, dtypes, shapes', () => {
    expect(() => ops.prlAdvantages(null as never)).toThrow('Expected an object of tensors { outcomeAdvantages, oldLogprobs, refLogprobs, mask, stepEnds } for inputs but received null');
    expect(() => ops.prlAdvantages({ ...good(), logprobs: good().oldLogprobs } as never)).toThrow('unknown option "logprobs"');
    expect(() => ops.prlAdvantages({ ...good(), oldLogprobs: f32([1, 2, 3], [3], 'cpu') })).toThrow(ShapeError);
    expect(() => ops.prlAdvantages({ ...good(), oldLogprobs: f32([1, 2, 3], [3], 'cpu') })).toThrow('Expected a 2-d tensor for oldLogprobs but received shape [3]');
    expect(() => ops.prlAdvantages({ ...good(), refLogprobs: f32(new Float32Array(4), [2, 2], 'cpu') })).toThrow('Expected shape [2, 3] for refLogprobs but received [2, 2]');
    expect(() => ops.prlAdvantages({ ...good(), outcomeAdvantages: f32([1, 2, 3], [3], 'cpu') })).toThrow('Expected shape [2] (R, one per row) for outcomeAdvantages but received [3]');
    expect(() => ops.prlAdvantages({ ...good(), stepEnds: f32(new Float32Array(6), [R, T], 'cpu') })).toThrow(DTypeError);
    expect(() => ops.prlAdvantages({ ...good(), stepEnds: f32(new Float32Array(6), [R, T], 'cpu') })).toThrow('Expected dtype uint8 for stepEnds but received Tensor float32 [2, 3] on cpu');
    expect(() => ops.prlAdvantages({ ...good(), mask: Tensor.from(new Int32Array(6), [R, T]) })).toThrow('Expected dtype float32 or uint8 for mask');
    expect(() => ops.prlAdvantages({ ...good(), stepEnds: undefined })).toThrow("Expected a uint8 Tensor [2, 3] for stepEnds in 'step' mode but received undefined");
  });

  test('options', () => {
    expect(() => ops.prlAdvantages(good(), { eta: 0 })).toThrow('Expected a finite number > 0 for options.eta but received 0 of type number');
    expect(() => ops.prlAdvantages(good(), { eta: Infinity })).toThrow(ArgumentError);
    expect(() => ops.prlAdvantages(good(), { mode: 'seq' as never })).toThrow(`Expected one of 'step', 'token' for options.mode but received "seq" of type string`);
    expect(() => ops.prlAdvantages(good(), { suffixStart: 'exclusive' as never })).toThrow(`Expected one of 'inclusive', 'next_step' for options.suffixStart`);
    expect(() => ops.prlAdvantages(good(), { beta: 1 } as never)).toThrow('unknown option "beta"');
  });

  test('the native layer re-checks sizes and options', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    const six = () => new Float32Array(6);
    expect(() => native.prlAdvantages(new Float32Array(2), six(), new Float32Array(5), six(), new Uint8Array(6), 2, 3, 1, 'step', 'inclusive')).toThrow('Expected 6 elements for refLogprobs');
    expect(() => native.prlAdvantages(new Float32Array(2), six(), six(), six(), null, 2, 3, 1, 'step', 'inclusive')).toThrow('for stepEnds in step mode but received none');
    expect(() => native.prlAdvantages(new Float32Array(2), six(), six(), six(), null, 2, 3, -1, 'token', 'inclusive')).toThrow('for eta');
  });
});

describeOn('cuda', 'prlAdvantages across devices', () => {
  test('mixing cpu and cuda tensors is a DeviceError', () => {
    const x = makeInputs(new Rng(1), 2, 3);
    expect(() => ops.prlAdvantages({ outcomeAdvantages: f32(x.outcome, [2], 'cuda'), oldLogprobs: f32(x.old, [2, 3], 'cpu'),
      refLogprobs: f32(x.ref, [2, 3], 'cpu'), mask: f32(x.mask, [2, 3], 'cpu'), stepEnds: u8(x.stepEnds, [2, 3], 'cpu') })).toThrow(DeviceError);
  });

  test('cuda gives the cpu result, with the same bits on every run', () => {
    const R = 37, T = 1500;
    const x = makeInputs(new Rng(77), R, T, true);
    const on = (device: Device) => ops.prlAdvantages({ outcomeAdvantages: f32(x.outcome, [R], device), oldLogprobs: f32(x.old, [R, T], device),
      refLogprobs: f32(x.ref, [R, T], device), mask: f32(x.mask, [R, T], device), stepEnds: u8(x.stepEnds, [R, T], device) }, { eta: 5 }).toArray();
    const a = on('cuda'), b = on('cuda');
    expect(sameBits(a, b)).toBe(true);
    expectClose(a, on('cpu'), { rtol: 1e-6, atol: 1e-7 });
  });
});
