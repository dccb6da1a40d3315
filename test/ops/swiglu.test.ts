// swiglu.test.ts: swiglu / swigluBackward against the float64 reference on every device (the cpu at
// every SIMD level, cuda on its 16-byte and scalar paths), over tiny, model-sized and odd widths
// and large |gate| (the exp clamp), with an upstream gradient other than 1; the backward writes
// dinp (no accumulation); determinism (thread counts, repeated cuda runs); errors. The cuda-only
// bfloat16 output: within half a bf16 ulp of float64 and bit for bit the float32 output followed by
// the cast reference, on the 16-byte and unaligned paths; on the cpu a DeviceError.
import { DeviceError, DTypeError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { castToBf16Reference } from '../reference/cast';
import { swigluBackwardReference, swigluReference } from '../reference/swiglu';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget } from '../util/devices';
import { Rng } from '../util/random';

// atol 1e-30: for gate << 0 silu(gate) underflows (~1e-38 and below); float32 answers 0 or ~1e-35.
const TOL = { rtol: 2e-5, atol: 1e-30 };
const SHAPES = [
  { N: 1, F: 1, scale: 1 },
  { N: 3, F: 7, scale: 2 },
  { N: 64, F: 688, scale: 3 },
  { N: 33, F: 129, scale: 40 },
  { N: 5, F: 260, scale: 2 },
];

describeTargets('swiglu', (target) => {
  const device = target.device;
  test.each(SHAPES)('forward and backward match float64: N=$N F=$F |gate|~$scale', ({ N, F, scale }) => {
    onTarget(target, () => {
      const rng = new Rng(N * 3 + F);
      const x = rng.floats(N * 2 * F, scale), g = rng.floats(N * F, 1.4);
      const inp = Tensor.from(x, [N, 2 * F], { device });
      const out = ops.swiglu({ out: Tensor.zeros([N, F], { device }), inp });
      expectClose(out.toArray(), swigluReference(x, N, F), TOL);
      const dinp = Tensor.from(new Float32Array(N * 2 * F).fill(5), [N, 2 * F], { device });
      ops.swigluBackward({ dinp, dout: Tensor.from(g, [N, F], { device }), inp });
      const ref = swigluBackwardReference(g, x, N, F);
      expectClose(dinp.toArray(), ref.dinp, { ...TOL, scale: ref.scale });
    });
  });
});

describeOn('cuda', 'swiglu on cuda', () => {
  test('the same bits on repeated runs; mixing devices is a DeviceError', () => {
    const rng = new Rng(4), N = 64, F = 256, device = 'cuda' as const;
    const inp = Tensor.from(rng.floats(N * 2 * F), [N, 2 * F], { device }), dout = Tensor.from(rng.floats(N * F), [N, F], { device });
    const run = () => {
      const out = ops.swiglu({ out: Tensor.zeros([N, F], { device }), inp }), dinp = Tensor.zeros([N, 2 * F], { device });
      ops.swigluBackward({ dinp, dout, inp });
      return [out, dinp].map((t) => Buffer.from(t.toArray().buffer));
    };
    const first = run(), second = run();
    first.forEach((b, i) => expect(Buffer.compare(b, second[i])).toBe(0));
    expect(() => ops.swiglu({ out: Tensor.zeros([N, F]), inp })).toThrow(DeviceError);
  });
});

describeOn('cuda', 'swiglu with a bfloat16 output on cuda', () => {
  const device = 'cuda' as const;
  const bf16Of = (t: Tensor) => Array.from(castToBf16Reference(new Uint32Array((t.toArray() as Float32Array).buffer)));
  const BF16_TOL = { rtol: 2 ** -8 + TOL.rtol, atol: TOL.atol };
  test.each(SHAPES)('matches float64 within half a bf16 ulp and the float32 output cast, bit for bit: N=$N F=$F', ({ N, F, scale }) => {
    const rng = new Rng(N * 7 + F);
    const x = rng.floats(N * 2 * F, scale);
    const inp = Tensor.from(x, [N, 2 * F], { device });
    const f32 = ops.swiglu({ out: Tensor.zeros([N, F], { device }), inp });
    const b = Tensor.zeros([N, F], { device, dtype: 'bfloat16' });
    expect(ops.swiglu({ out: b, inp })).toBe(b);
    expect(Array.from(b.toArray())).toEqual(bf16Of(f32));
    expectClose(b.toFloat32(), swigluReference(x, N, F), BF16_TOL);
  });

  test('an unaligned bf16 view takes the element-wise path with the same bits', () => {
    const rng = new Rng(12), N = 3, F = 16;
    const inp = Tensor.from(rng.floats(N * 2 * F, 2), [N, 2 * F], { device });
    const f32 = ops.swiglu({ out: Tensor.zeros([N, F], { device }), inp });
    const b = Tensor.zeros([1 + N * F], { device, dtype: 'bfloat16' }).view(1, [N, F]);
    ops.swiglu({ out: b, inp });
    expect(Array.from(b.toArray())).toEqual(bf16Of(f32));
  });

  test('errors: cpu tensors and sizes', () => {
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 3], { dtype: 'bfloat16' }), inp: Tensor.zeros([4, 6]) })).toThrow(DeviceError);
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 3], { dtype: 'bfloat16' }), inp: Tensor.zeros([4, 6]) }))
      .toThrow('Expected out (bfloat16) on cuda (swiglu writes a bfloat16 output on cuda only');
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 3], { device, dtype: 'bfloat16' }), inp: Tensor.zeros([4, 6]) })).toThrow(DeviceError);
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 2], { device, dtype: 'bfloat16' }), inp: Tensor.zeros([4, 6], { device }) }))
      .toThrow('Expected 12 elements ([4, 3]) for out but received Tensor bfloat16 [4, 2] on cuda');
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 3], { device, dtype: 'bfloat16' }), inp: Tensor.zeros([4, 6], { device, dtype: 'bfloat16' }) })).toThrow(DTypeError);
  });
});

describeOn('cpu', 'swiglu behaviour and errors', () => {
  test('results do not depend on the thread count', () => {
    const rng = new Rng(4), N = 512, F = 256;
    const inp = Tensor.from(rng.floats(N * 2 * F), [N, 2 * F]), dout = Tensor.from(rng.floats(N * F), [N, F]);
    const run = () => {
      const out = ops.swiglu({ out: Tensor.zeros([N, F]), inp }), dinp = Tensor.zeros([N, 2 * F]);
      ops.swigluBackward({ dinp, dout, inp });
      return [out, dinp].map((t) => Buffer.from(t.toArray().buffer));
    };
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    const all = run();
    one.forEach((b, i) => expect(Buffer.compare(b, all[i])).toBe(0));
  });

  test('shapes, dtypes and overlap', () => {
    const inp = Tensor.zeros([4, 6]);
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 3]), inp: Tensor.zeros([4, 5]) })).toThrow(ShapeError);
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 3]), inp: Tensor.zeros([4, 5]) })).toThrow('Expected inp of shape [..., 2F] (gate and up stacked, an even last dimension) but received Tensor float32 [4, 5] on cpu');
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 6]), inp })).toThrow('Expected 12 elements ([4, 3]) for out but received Tensor float32 [4, 6] on cpu');
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 3], { dtype: 'int32' }), inp })).toThrow(DTypeError);
    expect(() => ops.swiglu({ out: Tensor.zeros([4, 3], { dtype: 'bfloat16' }), inp })).toThrow(DeviceError);  // cuda-only
    expect(() => ops.swigluBackward({ dinp: Tensor.zeros([4, 6]), dout: Tensor.zeros([4, 3]), inp: Tensor.zeros([4, 6]), extra: 1 } as never)).toThrow('unknown option "extra"');
    const arena = Tensor.zeros([64]);
    expect(() => ops.swiglu({ out: arena.view(20, [4, 3]), inp: arena.view(0, [4, 6]) })).toThrow('Expected out to share no memory with inp');
  });
});
