// async_lifetime.test.ts: every `*Async` op keeps its inputs alive while the addon's worker reads
// them. Each input (the addon-made kind, whose dispose() frees memory at once: op outputs on the
// cpu, DeviceBuffers on cuda) is disposed while the promise is in flight, the freed-looking memory
// is then churned by same-sized allocations, and the result must equal the sync op's; an output
// tensor disposed in flight gives a DisposedError when read, never freed memory. The storage is
// released once the op settles. Also the guard itself (lib/in_flight.ts) on a fake addon, and a
// check that this table covers every async op the package exports, so a new one cannot be missed.
// Runs on every device (scripts/test.mjs runs it on the simulator's guard pages too), and under
// AddressSanitizer in `npm run test:asan`, where a read of freed memory is a report.
import { DisposedError, Tensor, cudaInfo, hostMemory, ops, type Device } from '../../lib';
import { guardBinding, trackStorage, type GuardedStorage } from '../../lib/in_flight';
import { describeOn } from '../util/devices';
import { Rng } from '../util/random';

/** An addon-made copy of `data` on `device`, so that dispose() frees real addon memory. */
function addonFloat32(data: Float32Array, shape: number[], device: Device): Tensor {
  if (device === 'cuda') return Tensor.from(data, shape, { device });
  // klPenalty 'k1' with a zero reference is -(0 - x) = x: an exact copy in addon memory.
  const source = Tensor.from(data, shape);
  const zero = Tensor.zeros(shape);
  const { kl, dkl } = ops.klPenalty(source, zero, { estimator: 'k1' });
  dkl.dispose();
  return kl;
}

function addonInt32(values: Int32Array, vocab: number, device: Device): Tensor {
  if (device === 'cuda') return Tensor.from(values, [values.length], { device });
  // Greedy sampling of one-hot logits picks each row's hot index: an exact copy in addon memory.
  const hot = new Float32Array(values.length * vocab);
  values.forEach((v, r) => (hot[r * vocab + v] = 1));
  return ops.sample(Tensor.from(hot, [values.length, vocab]), { temperature: 0 });
}

/** Allocates and fills addon memory of the sizes just freed, so a worker reading freed blocks would see garbage. */
function churn(shapes: number[][], device: Device): void {
  const junk: Tensor[] = [];
  for (const shape of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = addonFloat32(new Float32Array(n).fill(-12345), shape, device);
    junk.push(t);
  }
  for (const t of junk) t.dispose();
}

/** A result tensor's values as plain numbers; the tensor is disposed (so memory counts stay exact). */
const values = (t: Tensor): number[] => {
  const out = Array.from(t.toFloat32());
  t.dispose();
  return out;
};

/** After an op settled: one macrotask, so the addon's worker (and the device memory it held) is gone. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function liveBytes(device: Device): number {
  // Tensors only: an op's worker takes its scratch from the same pool and gives it back when it
  // likes, even between the two reads below (on cpu it did in a CI run: 14.6 kB fewer live bytes).
  const { liveBytes: live, scratchBytes } = device === 'cuda' ? cudaInfo()!.allocator : hostMemory();
  return live - scratchBytes;
}

interface AsyncCase {
  /** The names of the tensors make() returns. */
  inputs: string[];
  /** The inputs, freshly made in addon memory. */
  make(device: Device): Record<string, Tensor>;
  /** The sync op's result as numbers. */
  sync(inputs: Record<string, Tensor>): Record<string, number[] | number>;
  /** Starts the async op; resolves to its result as numbers (reading it after it settled). */
  start(inputs: Record<string, Tensor>): Promise<Record<string, number[] | number>>;
  /** The op runs on the cpu only (cuda throws a DeviceError): not run on cuda. */
  cpuOnly?: boolean;
}

const R = 24, V = 515, T = 96;
/** linearTokenLogprobsBackward's dweight as the sync op computes it, per input dweight. */
const expectedDweight = new Map<Tensor, number[]>();

const CASES: Record<string, AsyncCase> = {
  tokenLogprobsAsync: {
    inputs: ['logits', 'targets'],
    make(device) {
      const rng = new Rng(1);
      return { logits: addonFloat32(rng.floats(R * V, 3), [R, V], device), targets: addonInt32(rng.ints(R, 0, V), V, device) };
    },
    sync: (i) => {
      const out = ops.tokenLogprobs(i.logits, i.targets, { entropy: true, temperature: 0.8 });
      return { logprobs: values(out.logprobs), logZ: values(out.logZ), entropy: values(out.entropy!) };
    },
    start: async (i) => {
      const out = await ops.tokenLogprobsAsync(i.logits, i.targets, { entropy: true, temperature: 0.8 });
      return { logprobs: values(out.logprobs), logZ: values(out.logZ), entropy: values(out.entropy!) };
    },
  },
  tokenLogprobsBackwardAsync: {
    inputs: ['logits', 'targets', 'logZ', 'dlogprobs', 'entropy', 'dentropy'],
    make(device) {
      const rng = new Rng(2);
      const logits = addonFloat32(rng.floats(R * V, 3), [R, V], device);
      const targets = addonInt32(rng.ints(R, 0, V), V, device);
      const fwd = ops.tokenLogprobs(logits, targets, { entropy: true });
      const dlogprobs = addonFloat32(rng.floats(R), [R], device);
      const dentropy = addonFloat32(rng.floats(R), [R], device);
      fwd.logprobs.dispose();
      return { logits, targets, logZ: fwd.logZ, dlogprobs, entropy: fwd.entropy!, dentropy };
    },
    sync: (i) => ({
      dlogits: values(ops.tokenLogprobsBackward(i.logits, i.targets, i.logZ, i.dlogprobs, { entropy: i.entropy, dentropy: i.dentropy })),
    }),
    start: async (i) => ({
      dlogits: values(await ops.tokenLogprobsBackwardAsync(i.logits, i.targets, i.logZ, i.dlogprobs, { entropy: i.entropy, dentropy: i.dentropy })),
    }),
  },
  klPenaltyAsync: {
    inputs: ['logprobs', 'refLogprobs'],
    make(device) {
      const rng = new Rng(3);
      return { logprobs: addonFloat32(rng.floats(R * T), [R, T], device), refLogprobs: addonFloat32(rng.floats(R * T), [R, T], device) };
    },
    sync: (i) => {
      const out = ops.klPenalty(i.logprobs, i.refLogprobs, { estimator: 'k3' });
      return { kl: values(out.kl), dkl: values(out.dkl) };
    },
    start: async (i) => {
      const out = await ops.klPenaltyAsync(i.logprobs, i.refLogprobs, { estimator: 'k3' });
      return { kl: values(out.kl), dkl: values(out.dkl) };
    },
  },
  policyLossAsync: {
    inputs: ['logprobs', 'oldLogprobs', 'refLogprobs', 'advantages', 'mask'],
    make(device) {
      const rng = new Rng(4);
      const logprobs = rng.floats(R * T, 0.5).map((x) => x - 2);
      const old = logprobs.map((x, k) => x + (k % 7 === 0 ? 0.4 : 0.01 * Math.sin(k)));
      const mask = new Float32Array(R * T).map((_, k) => (k % T < T - (k % 5) * 7 ? 1 : 0));
      return {
        logprobs: addonFloat32(logprobs, [R, T], device),
        oldLogprobs: addonFloat32(old, [R, T], device),
        refLogprobs: addonFloat32(logprobs.map((x) => x - 0.1), [R, T], device),
        advantages: addonFloat32(rng.floats(R * T), [R, T], device),
        mask: addonFloat32(mask, [R, T], device),
      };
    },
    sync: (i) => {
      const out = ops.policyLoss({ logprobs: i.logprobs, oldLogprobs: i.oldLogprobs, refLogprobs: i.refLogprobs, advantages: i.advantages, mask: i.mask }, { klCoef: 0.05 });
      return { loss: out.loss, kl: out.kl, clipFraction: out.clipFraction, dlogprobs: values(out.dlogprobs) };
    },
    start: async (i) => {
      const out = await ops.policyLossAsync({ logprobs: i.logprobs, oldLogprobs: i.oldLogprobs, refLogprobs: i.refLogprobs, advantages: i.advantages, mask: i.mask }, { klCoef: 0.05 });
      return { loss: out.loss, kl: out.kl, clipFraction: out.clipFraction, dlogprobs: values(out.dlogprobs) };
    },
  },
  valueLossAsync: {
    inputs: ['values', 'oldValues', 'returns', 'mask'],
    make(device) {
      const rng = new Rng(9);
      const W = T + 5;  // the response's values start at column 5
      const mask = new Float32Array(R * T).map((_, k) => (k % T < T - (k % 5) * 7 ? 1 : 0));
      return {
        values: addonFloat32(rng.floats(R * W), [R, W], device),
        oldValues: addonFloat32(rng.floats(R * T), [R, T], device),
        returns: addonFloat32(rng.floats(R * T), [R, T], device),
        mask: addonFloat32(mask, [R, T], device),
      };
    },
    sync: (i) => {
      const out = ops.valueLoss({ values: i.values, oldValues: i.oldValues, returns: i.returns, mask: i.mask }, { tokenCount: R * T, clip: 0.2 });
      return { loss: out.loss, dvalues: values(out.dvalues) };
    },
    start: async (i) => {
      const out = await ops.valueLossAsync({ values: i.values, oldValues: i.oldValues, returns: i.returns, mask: i.mask }, { tokenCount: R * T, clip: 0.2 });
      return { loss: out.loss, dvalues: values(out.dvalues) };
    },
  },
  linearTokenLogprobsAsync: {
    inputs: ['hidden', 'weight', 'targets'],
    make(device) {
      const rng = new Rng(5);
      return {
        hidden: addonFloat32(rng.floats(R * 40, 1), [R, 40], device),
        weight: addonFloat32(rng.floats(V * 40, 0.3), [V, 40], device),
        targets: addonInt32(rng.ints(R, 0, V), V, device),
      };
    },
    sync: (i) => {
      const out = ops.linearTokenLogprobs(i.hidden, i.weight, i.targets, { entropy: true, chunkSize: 128 });
      return { logprobs: values(out.logprobs), logZ: values(out.logZ), entropy: values(out.entropy!) };
    },
    start: async (i) => {
      const out = await ops.linearTokenLogprobsAsync(i.hidden, i.weight, i.targets, { entropy: true, chunkSize: 128 });
      return { logprobs: values(out.logprobs), logZ: values(out.logZ), entropy: values(out.entropy!) };
    },
  },
  linearTokenLogprobsBackwardAsync: {
    inputs: ['hidden', 'weight', 'targets', 'logZ', 'dlogprobs', 'dweight'],
    make(device) {
      const rng = new Rng(6);
      const hidden = addonFloat32(rng.floats(R * 40, 1), [R, 40], device);
      const weight = addonFloat32(rng.floats(V * 40, 0.3), [V, 40], device);
      const targets = addonInt32(rng.ints(R, 0, V), V, device);
      const fwd = ops.linearTokenLogprobs(hidden, weight, targets, { chunkSize: 128 });
      fwd.logprobs.dispose();
      return { hidden, weight, targets, logZ: fwd.logZ, dlogprobs: addonFloat32(rng.floats(R), [R], device), dweight: addonFloat32(new Float32Array(V * 40), [V, 40], device) };
    },
    sync: (i) => {
      // Into a dweight of its own: the in-flight run accumulates into the input one (an output
      // buffer the worker writes, so it must stay alive too); its values are checked in start().
      const dweight = addonFloat32(new Float32Array(V * 40), [V, 40], i.hidden.device);
      const dhidden = values(ops.linearTokenLogprobsBackward(i.hidden, i.weight, i.targets, i.logZ, i.dlogprobs, { chunkSize: 128, dweight }));
      expectedDweight.set(i.dweight, values(dweight));
      return { dhidden };
    },
    start: async (i) => {
      const dhidden = values(await ops.linearTokenLogprobsBackwardAsync(i.hidden, i.weight, i.targets, i.logZ, i.dlogprobs, { chunkSize: 128, dweight: i.dweight }));
      if (!i.dweight.disposed) expect(Array.from(i.dweight.toFloat32())).toEqual(expectedDweight.get(i.dweight));
      return { dhidden };
    },
  },
  linearPolicyLossAsync: {
    inputs: ['hidden', 'weight', 'targets', 'oldLogprobs', 'advantages', 'mask', 'dweight'],
    make(device) {
      const rng = new Rng(7);
      const mask = new Float32Array(R).fill(1);
      mask.fill(0, 20);
      return {
        hidden: addonFloat32(rng.floats(R * 40, 1), [R, 40], device),
        weight: addonFloat32(rng.floats(V * 40, 0.3), [V, 40], device),
        targets: addonInt32(rng.ints(R, 0, V), V, device),
        oldLogprobs: addonFloat32(rng.floats(R, 1).map((x) => x - 6), [4, R / 4], device),
        advantages: addonFloat32(rng.floats(R, 1), [4, R / 4], device),
        mask: addonFloat32(mask, [4, R / 4], device),
        dweight: addonFloat32(new Float32Array(V * 40), [V, 40], device),
      };
    },
    sync: (i) => {
      // Into a dweight of its own, as linearTokenLogprobsBackwardAsync's case.
      const dweight = addonFloat32(new Float32Array(V * 40), [V, 40], i.hidden.device);
      const out = ops.linearPolicyLoss(i.hidden, i.weight, i.targets, { oldLogprobs: i.oldLogprobs, advantages: i.advantages, mask: i.mask },
        { chunkSize: 128, blockRows: 7, dweight });
      expectedDweight.set(i.dweight, values(dweight));
      out.logZ.dispose();
      return { loss: out.loss, logprobs: values(out.logprobs), dlogprobs: values(out.dlogprobs), dhidden: values(out.dhidden) };
    },
    start: async (i) => {
      const out = await ops.linearPolicyLossAsync(i.hidden, i.weight, i.targets, { oldLogprobs: i.oldLogprobs, advantages: i.advantages, mask: i.mask },
        { chunkSize: 128, blockRows: 7, dweight: i.dweight });
      if (!i.dweight.disposed) expect(Array.from(i.dweight.toFloat32())).toEqual(expectedDweight.get(i.dweight));
      out.logZ.dispose();
      return { loss: out.loss, logprobs: values(out.logprobs), dlogprobs: values(out.dlogprobs), dhidden: values(out.dhidden) };
    },
  },
};

test('the table covers every async op the package exports', () => {
  const exported = Object.keys(ops).filter((name) => name.endsWith('Async')).sort();
  expect(Object.keys(CASES).sort()).toEqual(exported);
});

for (const device of ['cpu', 'cuda'] as Device[]) {
  describeOn(device, `async ops on ${device}: inputs disposed while the op is in flight`, () => {
    for (const [name, c] of Object.entries(CASES)) {
      if (c.cpuOnly && device !== 'cpu') continue;
      test.each([...c.inputs.map((n) => [n]), ['every input']])(`${name}: %s disposed in flight`, async (which) => {
        const inputs = c.make(device);
        expect(Object.keys(inputs)).toEqual(c.inputs);
        const expected = c.sync(inputs);
        const victims = which === 'every input' ? Object.values(inputs) : [inputs[which]];
        const pending = c.start(inputs);
        const started = liveBytes(device); // the op's outputs are allocated when it starts
        for (const t of victims) t.dispose();
        for (const t of victims) expect(t.disposed).toBe(true);
        // Nothing is freed while the worker may still read it...
        expect(liveBytes(device)).toBeGreaterThanOrEqual(started);
        churn(victims.map((t) => [...t.shape]), device);
        expect(await pending).toEqual(expected);
        // ...and it is released once the op settled (its outputs are disposed too by now).
        const released = victims.reduce((sum, t) => sum + t.numel * 4, 0);
        await settled();
        expect(liveBytes(device)).toBeLessThanOrEqual(started - released);
        for (const t of Object.values(inputs)) t.dispose();
      });
    }

    test('tokenLogprobsBackwardAsync: options.out disposed in flight is written, then reads as disposed', async () => {
      const rng = new Rng(6);
      const logits = addonFloat32(rng.floats(R * V, 3), [R, V], device);
      const targets = addonInt32(rng.ints(R, 0, V), V, device);
      const fwd = ops.tokenLogprobs(logits, targets);
      const out = addonFloat32(new Float32Array(R * V), [R, V], device);
      const pending = ops.tokenLogprobsBackwardAsync(logits, targets, fwd.logZ, fwd.logprobs, { out });
      out.dispose();
      churn([[R, V]], device);
      const result = await pending;
      expect(result).toBe(out);
      expect(() => result.toArray()).toThrow(DisposedError);
    });

    test('a large input (a block the host pool caches for reuse) disposed in flight', async () => {
      const rng = new Rng(8);
      const rows = 64, vocab = 4099; // > 1 MiB of logits: freed blocks go to the pool's cache, not free()
      const logits = addonFloat32(rng.floats(rows * vocab, 3), [rows, vocab], device);
      const targets = addonInt32(rng.ints(rows, 0, vocab), vocab, device);
      const expected = values(ops.tokenLogprobs(logits, targets).logprobs);
      const pending = ops.tokenLogprobsAsync(logits, targets);
      const started = liveBytes(device);
      logits.dispose();
      expect(liveBytes(device)).toBeGreaterThanOrEqual(started);
      churn([[rows, vocab]], device); // reuses the cached block if it had been released
      const out = await pending;
      expect(values(out.logprobs)).toEqual(expected);
      out.logZ.dispose();
      await settled();
      expect(liveBytes(device)).toBeLessThanOrEqual(started - rows * vocab * 4);
      targets.dispose();
    });

    test('an input disposed before the call is a DisposedError naming it', async () => {
      const inputs = CASES.klPenaltyAsync.make(device);
      inputs.refLogprobs.dispose();
      await expect(ops.klPenaltyAsync(inputs.logprobs, inputs.refLogprobs)).rejects.toThrow(DisposedError);
      await expect(ops.klPenaltyAsync(inputs.logprobs, inputs.refLogprobs)).rejects.toThrow('refLogprobs');
    });

    test('a view in flight keeps its parent alive; the parent is released after the op', async () => {
      const rng = new Rng(7);
      const parent = addonFloat32(rng.floats(2 * R * T), [2 * R * T], device);
      const a = parent.view(0, [R, T]), b = parent.view(R * T, [R, T]);
      const expected = ops.klPenalty(a, b);
      const expectedKl = values(expected.kl), expectedDkl = values(expected.dkl);
      const pending = ops.klPenaltyAsync(a, b);
      const started = liveBytes(device);
      parent.dispose();
      a.dispose();
      b.dispose();
      expect(liveBytes(device)).toBeGreaterThanOrEqual(started);
      churn([[2 * R * T]], device);
      const out = await pending;
      expect(values(out.kl)).toEqual(expectedKl);
      expect(values(out.dkl)).toEqual(expectedDkl);
      await settled();
      expect(liveBytes(device)).toBeLessThanOrEqual(started - 2 * R * T * 4);
    });
  });
}

describe('the guard (lib/in_flight.ts) on a fake addon', () => {
  class Box implements GuardedStorage {
    pending = 0;
    releaseWhenIdle = false;
    released = 0;
    release(): void {
      this.released++;
    }
  }

  test('a call that returns a promise holds every tracked argument until it settles, then releases what was disposed', async () => {
    let finish!: (value: string) => void;
    let fail!: (error: Error) => void;
    const addon = guardBinding({
      op: (_a: unknown, _b: unknown, _list: unknown[], _n: number) => new Promise<string>((resolve) => (finish = resolve)),
      bad: (_a: unknown) => new Promise<string>((_resolve, reject) => (fail = reject)),
      sync: (a: Float32Array) => a.length,
      constant: 7,
    });
    const a = new Float32Array(2), b = new Int32Array(3), c = new Uint8Array(1), untracked = new Float32Array(1);
    const boxA = new Box(), boxB = new Box(), boxC = new Box();
    trackStorage(a, boxA);
    trackStorage(b, boxB);
    trackStorage(c, boxC);

    expect(addon.constant).toBe(7);
    expect(addon.sync(a)).toBe(2);
    expect(boxA.pending).toBe(0); // a sync call holds nothing

    const pending = addon.op(a, b, [c, untracked], 1);
    expect([boxA.pending, boxB.pending, boxC.pending]).toEqual([1, 1, 1]);
    boxA.releaseWhenIdle = true; // what Tensor.dispose() does while pending > 0
    finish('done');
    expect(await pending).toBe('done');
    expect([boxA.pending, boxB.pending, boxC.pending]).toEqual([0, 0, 0]);
    expect([boxA.released, boxB.released, boxC.released]).toEqual([1, 0, 0]);
    expect(boxA.releaseWhenIdle).toBe(false);

    const rejected = addon.bad(b);
    expect(boxB.pending).toBe(1);
    boxB.releaseWhenIdle = true;
    fail(new Error('kernel failed'));
    await expect(rejected).rejects.toThrow('kernel failed');
    expect([boxB.pending, boxB.released]).toEqual([0, 1]);
  });

  test('two calls in flight over one storage: released only after both settle', async () => {
    const resolvers: (() => void)[] = [];
    const addon = guardBinding({ op: (_a: unknown) => new Promise<void>((resolve) => resolvers.push(resolve)) });
    const a = new Float32Array(1), box = new Box();
    trackStorage(a, box);
    const first = addon.op(a), second = addon.op(a);
    box.releaseWhenIdle = true;
    resolvers[0]();
    await first;
    expect([box.pending, box.released]).toEqual([1, 0]);
    resolvers[1]();
    await second;
    expect([box.pending, box.released]).toEqual([0, 1]);
  });
});
