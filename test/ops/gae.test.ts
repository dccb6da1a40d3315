// gae.test.ts: gae against the float64 reference on every device: a hand-worked row, returns and
// raw advantages without whitening, TRL's masked whitening (a single valid token, no valid token),
// γ/λ variations, rows of any length (right padding, holes, float32 and uint8 masks) over tiny, odd
// and realistic shapes; thread-count independence, cuda against the cpu, and errors.
import { ArgumentError, DeviceError, ops, setNumThreads, type Device } from '../../lib';
import { gaeReference, type GaeReferenceOptions } from '../reference/gae';
import { expectClose } from '../util/close';
import { describeOn, devices } from '../util/devices';
import { Rng } from '../util/random';
import { SHAPES, f32, makeMask, maskTensor, sameBits } from '../util/rows';

const TOL = { rtol: 1e-5, atol: 1e-5 };
const OPTIONS: GaeReferenceOptions[] = [{}, { whiten: false }, { gamma: 0.99, lambda: 1 }, { gamma: 0.9, lambda: 0, whiten: false }, { gamma: 0, lambda: 0.5 }];

function makeInputs(rng: Rng, R: number, T: number, holes = false) {
  const mask = makeMask(rng, R, T, holes);
  const rewards = Float32Array.from({ length: R * T }, () => rng.normal() * 0.05);
  for (let i = 0; i < R; i++) { // the sequence score on the last token, as PPO does
    let L = 0;
    for (let t = 0; t < T; t++) if (mask[i * T + t]) L = t + 1;
    if (L > 0) rewards[i * T + L - 1] += rng.next() * 2 - 0.5;
  }
  return { rewards, values: rng.floats(R * T, 0.5), mask };
}

const runOn = (device: Device, x: ReturnType<typeof makeInputs>, R: number, T: number, o: GaeReferenceOptions = {}, maskType: 'float32' | 'uint8' = 'float32') =>
  ops.gae({ rewards: f32(x.rewards, [R, T], device), values: f32(x.values, [R, T], device), mask: maskTensor(x.mask, [R, T], device, maskType) }, o);

for (const device of devices()) {
  describe(`gae on ${device}`, () => {
    test('a hand-worked row: r = [0, 0, 1], V = [.5, .6, .7], γ = 1, λ = 0.95', () => {
      const x = { rewards: new Float32Array([0, 0, 1, 0]), values: new Float32Array([0.5, 0.6, 0.7, 9]), mask: new Float32Array([1, 1, 1, 0]) };
      const { advantages, returns } = runOn(device, x, 1, 4, { whiten: false });
      expectClose(advantages.toArray(), [0.46575, 0.385, 0.3, 0], TOL);
      expectClose(returns.toArray(), [0.96575, 0.985, 1, 0], TOL);
      const mean = (0.46575 + 0.385 + 0.3) / 3, sd = Math.sqrt(((0.46575 - mean) ** 2 + (0.385 - mean) ** 2 + (0.3 - mean) ** 2) / 2 + 1e-8);
      expectClose(runOn(device, x, 1, 4).advantages.toArray(), [(0.46575 - mean) / sd, (0.385 - mean) / sd, (0.3 - mean) / sd, 0], TOL);
    });

    test('whitening one valid token gives 0; no valid token gives zeros', () => {
      const one = { rewards: new Float32Array([2, 5]), values: new Float32Array([1, 1]), mask: new Float32Array([1, 0]) };
      expect(Array.from(runOn(device, one, 1, 2).advantages.toArray())).toEqual([0, 0]);
      expect(Array.from(runOn(device, one, 1, 2).returns.toArray())).toEqual([2, 0]);
      const none = { rewards: new Float32Array([2, 5]), values: new Float32Array([1, 1]), mask: new Float32Array(2) };
      expect(Array.from(runOn(device, none, 2, 1).advantages.toArray())).toEqual([0, 0]);
      expect(runOn(device, { rewards: new Float32Array(0), values: new Float32Array(0), mask: new Float32Array(0) }, 0, 5).advantages.shape).toEqual([0, 5]);
    });

    test.each(SHAPES)('random rows [%i, %i]: γ, λ, whitening, float32 and uint8 masks, holes', (R, T) => {
      const rng = new Rng(R * 101 + T);
      for (const holes of [false, true]) {
        const x = makeInputs(rng, R, T, holes);
        for (const o of OPTIONS) {
          const expected = gaeReference(x.rewards, x.values, x.mask, R, T, o);
          const out = runOn(device, x, R, T, o, holes ? 'uint8' : 'float32');
          expect(out.advantages.shape).toEqual([R, T]);
          expect(out.returns.device).toBe(device);
          expectClose(out.advantages.toArray(), expected.advantages, TOL);
          expectClose(out.returns.toArray(), expected.returns, TOL);
        }
      }
    });

    test('a mask value other than 0 or 1 names its first index', () => {
      const x = makeInputs(new Rng(3), 2, 3);
      x.mask[4] = 7;
      expect(() => runOn(device, x, 2, 3, {}, 'uint8')).toThrow(ArgumentError);
      expect(() => runOn(device, x, 2, 3, {}, 'uint8')).toThrow('Expected 0 or 1 for every element of mask but received 7 of type number at index 4');
    });
  });
}

describeOn('cpu', 'gae on the cpu: threads', () => {
  test('results do not depend on the thread count', () => {
    const x = makeInputs(new Rng(19), 300, 513, true);
    setNumThreads(1);
    const one = runOn('cpu', x, 300, 513);
    setNumThreads(0);
    const all = runOn('cpu', x, 300, 513);
    expect(sameBits(one.advantages.toArray(), all.advantages.toArray())).toBe(true);
    expect(sameBits(one.returns.toArray(), all.returns.toArray())).toBe(true);
  });
});

describeOn('cpu', 'gae errors', () => {
  const t = () => f32(new Float32Array(6), [2, 3], 'cpu');
  test('inputs and options', () => {
    expect(() => ops.gae({ rewards: t(), values: f32(new Float32Array(6), [3, 2], 'cpu'), mask: t() })).toThrow('Expected shape [2, 3] for values but received [3, 2]');
    expect(() => ops.gae({ rewards: t(), values: t() } as never)).toThrow('Expected a Tensor for mask but received undefined');
    expect(() => ops.gae({ rewards: t(), values: t(), mask: t() }, { gamma: -0.1 })).toThrow('Expected a finite number >= 0 for options.gamma but received -0.1 of type number');
    expect(() => ops.gae({ rewards: t(), values: t(), mask: t() }, { lambda: NaN })).toThrow('for options.lambda');
    expect(() => ops.gae({ rewards: t(), values: t(), mask: t() }, { whiten: 'no' as never })).toThrow('Expected a boolean for options.whiten');
    expect(() => ops.gae({ rewards: t(), values: t(), mask: t() }, { lam: 0.9 } as never)).toThrow('unknown option "lam"');
  });
  test('the native layer re-checks sizes and options', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    expect(() => native.gae(new Float32Array(6), new Float32Array(4), new Float32Array(6), 2, 3, 1, 0.95, true)).toThrow('Expected 6 elements for values');
    expect(() => native.gae(new Float32Array(6), new Float32Array(6), new Float32Array(6), 2, 3, -1, 0.95, true)).toThrow('for gamma');
  });
});

describeOn('cuda', 'gae across devices', () => {
  test('mixing devices is a DeviceError', () => {
    expect(() => ops.gae({ rewards: f32([1], [1, 1], 'cuda'), values: f32([1], [1, 1], 'cpu'), mask: f32([1], [1, 1], 'cpu') })).toThrow(DeviceError);
  });
  test('cuda gives the cpu result, with the same bits on every run', () => {
    const x = makeInputs(new Rng(71), 70, 900, true);
    const a = runOn('cuda', x, 70, 900), b = runOn('cuda', x, 70, 900), c = runOn('cpu', x, 70, 900);
    expect(sameBits(a.advantages.toArray(), b.advantages.toArray())).toBe(true);
    expectClose(a.advantages.toArray(), c.advantages.toArray(), { rtol: 1e-5, atol: 1e-6 });
    expectClose(a.returns.toArray(), c.returns.toArray(), { rtol: 1e-6, atol: 1e-6 });
  });
});
