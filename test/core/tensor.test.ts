// tensor.test.ts: Tensor construction, zero-copy wrapping, dtypes, bf16 rounding, reshape views,
// dispose semantics (addon memory returned at once, never while an async op reads it), errors.
import {
  ArgumentError, DTypeError, DeviceError, DisposedError, ShapeError, Tensor, fromBFloat16, hostMemory, ops, toBFloat16,
} from '../../lib';
import { Rng } from '../util/random';

describe('Tensor', () => {
  test('from a typed array of the dtype wraps it without a copy', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = Tensor.from(data, [2, 3]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('cpu');
    expect(t.numel).toBe(6);
    data[0] = 42; // the caller's write is visible to ops
    const out = ops.tokenLogprobs(t, Tensor.from(new Int32Array([0, 0]), [2]));
    expect(out.logZ.toArray()[0]).toBeGreaterThan(41);
  });

  test('toArray returns a copy', () => {
    const t = Tensor.from(new Int32Array([1, 2, 3]), [3]);
    const a = t.toArray();
    a[0] = 9;
    expect(t.toArray()[0]).toBe(1);
  });

  test('each dtype from plain arrays', () => {
    expect(Tensor.from([1, 2], [2], { dtype: 'int32' }).toArray()).toEqual(new Int32Array([1, 2]));
    expect(Tensor.from([1, 255], [2], { dtype: 'uint8' }).toArray()).toEqual(new Uint8Array([1, 255]));
    expect(Tensor.from([0.5, -2], [2]).toArray()).toEqual(new Float32Array([0.5, -2]));
    const bf = Tensor.from([1, -2.5, 3.140625], [3], { dtype: 'bfloat16' });
    expect(bf.dtype).toBe('bfloat16');
    expect(bf.toFloat32()).toEqual(new Float32Array([1, -2.5, 3.140625]));
  });

  test('bfloat16 rounds to nearest even and keeps NaN and infinities', () => {
    const rng = new Rng(3);
    const x = rng.floats(10000, 100);
    const back = fromBFloat16(toBFloat16(x));
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -8);
    // 1 + 2^-8 is halfway between two bf16 values: ties go to the even mantissa (1.0).
    expect(fromBFloat16(toBFloat16([1 + 2 ** -8, 1 + 3 * 2 ** -8]))).toEqual(new Float32Array([1, 1 + 2 ** -6]));
    const special = fromBFloat16(toBFloat16([NaN, Infinity, -Infinity]));
    expect(Number.isNaN(special[0])).toBe(true);
    expect(special[1]).toBe(Infinity);
    expect(special[2]).toBe(-Infinity);
  });

  test('reshape shares storage; the storage lives until the last view is disposed', () => {
    const t = Tensor.from(new Float32Array(6), [2, 3]);
    const v = t.reshape([3, 2]);
    expect(v.shape).toEqual([3, 2]);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(v.toArray().length).toBe(6);
    expect(() => t.reshape([6])).toThrow(DisposedError);
    expect(() => v.reshape([4])).toThrow(ShapeError);
  });

  test('dispose returns addon memory at once and is idempotent', () => {
    const R = 64, V = 8192;
    const logits = Tensor.from(new Float32Array(R * V), [R, V]);
    const targets = Tensor.from(new Int32Array(R), [R]);
    const fwd = ops.tokenLogprobs(logits, targets);
    const before = hostMemory().liveBytes;
    const dlogits = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, fwd.logprobs);
    expect(hostMemory().liveBytes - before).toBeGreaterThanOrEqual(R * V * 4);
    dlogits.dispose();
    dlogits.dispose();
    expect(hostMemory().liveBytes).toBe(before);
    expect(() => dlogits.toArray()).toThrow(DisposedError);
  });

  test('the forward allocates O(rows) memory, never an [R,V] temporary', () => {
    const R = 512, V = 32768;
    const logits = Tensor.from(new Float32Array(R * V), [R, V]);
    const targets = Tensor.from(new Int32Array(R), [R]);
    const before = hostMemory().liveBytes;
    const out = ops.tokenLogprobs(logits, targets, { entropy: true });
    expect(hostMemory().liveBytes - before).toBeLessThanOrEqual(3 * R * 4 + 3 * 64);
    out.logprobs.dispose();
  });

  test('a tensor disposed while an async op reads it is released only after the op', async () => {
    const R = 256, V = 4096;
    const rng = new Rng(8);
    const logits = Tensor.from(rng.floats(R * V), [R, V]);
    const targets = Tensor.from(rng.ints(R, 0, V), [R]);
    const fwd = ops.tokenLogprobs(logits, targets);
    const g = Tensor.from(rng.floats(R), [R]);
    const expected = ops.tokenLogprobsBackward(logits, targets, fwd.logZ, g).toArray();
    const pending = ops.tokenLogprobsBackwardAsync(logits, targets, fwd.logZ, g);
    fwd.logZ.dispose(); // addon-made storage: must stay valid until the async op settles
    expect(fwd.logZ.disposed).toBe(true);
    expect((await pending).toArray()).toEqual(expected);
  });

  test('hostMemory counts an op\'s scratch in liveBytes and in scratchBytes while it runs, none after', async () => {
    const rows = 64, C = 128, V = 65536; // ~3 GFLOP: the op runs for tens of milliseconds
    const rng = new Rng(9);
    const hidden = Tensor.from(rng.floats(rows * C, 1), [rows, C]);
    const w = new Float32Array(V * C); // a cheap fill: 8M values from the Rng take seconds under jest
    for (let i = 0; i < w.length; i++) w[i] = ((i * 7919) % 201 - 100) * 1e-3;
    const weight = Tensor.from(w, [V, C]);
    const targets = Tensor.from(rng.ints(rows, 0, V), [rows]);
    const batch = { oldLogprobs: Tensor.from(new Float32Array(rows).fill(-12), [4, 16]), advantages: Tensor.from(rng.floats(rows, 1), [4, 16]),
      mask: Tensor.from(new Float32Array(rows).fill(1), [4, 16]) };
    expect(hostMemory().scratchBytes).toBe(0);
    let done = false;
    const pending = ops.linearPolicyLossAsync(hidden, weight, targets, batch, { blockRows: rows }).finally(() => { done = true; });
    let most = 0;
    while (!done) {
      const m = hostMemory();
      expect(m.scratchBytes).toBeLessThanOrEqual(m.liveBytes);
      most = Math.max(most, m.scratchBytes);
      await new Promise((resolve) => setTimeout(resolve, 1)); // a sleep: the op's threads need the cores
    }
    // The block of logits tiles: every row (blockRows) by the vocabulary.
    expect(most).toBeGreaterThanOrEqual(rows * V * 4);
    const out = await pending;
    expect(hostMemory().scratchBytes).toBe(0);
    for (const t of [out.logprobs, out.dlogprobs, out.dhidden, out.logZ]) t.dispose();
  });

  test('errors name the argument, the expectation and what was received', () => {
    expect(() => Tensor.from([1, 2, 3], [2, 2])).toThrow('Expected 4 elements for data of shape [2, 2] but received an array of length 3');
    expect(() => Tensor.from([1, 2], [2.5] as never)).toThrow(ShapeError);
    expect(() => Tensor.from([1, 2], [-2] as never)).toThrow('Expected non-negative integers in shape');
    expect(() => Tensor.from([1, 2], 'x' as never)).toThrow(ArgumentError);
    expect(() => Tensor.from([1, 2], [2], { dtype: 'float16' as never })).toThrow("Expected one of float32, bfloat16, int32, uint8 for options.dtype but received \"float16\" of type string");
    expect(() => Tensor.from([1, 2], [2], { device: 'tpu' as never })).toThrow("Expected 'cpu' or 'cuda' for options.device");
    expect(() => Tensor.from([1.5, 2], [2], { dtype: 'int32' })).toThrow('Expected an integer for data[0] but received 1.5 of type number');
    expect(() => Tensor.from(null as never, [0])).toThrow(ArgumentError);
    expect(() => Tensor.from([1], [1], { dtyp: 'int32' } as never)).toThrow('unknown option "dtyp"');
    expect(() => Tensor.from([1], [1]).to('gpu' as never)).toThrow(ArgumentError);
    expect(() => ops.tokenLogprobs(Tensor.from([1], [1, 1], { dtype: 'uint8' }), Tensor.from([0], [1], { dtype: 'int32' }))).toThrow(DTypeError);
  });

  test('zeros and an empty tensor', () => {
    expect(Tensor.zeros([2, 0]).numel).toBe(0);
    expect(Tensor.zeros([3], { dtype: 'int32' }).toArray()).toEqual(new Int32Array(3));
    expect(String(Tensor.zeros([2, 2]))).toBe('Tensor float32 [2, 2] on cpu');
  });

  test('cuda without a CUDA backend is a DeviceError, not a crash', () => {
    expect(() => Tensor.from([1], [1]).to('cuda')).toThrow(DeviceError);
  });
});
