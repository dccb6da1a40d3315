// entropy_segments.test.ts: entropySegments against the reference on every device: a worked
// example where the clean rule and the reference-compat filter differ, the one-segment rule
// (n < K + 1), ties broken by lower index, padding and holes (−1), random rows with quantized
// entropies (many ties) over tiny, odd and realistic shapes for several K and minGap; thread-count
// independence, cuda against the cpu, and errors by class and message.
import { ArgumentError, DTypeError, DeviceError, Tensor, ops, setNumThreads, type Device } from '../../lib';
import { entropySegmentsReference, referenceCuts, type EntropySegmentsReferenceOptions } from '../reference/entropy_segments';
import { describeOn, devices } from '../util/devices';
import { Rng } from '../util/random';
import { SHAPES, f32, makeMask, maskTensor, sameBits } from '../util/rows';

const OPTIONS: EntropySegmentsReferenceOptions[] = [{}, { compat: true }, { maxBranches: 1 }, { maxBranches: 3, minGap: 1 },
  { maxBranches: 3, minGap: 1, compat: true }, { maxBranches: 12, minGap: 4 }, { maxBranches: 12, minGap: 4, compat: true }, { maxBranches: 256, minGap: 2, compat: true }];

function makeInputs(rng: Rng, R: number, T: number, holes = false) {
  const levels = [2, 8, 1000][rng.int(0, 3)]; // few levels: many ties
  const entropy = Float32Array.from({ length: R * T }, () => Math.floor(rng.next() * levels) / levels * 4);
  return { entropy, mask: makeMask(rng, R, T, holes) };
}

const runOn = (device: Device, x: ReturnType<typeof makeInputs>, R: number, T: number, o: EntropySegmentsReferenceOptions = {}, maskType: 'float32' | 'uint8' = 'float32') =>
  ops.entropySegments(f32(x.entropy, [R, T], device), maskTensor(x.mask, [R, T], device, maskType), o);

/** A row of length L whose K = 5 highest entropies sit at `anchors`. */
function spikes(L: number, T: number, anchors: number[]) {
  const entropy = new Float32Array(T).fill(0.1), mask = new Float32Array(T);
  mask.fill(1, 0, L);
  anchors.forEach((a, k) => { entropy[a] = 2 + k; });
  return { entropy, mask };
}

for (const device of devices()) {
  describe(`entropySegments on ${device}`, () => {
    const run = (x: ReturnType<typeof makeInputs>, R: number, T: number, o: EntropySegmentsReferenceOptions = {}, maskType: 'float32' | 'uint8' = 'float32') =>
      Array.from(runOn(device, x, R, T, o, maskType).toArray());
    const ids = (L: number, T: number, cuts: number[]) =>
      Array.from({ length: T }, (_, t) => (t < L ? cuts.filter((c) => c <= t).length : -1));

    test('anchors [3, 12, 15, 30, 38]: clean cuts at 12, 30; the reference filter cuts at 15, 30', () => {
      const x = spikes(40, 44, [30, 3, 38, 15, 12]);
      expect(referenceCuts([3, 12, 15, 30, 38], 10, false)).toEqual([12, 30]);
      expect(referenceCuts([3, 12, 15, 30, 38], 10, true)).toEqual([15, 30]);
      expect(run(x, 1, 44)).toEqual(ids(40, 44, [12, 30]));
      expect(run(x, 1, 44, { compat: true })).toEqual(ids(40, 44, [15, 30]));
    });

    test('the reference filter never uses the last anchor directly', () => {
      // clean: 20, 40, 60 and 80 are all cuts; compat keeps a[i] only when a[i+1] is far enough, so 80 is dropped
      const x = spikes(100, 100, [20, 40, 60, 80, 5]);
      expect(run(x, 1, 100)).toEqual(ids(100, 100, [20, 40, 60, 80]));
      expect(run(x, 1, 100, { compat: true })).toEqual(ids(100, 100, [20, 40, 60]));
    });

    test('fewer than K + 1 valid tokens: one segment; padding is −1', () => {
      const x = spikes(5, 8, [0, 1, 2, 3, 4]);
      expect(run(x, 1, 8, { minGap: 1 })).toEqual([0, 0, 0, 0, 0, -1, -1, -1]);
      expect(run({ entropy: new Float32Array(3), mask: new Float32Array(3) }, 1, 3)).toEqual([-1, -1, -1]);
    });

    test('ties go to the lower index', () => {
      const x = { entropy: new Float32Array(12).fill(1), mask: new Float32Array(12).fill(1) };
      expect(run(x, 1, 12, { minGap: 1, maxBranches: 4 })).toEqual([0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
      x.entropy[7] = 1.5;
      expect(run(x, 1, 12, { minGap: 1, maxBranches: 4 })).toEqual([0, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]);
    });

    test.each(SHAPES)('random rows [%i, %i]: K, minGap, compat, float32 and uint8 masks, holes', (R, T) => {
      const rng = new Rng(R * 31 + T);
      for (const holes of [false, true]) {
        const x = makeInputs(rng, R, T, holes);
        for (const o of OPTIONS) {
          const out = runOn(device, x, R, T, o, holes ? 'uint8' : 'float32');
          expect(out.shape).toEqual([R, T]);
          expect(out.dtype).toBe('int32');
          expect(out.device).toBe(device);
          expect(Array.from(out.toArray())).toEqual(Array.from(entropySegmentsReference(x.entropy, x.mask, R, T, o)));
        }
      }
    });

    test('bad values: the mask first, then a non-finite entropy on a valid token', () => {
      const x = makeInputs(new Rng(6), 2, 20);
      x.mask.fill(1);
      x.entropy[25] = NaN;
      x.mask[3] = 0.5;
      expect(() => run(x, 2, 20)).toThrow('Expected 0 or 1 for every element of mask but received 0.5 of type number at index 3');
      x.mask[3] = 1;
      expect(() => run(x, 2, 20)).toThrow(ArgumentError);
      expect(() => run(x, 2, 20)).toThrow('Expected a finite number for every valid (mask = 1) element of entropy but received NaN of type number at index 25');
      x.mask[25] = 0;
      expect(run(x, 2, 20)[25]).toBe(-1);
    });
  });
}

describeOn('cpu', 'entropySegments on the cpu: threads', () => {
  test('results do not depend on the thread count', () => {
    const x = makeInputs(new Rng(12), 300, 700, true);
    setNumThreads(1);
    const one = runOn('cpu', x, 300, 700, { maxBranches: 9, minGap: 3 }).toArray();
    setNumThreads(0);
    expect(sameBits(one, runOn('cpu', x, 300, 700, { maxBranches: 9, minGap: 3 }).toArray())).toBe(true);
  });
});

describeOn('cpu', 'entropySegments errors', () => {
  const entropy = f32(new Float32Array(6), [2, 3], 'cpu'), mask = f32(new Float32Array(6).fill(1), [2, 3], 'cpu');
  test('arguments and options', () => {
    expect(() => ops.entropySegments(f32([1, 2], [2], 'cpu'), mask)).toThrow('Expected a 2-d tensor for entropy but received shape [2]');
    expect(() => ops.entropySegments(entropy, f32(new Float32Array(6), [3, 2], 'cpu'))).toThrow('Expected shape [2, 3] for mask but received [3, 2]');
    expect(() => ops.entropySegments(entropy, mask, { maxBranches: 0 })).toThrow('Expected an integer between 1 and 256 for options.maxBranches but received 0 of type number');
    expect(() => ops.entropySegments(entropy, mask, { maxBranches: 257 })).toThrow(ArgumentError);
    expect(() => ops.entropySegments(entropy, mask, { minGap: 0 })).toThrow('Expected an integer >= 1 for options.minGap but received 0 of type number');
    expect(() => ops.entropySegments(entropy, mask, { minGap: 1.5 })).toThrow(ArgumentError);
    expect(() => ops.entropySegments(entropy, mask, { gap: 1 } as never)).toThrow('unknown option "gap"');
    expect(() => ops.entropySegments(entropy, mask, { compat: 'yes' as never })).toThrow('Expected a boolean for options.compat');
    expect(() => ops.entropySegments(Tensor.from(new Int32Array(6), [2, 3]), mask)).toThrow(DTypeError);
    expect(() => ops.entropySegments(Tensor.from(new Int32Array(6), [2, 3]), mask)).toThrow('Expected dtype float32 for entropy but received Tensor int32 [2, 3] on cpu');
  });
  test('the native layer re-checks sizes and options', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    expect(() => native.entropySegments(new Float32Array(6), new Float32Array(5), 2, 3, 5, 10, false)).toThrow('Expected 6 elements for mask');
    expect(() => native.entropySegments(new Float32Array(6), new Float32Array(6), 2, 3, 300, 10, false)).toThrow('for maxBranches');
  });
});

describeOn('cuda', 'entropySegments across devices', () => {
  test('mixing devices is a DeviceError', () => {
    expect(() => ops.entropySegments(f32(new Float32Array(6), [2, 3], 'cuda'), f32(new Float32Array(6), [2, 3], 'cpu'))).toThrow(DeviceError);
  });
  test('cuda gives the cpu result on long rows', () => {
    const R = 9, T = 3000;
    const x = makeInputs(new Rng(44), R, T, true);
    for (const o of [{}, { compat: true }, { maxBranches: 40, minGap: 3 }])
      expect(sameBits(runOn('cuda', x, R, T, o).toArray(), runOn('cpu', x, R, T, o).toArray())).toBe(true);
  });
});
