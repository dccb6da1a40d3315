// matmul_swiglu.test.ts: ops.matmulSwiglu, the bf16 gate/up GEMM with the SwiGLU gate in its
// epilogue (cuda only: cuda/gemm_bf16.cu's kGlu instantiation after a plain F-column GEMM). On
// cuda: gu against the float64 product of the bf16 inputs (float32-accumulation tolerance) and bit
// for bit against ops.matmul on the same operands; s within half a bf16 ulp of float64's
// silu(gate)·up on that gu, and bit for bit ops.swiglu on the GEMM's gu followed by the cast
// reference. Shapes: tiny, odd (F, C off the tiles, C % 8 != 0: the element-wise load path, the up
// weight's rows at an unaligned offset), model-sized (both the 64x64 and the 128x128 tiles);
// unaligned views; errors, and the cpu's DeviceError.
import { DTypeError, DeviceError, ShapeError, Tensor, fromBFloat16, ops, toBFloat16 } from '../../lib';
import { castToBf16Reference } from '../reference/cast';
import { swigluReference } from '../reference/swiglu';
import { expectClose } from '../util/close';
import { describeOn } from '../util/devices';
import { Rng } from '../util/random';

const SHAPES = [
  { N: 1, C: 8, F: 1 },
  { N: 3, C: 16, F: 8 },      // every row 16-byte aligned: the cp.async path for both GEMMs
  { N: 5, C: 12, F: 7 },      // C % 8 != 0: element-wise loads
  { N: 2, C: 8, F: 3 },       // the up rows start 24 bf16 in: aligned, F off the tile
  { N: 33, C: 64, F: 96 },    // model-sized (TinyLM test config), tails in M and N
  { N: 130, C: 32, F: 130 * 8 },  // enough 128x128 tiles to take the big configuration (N cols = F)
];

function bf16Values(rng: Rng, n: number, scale = 1): { bits: Uint16Array; values: Float32Array } {
  const bits = toBFloat16(rng.floats(n, scale));
  return { bits, values: fromBFloat16(bits) };
}

/** float64 gu = x · wᵀ and the magnitude Σ|x||w| of each element's terms. */
function guReference(x: ArrayLike<number>, w: ArrayLike<number>, N: number, C: number, OC: number) {
  const out = new Float64Array(N * OC), scale = new Float64Array(N * OC);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < OC; o++) {
      let sum = 0, mag = 0;
      for (let c = 0; c < C; c++) {
        sum += x[n * C + c] * w[o * C + c];
        mag += Math.abs(x[n * C + c] * w[o * C + c]);
      }
      out[n * OC + o] = sum;
      scale[n * OC + o] = mag;
    }
  return { out, scale };
}

const bf16Of = (t: Tensor) => Array.from(castToBf16Reference(new Uint32Array((t.toArray() as Float32Array).buffer)));
const bitsOf = (t: Tensor) => Array.from(t.toArray() as Uint16Array);
const TOL = { rtol: 2e-5, atol: 1e-6 };
// s against float64: half a bf16 ulp (2^-8 relative) on top of gu's float32 error, which silu(g)·u
// carries through with a factor of at most ~1.1 per operand (|d silu/dg| <= 1.1).
const S_TOL = { rtol: 2 ** -8 + 4 * TOL.rtol, atol: 1e-5 };

describeOn('cuda', 'matmulSwiglu on cuda', () => {
  const device = 'cuda' as const, dtype = 'bfloat16' as const;
  test.each(SHAPES)('gu and s match float64 and the unfused ops bit for bit: N=$N C=$C F=$F', ({ N, C, F }) => {
    const rng = new Rng(N * 13 + C * 7 + F);
    const x = bf16Values(rng, N * C), w = bf16Values(rng, 2 * F * C, 0.5);
    const inp = Tensor.from(x.bits, [N, C], { device, dtype }), weight = Tensor.from(w.bits, [2 * F, C], { device, dtype });
    const gu = Tensor.zeros([N, 2 * F], { device }), s = Tensor.zeros([N, F], { device, dtype });
    expect(ops.matmulSwiglu({ gu, s, inp, weight })).toBe(s);
    const ref = guReference(x.values, w.values, N, C, 2 * F);
    expectClose(gu.toArray(), ref.out, { ...TOL, scale: ref.scale });
    expectClose(s.toFloat32(), swigluReference(ref.out, N, F), S_TOL);
    const unfused = ops.matmul({ out: Tensor.zeros([N, 2 * F], { device }), inp, weight });
    expect(Array.from(gu.toArray())).toEqual(Array.from(unfused.toArray()));
    expect(bitsOf(s)).toEqual(bf16Of(ops.swiglu({ out: Tensor.zeros([N, F], { device }), inp: unfused })));
  });

  test('unaligned views (the element-wise path) give the unfused bits', () => {
    const rng = new Rng(77), N = 4, C = 16, F = 8;
    const x = bf16Values(rng, N * C), w = bf16Values(rng, 2 * F * C, 0.5);
    const inp = Tensor.from(new Uint16Array([0, ...x.bits]), [1 + N * C], { device, dtype }).view(1, [N, C]);
    const weight = Tensor.from(new Uint16Array([0, 0, 0, ...w.bits]), [3 + 2 * F * C], { device, dtype }).view(3, [2 * F, C]);
    const gu = Tensor.zeros([1 + 2 * N * F], { device }).view(1, [N, 2 * F]);
    const s = Tensor.zeros([5 + N * F], { device, dtype }).view(5, [N, F]);
    ops.matmulSwiglu({ gu, s, inp, weight });
    const unfused = ops.matmul({ out: Tensor.zeros([N, 2 * F], { device }), inp, weight });
    expect(Array.from(gu.toArray())).toEqual(Array.from(unfused.toArray()));
    expect(bitsOf(s)).toEqual(bf16Of(ops.swiglu({ out: Tensor.zeros([N, F], { device }), inp: unfused })));
  });

  test('errors: the cpu, dtypes, shapes', () => {
    const on = (d: 'cpu' | 'cuda') => ({
      gu: Tensor.zeros([4, 6], { device: d }), s: Tensor.zeros([4, 3], { device: d, dtype }),
      inp: Tensor.zeros([4, 8], { device: d, dtype }), weight: Tensor.zeros([6, 8], { device: d, dtype }),
    });
    expect(() => ops.matmulSwiglu(on('cpu'))).toThrow(DeviceError);
    expect(() => ops.matmulSwiglu(on('cpu'))).toThrow('Expected s on cuda (matmulSwiglu, the GEMM with a SwiGLU epilogue, runs on cuda only');
    expect(() => ops.matmulSwiglu({ ...on('cuda'), inp: Tensor.zeros([4, 8], { device }) })).toThrow(DTypeError);
    expect(() => ops.matmulSwiglu({ ...on('cuda'), s: Tensor.zeros([4, 3], { device }) })).toThrow(DTypeError);
    expect(() => ops.matmulSwiglu({ ...on('cuda'), weight: Tensor.zeros([5, 8], { device, dtype }) })).toThrow(ShapeError);
    expect(() => ops.matmulSwiglu({ ...on('cuda'), weight: Tensor.zeros([5, 8], { device, dtype }) }))
      .toThrow('Expected weight of shape [2F, C] (gate and up rows stacked, an even first dimension)');
    expect(() => ops.matmulSwiglu({ ...on('cuda'), gu: Tensor.zeros([4, 5], { device }) })).toThrow('Expected 24 elements ([4, 6]) for gu');
    expect(() => ops.matmulSwiglu({ ...on('cuda'), s: Tensor.zeros([4, 4], { device, dtype }) })).toThrow(ShapeError);
    expect(() => ops.matmulSwiglu({ ...on('cuda'), extra: 1 } as never)).toThrow('extra');
  });
});

describeOn('cpu', 'matmulSwiglu on the cpu', () => {
  test('is a DeviceError (cuda only); the argument checks come first', () => {
    const dtype = 'bfloat16' as const;
    const t = { gu: Tensor.zeros([4, 6]), s: Tensor.zeros([4, 3], { dtype }), inp: Tensor.zeros([4, 8], { dtype }), weight: Tensor.zeros([6, 8], { dtype }) };
    expect(() => ops.matmulSwiglu(t)).toThrow(DeviceError);
    expect(() => ops.matmulSwiglu(t)).toThrow('runs on cuda only; on the cpu run matmul, swiglu and cast');
    expect(() => ops.matmulSwiglu({ ...t, weight: Tensor.zeros([6, 8]) })).toThrow(DTypeError);
  });
});
