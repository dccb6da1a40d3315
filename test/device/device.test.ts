// device.test.ts: tensors on 'cuda': host <-> device copies for every dtype, views, fill,
// copyFrom, dispose (memory back to the device cache, views keep it alive), the caching
// allocator's statistics and STEPRL_CUDA_NO_CACHE=1 (no cache, in child processes), synchronize(),
// device mixing errors; and, on the cpu backend, the DeviceError that says how to get CUDA. Runs
// on the cuda and cuda-sim backends (scripts/test.mjs runs it with the simulator); on the cpu
// backend only the last block runs.
import { execFileSync } from 'node:child_process';
import {
  ArgumentError, DeviceError, DisposedError, ShapeError, Tensor, backendInfo, cudaInfo, fromBFloat16, ops, synchronize,
  toBFloat16, trimDeviceCache,
} from '../../lib';
import { loadReport } from '../../lib/binding';
import { describeOn, hasCuda } from '../util/devices';
import { Rng } from '../util/random';

describeOn('cuda', 'Tensor on cuda', () => {
  test('from / toArray / to round trips for every dtype', () => {
    const rng = new Rng(1);
    const f = rng.floats(1001);
    const cases: [ArrayLike<number>, 'float32' | 'bfloat16' | 'int32' | 'uint8'][] = [
      [f, 'float32'], [toBFloat16(f), 'bfloat16'], [rng.ints(77, -1000, 1000), 'int32'], [Uint8Array.from([0, 1, 255, 7]), 'uint8'],
    ];
    for (const [data, dtype] of cases) {
      const t = Tensor.from(data, [data.length], { dtype, device: 'cuda' });
      expect(t.device).toBe('cuda');
      expect(t.dtype).toBe(dtype);
      expect(t.toArray()).toEqual(data);
      const host = t.to('cpu');
      expect(host.device).toBe('cpu');
      expect(host.toArray()).toEqual(data);
      expect(host.to('cuda').toArray()).toEqual(data);
      expect(t.to('cuda')).toBe(t);
    }
    expect(Tensor.from([1.5, -2], [2], { dtype: 'bfloat16', device: 'cuda' }).toFloat32()).toEqual(new Float32Array([1.5, -2]));
  });

  test('a device copy does not alias the host array', () => {
    const data = new Float32Array([1, 2, 3]);
    const t = Tensor.from(data, [3], { device: 'cuda' });
    data[0] = 9;
    expect(t.toArray()).toEqual(new Float32Array([1, 2, 3]));
  });

  test('empty tensors and zeros', () => {
    expect(Tensor.zeros([0, 5], { device: 'cuda' }).toArray()).toEqual(new Float32Array(0));
    expect(Tensor.zeros([3], { device: 'cuda', dtype: 'int32' }).toArray()).toEqual(new Int32Array(3));
    expect(String(Tensor.zeros([2, 2], { device: 'cuda' }))).toBe('Tensor float32 [2, 2] on cuda');
  });

  test('views share device memory; fill and copyFrom write through them', () => {
    const t = Tensor.from(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]), [8], { device: 'cuda' });
    const v = t.view(3, [2, 2]);
    expect(v.toArray()).toEqual(new Float32Array([3, 4, 5, 6]));
    v.fill(-1.5);
    expect(t.toArray()).toEqual(new Float32Array([0, 1, 2, -1.5, -1.5, -1.5, -1.5, 7]));
    v.copyFrom(Tensor.from([10, 11, 12, 13], [4], { device: 'cuda' }));
    expect(t.toArray()).toEqual(new Float32Array([0, 1, 2, 10, 11, 12, 13, 7]));
    t.fill(0);
    expect(v.toArray()).toEqual(new Float32Array(4));
    const bf = Tensor.zeros([5], { dtype: 'bfloat16', device: 'cuda' }).fill(3.14159);
    expect(fromBFloat16(bf.toArray() as Uint16Array)).toEqual(fromBFloat16(toBFloat16([3.14159, 3.14159, 3.14159, 3.14159, 3.14159])));
    expect(Array.from(Tensor.zeros([3], { dtype: 'int32', device: 'cuda' }).fill(-7).toArray())).toEqual([-7, -7, -7]);
    expect(Array.from(Tensor.zeros([3], { dtype: 'uint8', device: 'cuda' }).fill(200).toArray())).toEqual([200, 200, 200]);
    expect(() => v.copyFrom(Tensor.from([1, 2, 3, 4], [4]))).toThrow(DeviceError);
    expect(() => v.copyFrom(Tensor.from([1, 2, 3], [3], { device: 'cuda' }))).toThrow(ShapeError);
    expect(() => t.view(6, [3])).toThrow(ShapeError);
  });

  test('copyFrom between overlapping views of one buffer gives memmove\'s result, as on the cpu', () => {
    // A device-to-device cudaMemcpyAsync is undefined for overlapping ranges (the simulator
    // refuses it), so the copy must go through a temporary; the cpu's TypedArray.set is the reference.
    const data = Float32Array.from({ length: 11 }, (_, i) => i + 0.5);
    for (const [to, from, n] of [[0, 3, 6], [3, 0, 6], [2, 3, 8], [4, 4, 5], [1, 0, 10]] as const) {
      const expected = data.slice().copyWithin(to, from, from + n);  // memmove semantics
      const cpu = Tensor.from(data.slice(), [data.length]);  // (a cpu tensor may wrap the array itself)
      cpu.view(to, [n]).copyFrom(cpu.view(from, [n]));
      const cuda = Tensor.from(data, [data.length], { device: 'cuda' });
      cuda.view(to, [n]).copyFrom(cuda.view(from, [n]));
      expect(cpu.toArray()).toEqual(expected);
      expect(cuda.toArray()).toEqual(expected);
    }
  });

  test('a view keeps the memory alive after its parent is disposed', () => {
    const t = Tensor.from(new Float32Array([1, 2, 3, 4]), [4], { device: 'cuda' });
    const v = t.view(1, [2]);
    t.dispose();
    expect(() => t.toArray()).toThrow(DisposedError);
    expect(v.toArray()).toEqual(new Float32Array([2, 3]));
    v.dispose();
    expect(() => v.toArray()).toThrow(DisposedError);
  });

  // Under STEPRL_CUDA_NO_CACHE=1 (scripts/check-gpu.sh's sanitizer runs of these suites) there is no cache to reuse.
  (process.env.STEPRL_CUDA_NO_CACHE === '1' ? test.skip : test)('dispose returns device memory to the cache, and the next allocation reuses it', () => {
    trimDeviceCache();
    const before = cudaInfo()!.allocator;
    const t = Tensor.zeros([1 << 16], { device: 'cuda' });
    const live = cudaInfo()!.allocator;
    expect(live.liveBytes - before.liveBytes).toBeGreaterThanOrEqual(4 << 16);
    expect(live.scratchBytes).toBe(before.scratchBytes); // a tensor's storage is not scratch
    t.dispose();
    const after = cudaInfo()!.allocator;
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.cachedBytes).toBeGreaterThanOrEqual(4 << 16);
    const again = Tensor.zeros([1 << 16], { device: 'cuda' });
    expect(cudaInfo()!.allocator.cacheHits).toBe(after.cacheHits + 1);
    again.dispose();
    trimDeviceCache();
    expect(cudaInfo()!.allocator.cachedBytes).toBe(0);
  });

  // The switch is read once per process: each setting runs in a child process on the loaded addon.
  test('STEPRL_CUDA_NO_CACHE=1 turns the device cache off: every free goes to cudaFree, every allocation to cudaMalloc', () => {
    const script = `
      const b = require(${JSON.stringify(loadReport().file)});
      const before = b.deviceInfo().allocator;
      for (let i = 0; i < 4; i++) {
        const x = b.toDevice(new Float32Array(4096).fill(i));
        if (b.toHost === undefined || b.toHost(x)[7] !== i) throw new Error('round trip failed');
        x.dispose();
      }
      const after = b.deviceInfo().allocator;
      process.stdout.write(JSON.stringify({ allocations: after.deviceAllocations - before.deviceAllocations,
        hits: after.cacheHits - before.cacheHits, cached: after.cachedBytes - before.cachedBytes, live: after.liveBytes - before.liveBytes }));`;
    const run = (noCache: string | undefined) => {
      const env = { ...process.env };
      if (noCache === undefined) delete env.STEPRL_CUDA_NO_CACHE;
      else env.STEPRL_CUDA_NO_CACHE = noCache;
      return JSON.parse(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' })) as Record<string, number>;
    };
    // Off: four fresh blocks, none cached or reused, nothing left live.
    expect(run('1')).toEqual({ allocations: 4, hits: 0, cached: 0, live: 0 });
    // The control, default: one block allocated, then reused three times and kept in the cache.
    expect(run(undefined)).toEqual({ allocations: 1, hits: 3, cached: 4 * 4096, live: 0 });
    expect(run('0')).toEqual({ allocations: 1, hits: 3, cached: 4 * 4096, live: 0 });
  });

  test('device facts and synchronize', () => {
    const info = cudaInfo()!;
    expect(info.deviceCount).toBeGreaterThan(0);
    expect(info.name.length).toBeGreaterThan(0);
    expect(info.simulated).toBe(backendInfo().backend === 'cuda-sim');
    expect(() => synchronize()).not.toThrow();
  });

  test('disposed device tensors are refused', () => {
    const a = Tensor.zeros([2, 3], { device: 'cuda' });
    a.dispose();
    expect(() => a.to('cpu')).toThrow(DisposedError);
    expect(() => a.toArray()).toThrow(DisposedError);
    expect(() => ops.klPenalty(a, Tensor.zeros([2, 3], { device: 'cuda' }))).toThrow(DisposedError);
  });
});

describeOn('cpu', 'cuda on the cpu backend', () => {
  test('to(cuda) is a DeviceError that says how to get CUDA', () => {
    if (hasCuda()) return; // the cuda backends have it
    expect(() => Tensor.from([1], [1]).to('cuda')).toThrow(DeviceError);
    expect(() => Tensor.from([1], [1], { device: 'cuda' })).toThrow('npm run build:cuda-sim');
    expect(() => Tensor.zeros([1], { device: 'cuda' })).toThrow('STEPRL_BACKEND=cuda');
    expect(cudaInfo()).toBeNull();
    expect(() => synchronize()).not.toThrow();
    expect(() => Tensor.from([1], [1]).to('gpu' as never)).toThrow(ArgumentError);
  });
});
