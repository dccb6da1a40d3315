// value_loss.test.ts: valueLoss against the float64 reference on every device (the cpu at every
// SIMD level: the op has one scalar path; cuda where the backend has it): on the cpu the loss and
// dvalues have the reference's bits (the arithmetic and order of the loop it replaced in
// lib/optim/update.ts), on cuda dvalues does and the loss is within rounding of the order of the
// sum. Plus clip 0 and Infinity, uint8 masks, offsets, async, and typed errors naming the argument.
import { ArgumentError, DeviceError, DTypeError, ShapeError, Tensor, ops } from '../../lib';
import { makeValueLossCase, valueLossReference, type ValueLossCase } from '../reference/value_loss';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeOn, describeTargets, onTarget, type Target } from '../util/devices';

const SHAPES: [number, number, number, number][] = [  // R, T, W, offset
  [1, 1, 1, 0], [3, 5, 9, 3], [4, 17, 24, 6], [7, 33, 40, 7], [2, 0, 5, 2], [0, 4, 6, 1], [16, 130, 160, 29],
];

function tensors(c: ValueLossCase, device: 'cpu' | 'cuda', u8 = false) {
  return {
    values: Tensor.from(c.values, [c.R, c.W], { device }),
    oldValues: Tensor.from(c.oldValues, [c.R, c.T], { device }),
    returns: Tensor.from(c.returns, [c.R, c.T], { device }),
    mask: u8 ? Tensor.from(Uint8Array.from(c.mask), [c.R, c.T], { device }) : Tensor.from(c.mask, [c.R, c.T], { device }),
  };
}

describeTargets('valueLoss', (target: Target) => {
  const device = target.device;
  const exactLoss = device === 'cpu';
  const check = (c: ValueLossCase, clip: number, coef: number, tokenCount: number, u8 = false) => {
    const out = ops.valueLoss(tensors(c, device, u8), { offset: c.offset, clip, coef, tokenCount });
    const ref = valueLossReference(c, clip, coef, tokenCount);
    expect(out.dvalues.shape).toEqual([c.R, c.W]);
    expect(out.dvalues.device).toBe(device);
    expect(Array.from(out.dvalues.toArray())).toEqual(Array.from(Float32Array.from(ref.dvalues)));
    if (exactLoss) expect(out.loss).toBe(ref.loss);
    else expectClose([out.loss], [ref.loss], { rtol: 1e-12, atol: 1e-300 });
  };

  test('matches float64 over every shape (both branches, ties, ragged masks)', () => {
    onTarget(target, () => {
      for (const [R, T, W, offset] of SHAPES) {
        const c = makeValueLossCase(new Rng(R * 131 + T), R, T, W, offset);
        check(c, 0.2, 0.1, Math.max(1, c.mask.reduce((a, b) => a + b, 0)));
        check(c, 0.05, 0.5, 1000, true);
      }
    });
  });

  test('clip 0 pins the clipped value to Vold; clip Infinity is the plain squared error', () => {
    onTarget(target, () => {
      const c = makeValueLossCase(new Rng(5), 5, 12, 20, 8);
      check(c, 0, 0.1, 37);
      check(c, Infinity, 1, 37);
      const plain = ops.valueLoss(tensors(c, device), { offset: 8, clip: Infinity, coef: 1, tokenCount: 1 });
      let sum = 0;
      for (let i = 0; i < c.mask.length; i++) {
        if (c.mask[i] === 0) continue;
        const r = Math.floor(i / 12), t = i % 12, d = c.values[r * 20 + 8 + t] - c.returns[i];
        sum += 0.5 * d * d;
      }
      expectClose([plain.loss], [sum], { rtol: 1e-12 });
    });
  });

  test('offset defaults to W − T; async gives the same result', async () => {
    const c = makeValueLossCase(new Rng(9), 3, 6, 10, 4);
    const t = tensors(c, device);
    const a = onTarget(target, () => ops.valueLoss(t, { tokenCount: 7 }));
    const b = await ops.valueLossAsync(t, { offset: 4, clip: 0.2, coef: 0.1, tokenCount: 7 });
    expect(b.loss).toBe(a.loss);
    expect(Array.from(b.dvalues.toArray())).toEqual(Array.from(a.dvalues.toArray()));
    expect(a.loss).toBe(exactLoss ? valueLossReference(c, 0.2, 0.1, 7).loss : a.loss);
  });
});

describe('valueLoss errors', () => {
  const c = makeValueLossCase(new Rng(3), 2, 3, 5, 1);
  const good = () => tensors(c, 'cpu');
  test('malformed inputs are typed errors naming the argument', () => {
    expect(() => ops.valueLoss({ ...good(), values: Tensor.zeros([2, 2]) }, { tokenCount: 1 })).toThrow(ShapeError);
    expect(() => ops.valueLoss({ ...good(), values: Tensor.zeros([2, 2]) }, { tokenCount: 1 })).toThrow('values');
    expect(() => ops.valueLoss({ ...good(), values: Tensor.zeros([3, 5]) }, { tokenCount: 1 })).toThrow(ShapeError);
    expect(() => ops.valueLoss({ ...good(), returns: Tensor.zeros([2, 4]) }, { tokenCount: 1 })).toThrow('returns');
    expect(() => ops.valueLoss({ ...good(), oldValues: Tensor.zeros([6]) }, { tokenCount: 1 })).toThrow('oldValues');
    expect(() => ops.valueLoss({ ...good(), mask: Tensor.zeros([2, 3], { dtype: 'int32' }) }, { tokenCount: 1 })).toThrow(DTypeError);
    expect(() => ops.valueLoss({ ...good(), extra: good().mask } as never, { tokenCount: 1 })).toThrow(ArgumentError);
    expect(() => ops.valueLoss(good(), {} as never)).toThrow('options.tokenCount');
    expect(() => ops.valueLoss(good(), undefined as never)).toThrow(ArgumentError);
    expect(() => ops.valueLoss(good(), { tokenCount: 0 })).toThrow('options.tokenCount');
    expect(() => ops.valueLoss(good(), { tokenCount: 1, clip: -0.1 })).toThrow('options.clip');
    expect(() => ops.valueLoss(good(), { tokenCount: 1, clip: NaN })).toThrow('options.clip');
    expect(() => ops.valueLoss(good(), { tokenCount: 1, coef: Infinity })).toThrow('options.coef');
    expect(() => ops.valueLoss(good(), { tokenCount: 1, offset: 3 })).toThrow('options.offset');
    expect(() => ops.valueLoss(good(), { tokenCount: 1, offset: 0.5 })).toThrow('options.offset');
    expect(() => ops.valueLoss(good(), { tokenCount: 1, bogus: 1 } as never)).toThrow('unknown option "bogus"');
  });

  test('the native layer re-checks sizes, the column range and the numbers', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    const f = (n: number) => new Float32Array(n);
    expect(() => native.valueLoss(f(10), f(6), f(6), f(6), 2, 3, 5, 1, 0.2, 0.1, 1, false)).not.toThrow();
    expect(() => native.valueLoss(f(9), f(6), f(6), f(6), 2, 3, 5, 1, 0.2, 0.1, 1, false)).toThrow('values');
    expect(() => native.valueLoss(f(10), f(6), f(6), f(6), 2, 3, 5, 3, 0.2, 0.1, 1, false)).toThrow('offset');
    expect(() => native.valueLoss(f(4), f(6), f(6), f(6), 2, 3, 2, 0, 0.2, 0.1, 1, false)).toThrow('width');
    expect(() => native.valueLoss(f(10), f(6), f(6), f(6), 2, 3, 5, 1, -1, 0.1, 1, false)).toThrow('clip');
    expect(() => native.valueLoss(f(10), f(6), f(6), f(6), 2, 3, 5, 1, NaN, 0.1, 1, false)).toThrow('clip');
    expect(() => native.valueLoss(f(10), f(6), f(6), f(6), 2, 3, 5, 1, 0.2, NaN, 1, false)).toThrow('coef');
    expect(() => native.valueLoss(f(10), f(6), f(6), f(6), 2, 3, 5, 1, 0.2, 0.1, 0, false)).toThrow('tokenCount');
    expect(() => native.valueLoss(f(10), f(6), f(6), new Int32Array(6), 2, 3, 5, 1, 0.2, 0.1, 1, false)).toThrow('mask');
  });
});

describeOn('cuda', 'valueLoss across devices', () => {
  test('mixing cpu and cuda tensors is a DeviceError', () => {
    const c = makeValueLossCase(new Rng(4), 2, 3, 5, 1);
    expect(() => ops.valueLoss({ ...tensors(c, 'cpu'), returns: Tensor.from(c.returns, [2, 3], { device: 'cuda' }) }, { tokenCount: 1 }))
      .toThrow(DeviceError);
  });
});
