// linear_policy_loss.test.ts: the one-pass lm_head + policy loss (ops.linearPolicyLoss) against the
// two-pass ops it replaces (linearTokenLogprobs → policyLoss → linearTokenLogprobsBackward: the same
// bits with one 1024-row block, float32 rounding with smaller blocks) and against a float64
// reference on tiny shapes; block-size independence up to rounding, bit-identity for a fixed block
// size across thread counts, odd shapes (N not a multiple of the block, V of the chunk), rows
// without tokens, the async form, and typed errors; on cuda (when tested) the same against the cuda
// two-pass path, the cpu op and float64, with bfloat16 inputs and the device-found mask error.
import { ArgumentError, DeviceError, DTypeError, ShapeError, Tensor, ops, setNumThreads, toBFloat16, type Device } from '../../lib';
import { binding } from '../../lib/binding';
import type { LinearPolicyLossOptions } from '../../lib/ops/index';
import { linearTokenLogprobsBackwardReference, linearTokenLogprobsReference } from '../reference/linear_token_logprobs';
import { makePolicyInputs, policyLossReference, type PolicyLossReferenceOptions } from '../reference/policy_loss';
import { expectClose } from '../util/close';
import { describeOn, onTarget, targets } from '../util/devices';
import { Rng } from '../util/random';

interface Case {
  R: number;
  T: number;
  C: number;
  V: number;
  chunk: number;
  temperature: number;
  /** hidden has M > R·T rows and the tokens read a scattered subset (options.rows). */
  M?: number;
}

interface Data {
  c: Case;
  N: number;
  M: number;
  hidden: Float32Array;
  weight: Float32Array;
  targets: Int32Array;
  rows?: Int32Array;
  old: Float32Array;
  ref: Float32Array;
  adv: Float32Array;
  mask: Float32Array;
}

/** Random hidden/weight/targets, and loss inputs made around ℓ (from the float64 reference), as makePolicyInputs does around its ℓ. */
function makeData(c: Case, seed: number, emptyRows = true): Data {
  const rng = new Rng(seed);
  const N = c.R * c.T, M = c.M ?? N;
  const hidden = rng.floats(M * c.C, 1);
  const weight = rng.floats(c.V * c.C, 2 / Math.sqrt(c.C));
  const targets = rng.ints(N, 0, c.V);
  let rows: Int32Array | undefined;
  if (c.M !== undefined) {
    const perm = Array.from({ length: M }, (_, i) => i);
    for (let i = M - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    rows = Int32Array.from(perm.slice(0, N));
  }
  const lp = linearTokenLogprobsReference({ hidden, weight, targets, rows, N, C: c.C, V: c.V, temperature: c.temperature }).logprobs;
  // makePolicyInputs' ratios, advantages, KL offsets and masks (nudged off the clip boundaries), moved onto these ℓ.
  const p = makePolicyInputs(rng, c.R, c.T, { emptyRows });
  const old = new Float32Array(N), ref = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    old[i] = lp[i] - (p.logprobs[i] - p.oldLogprobs[i]);
    ref[i] = lp[i] + (p.refLogprobs![i] - p.logprobs[i]);
  }
  return { c, N, M, hidden, weight, targets, rows, old, ref, adv: p.advantages, mask: p.mask as Float32Array };
}

function tensors(d: Data, maskU8 = false, device: Device = 'cpu') {
  const { c } = d;
  const o = { device };
  return {
    hidden: Tensor.from(d.hidden, [d.M, c.C], o),
    weight: Tensor.from(d.weight, [c.V, c.C], o),
    targets: Tensor.from(d.targets, [d.N], o),
    rows: d.rows ? Tensor.from(d.rows, [d.N], o) : undefined,
    inputs: {
      oldLogprobs: Tensor.from(d.old, [c.R, c.T], o),
      refLogprobs: Tensor.from(d.ref, [c.R, c.T], o),
      advantages: Tensor.from(d.adv, [c.R, c.T], o),
      mask: maskU8 ? Tensor.from(Uint8Array.from(d.mask), [c.R, c.T], o) : Tensor.from(d.mask, [c.R, c.T], o),
    },
  };
}

type LossOptions = Omit<LinearPolicyLossOptions, 'temperature' | 'chunkSize' | 'rows' | 'dhidden' | 'dweight' | 'blockRows'>;

/** The one-pass op: its result and the accumulated dweight (started from w0). */
function onePass(d: Data, lossOptions: LossOptions, blockRows?: number, w0?: Float32Array, maskU8 = false, device: Device = 'cpu') {
  const t = tensors(d, maskU8, device);
  const dweight = Tensor.from(w0 ? w0.slice() : new Float32Array(d.c.V * d.c.C), [d.c.V, d.c.C], { device });
  const out = ops.linearPolicyLoss(t.hidden, t.weight, t.targets, t.inputs,
    { ...lossOptions, temperature: d.c.temperature, chunkSize: d.c.chunk, rows: t.rows, dweight, blockRows });
  return { out, dweight: dweight.toArray() as Float32Array, dhidden: out.dhidden.toArray() as Float32Array };
}

/** The two-pass path it replaces. */
function twoPass(d: Data, lossOptions: LossOptions, w0?: Float32Array, maskU8 = false, device: Device = 'cpu') {
  const t = tensors(d, maskU8, device);
  const opts = { temperature: d.c.temperature, chunkSize: d.c.chunk, rows: t.rows };
  const fwd = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets, opts);
  const loss = ops.policyLoss({ logprobs: fwd.logprobs.reshape([d.c.R, d.c.T]), ...t.inputs }, lossOptions);
  const dweight = Tensor.from(w0 ? w0.slice() : new Float32Array(d.c.V * d.c.C), [d.c.V, d.c.C], { device });
  const dhidden = ops.linearTokenLogprobsBackward(t.hidden, t.weight, t.targets, fwd.logZ, loss.dlogprobs.reshape([d.N]),
    { ...opts, dweight });
  return {
    loss, logprobs: fwd.logprobs.toArray() as Float32Array, logZ: fwd.logZ.toArray() as Float32Array,
    dweight: dweight.toArray() as Float32Array, dhidden: dhidden.toArray() as Float32Array,
  };
}

const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};
/** float32 rounding of sums in another order: relative to the largest element. */
const closeTo = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  expectClose(a, b, { rtol: 2e-5, atol: 2e-6 * Math.max(1e-30, maxAbs(b)) });

/** A scalar the SIMD loss rows sum in float32 over another split of the rows: float32 rounding. */
const expectNear = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b)));

const SETTINGS: [string, LossOptions][] = [
  ['clip, token-mean', {}],
  ['clip + dual clip + k3 KL, seq-mean-token-mean', { dualClip: 3, klCoef: 0.05, aggregation: 'seq-mean-token-mean' }],
  ['DAPO: clip-higher 0.28, token-mean over the mini-batch, lossScale', { clipHigh: 0.28, tokenCount: 500, rowCount: 9, lossScale: 0.5 }],
  ['Dr. GRPO: seq-mean-token-sum-norm', { aggregation: 'seq-mean-token-sum-norm', maxLength: 40 }],
  ['seq-mean-token-sum + k1 KL', { aggregation: 'seq-mean-token-sum', klCoef: 0.1, klEstimator: 'k1' }],
  ['cispo', { mode: 'cispo' }],
];

const CASES: Case[] = [
  { R: 3, T: 5, C: 8, V: 37, chunk: 8, temperature: 1 },
  { R: 6, T: 7, C: 16, V: 300, chunk: 64, temperature: 0.7 },
  { R: 4, T: 9, C: 12, V: 50, chunk: 16, temperature: 1.3, M: 60 },
  { R: 2, T: 4, C: 5, V: 7, chunk: 4096, temperature: 1 },
];
const label = (c: Case) => `R=${c.R} T=${c.T} C=${c.C} V=${c.V} chunk=${c.chunk} tau=${c.temperature}${c.M ? ` M=${c.M}` : ''}`;

describeOn('cpu', 'linearPolicyLoss', () => {
  describe.each(SETTINGS)('%s', (_name, lossOptions) => {
    test.each(CASES.map((c) => [label(c), c] as const))('one block: the bits of the two-pass path, %s', (_n, c) => {
      const d = makeData(c, c.R * 31 + c.V);
      const w0 = new Rng(2).floats(c.V * c.C, 1);
      for (const maskU8 of [false, true]) {
        const one = onePass(d, lossOptions, undefined, w0, maskU8);
        const two = twoPass(d, lossOptions, w0, maskU8);
        expect(one.out.logprobs.shape).toEqual([c.R, c.T]);
        expect(one.out.dhidden.shape).toEqual([d.M, c.C]);
        expect(one.out.logprobs.toArray()).toEqual(two.logprobs);
        expect(one.out.logZ.toArray()).toEqual(two.logZ);
        expect(one.out.dlogprobs.toArray()).toEqual(two.loss.dlogprobs.toArray());
        expect(one.dhidden).toEqual(two.dhidden);
        expect(one.dweight).toEqual(two.dweight);
        // Whole rows in the block: the loss rows run as policyLoss runs them, the scalars are equal.
        for (const k of ['loss', 'pgLoss', 'klLoss', 'clipFraction', 'kl', 'approxKl'] as const)
          expect(one.out[k]).toBe(two.loss[k]);
      }
    });

    test.each(CASES.map((c) => [label(c), c] as const))('blocks cutting the sequences: the two-pass path to float32 rounding, %s', (_n, c) => {
      const d = makeData(c, c.R * 37 + c.V);
      const two = twoPass(d, lossOptions);
      for (const blockRows of [1, 4, c.T + 1, 2 * c.T]) {
        const one = onePass(d, lossOptions, blockRows);
        // The forward and the per-token gradient do not depend on the block: the same bits.
        expect(one.out.logprobs.toArray()).toEqual(two.logprobs);
        expect(one.out.dlogprobs.toArray()).toEqual(two.loss.dlogprobs.toArray());
        closeTo(one.dhidden, two.dhidden);
        closeTo(one.dweight, two.dweight);
        for (const k of ['loss', 'pgLoss', 'klLoss', 'clipFraction', 'kl', 'approxKl'] as const)
          expectNear(one.out[k], two.loss[k]);
      }
    });
  });

  test.each(CASES.map((c) => [label(c), c] as const))('matches the float64 chain rule: %s', (_n, c) => {
    const d = makeData(c, c.R * 41 + c.V);
    const lossOptions: PolicyLossReferenceOptions = { dualClip: 3, klCoef: 0.05, aggregation: 'seq-mean-token-mean' };
    const x = { hidden: d.hidden, weight: d.weight, targets: d.targets, rows: d.rows, N: d.N, C: c.C, V: c.V, temperature: c.temperature };
    const fwd = linearTokenLogprobsReference(x);
    const pl = policyLossReference({
      R: c.R, T: c.T, logprobs: Float32Array.from(fwd.logprobs), oldLogprobs: d.old, refLogprobs: d.ref, advantages: d.adv, mask: d.mask,
    }, lossOptions);
    const back = linearTokenLogprobsBackwardReference({ ...x, M: d.M }, pl.dlogprobs, null);
    for (const blockRows of [undefined, 3]) {
      const one = onePass(d, lossOptions, blockRows);
      expectClose(one.out.logprobs.toArray() as Float32Array, fwd.logprobs, { rtol: 2e-5, atol: 1e-7, scale: fwd.logprobsScale });
      expectClose(one.out.dlogprobs.toArray() as Float32Array, pl.dlogprobs, { rtol: 1e-4, atol: 1e-7, scale: pl.dlogprobsScale });
      expect(one.out.loss).toBeCloseTo(pl.loss, 4);
      expect(one.out.clipFraction).toBeCloseTo(pl.clipFraction, 12);
      // dℓ carries ℓ's float32 error through the ratio: the scales are the reference's own plus that.
      expectClose(one.dhidden, back.dhidden, { rtol: 1e-4, atol: 1e-6 * maxAbs(back.dhidden), scale: back.dhiddenScale });
      expectClose(one.dweight, back.dweight, { rtol: 1e-4, atol: 1e-6 * maxAbs(back.dweight), scale: back.dweightScale });
    }
  });

  test.each(targets().filter((t) => t.device === 'cpu').map((t) => [t.label, t] as const))(
    'every SIMD level: the bits of the two-pass path at that level, %s', (_l, target) => {
      onTarget(target, () => {
        const c: Case = { R: 5, T: 11, C: 10, V: 61, chunk: 16, temperature: 0.9, M: 70 };
        const d = makeData(c, 12);
        for (const lossOptions of [{ klCoef: 0.05, dualClip: 3 }, { mode: 'cispo' as const }]) {
          const one = onePass(d, lossOptions);
          const two = twoPass(d, lossOptions);
          expect(one.out.logprobs.toArray()).toEqual(two.logprobs);
          expect(one.dhidden).toEqual(two.dhidden);
          expect(one.dweight).toEqual(two.dweight);
          expect(one.out.loss).toBe(two.loss.loss);
        }
      });
    });

  test('odd shapes: N not a multiple of the block, V not of the chunk, more than one 1024-row block', () => {
    const c: Case = { R: 7, T: 150, C: 6, V: 23, chunk: 10, temperature: 1 };  // N = 1050
    const d = makeData(c, 5);
    const two = twoPass(d, {});
    const one = onePass(d, {});  // default: 1024 rows, the two-pass kernels' block
    expect(one.out.logprobs.toArray()).toEqual(two.logprobs);
    expect(one.dhidden).toEqual(two.dhidden);
    expect(one.dweight).toEqual(two.dweight);
    expectNear(one.out.loss, two.loss.loss);  // row 6 straddles the blocks: its sums split
    const odd = onePass(d, {}, 97);
    closeTo(odd.dweight, two.dweight);
    closeTo(odd.dhidden, two.dhidden);
  });

  test('block size: independent up to rounding; a fixed one is bit-identical on any thread count', () => {
    const c: Case = { R: 8, T: 33, C: 24, V: 130, chunk: 32, temperature: 0.9 };
    const d = makeData(c, 77);
    const results: ReturnType<typeof onePass>[] = [];
    try {
      for (const threads of [1, 2, 3]) {
        setNumThreads(threads);
        results.push(onePass(d, { klCoef: 0.02 }, 40));
      }
    } finally {
      setNumThreads(0);
    }
    for (const r of results.slice(1)) {
      expect(r.dweight).toEqual(results[0].dweight);
      expect(r.dhidden).toEqual(results[0].dhidden);
      expect(r.out.loss).toBe(results[0].out.loss);
    }
    for (const blockRows of [1, 7, 64, 264]) {
      const r = onePass(d, { klCoef: 0.02 }, blockRows);
      closeTo(r.dweight, results[0].dweight);
      closeTo(r.dhidden, results[0].dhidden);
      expectNear(r.out.loss, results[0].out.loss);
    }
  });

  test('rows without tokens and an all-zero mask: no gradient, zero loss', () => {
    const c: Case = { R: 4, T: 6, C: 8, V: 20, chunk: 8, temperature: 1 };
    const d = makeData(c, 3);
    d.mask.fill(0, 6, 12);  // row 1 has no tokens
    const one = onePass(d, { aggregation: 'seq-mean-token-mean' }, 5);
    const dl = one.out.dlogprobs.toArray() as Float32Array;
    for (let t = 6; t < 12; t++) expect(dl[t]).toBe(0);
    const two = twoPass(d, { aggregation: 'seq-mean-token-mean' });
    closeTo(one.dweight, two.dweight);
    d.mask.fill(0);
    const none = onePass(d, {}, 5);
    expect(none.out.loss).toBe(0);
    expect(none.out.clipFraction).toBe(0);
    expect(maxAbs(none.dhidden)).toBe(0);
    expect(maxAbs(none.dweight)).toBe(0);
  });

  test('dhidden accumulates into a given tensor; no dweight for a frozen projection; the async form', async () => {
    const c: Case = { R: 3, T: 4, C: 6, V: 11, chunk: 4, temperature: 1, M: 20 };
    const d = makeData(c, 8);
    const t = tensors(d);
    const start = new Rng(4).floats(d.M * c.C, 1);
    const dhidden = Tensor.from(start.slice(), [d.M, c.C]);
    const out = ops.linearPolicyLoss(t.hidden, t.weight, t.targets, t.inputs, { chunkSize: c.chunk, rows: t.rows, dhidden });
    expect(out.dhidden).toBe(dhidden);
    const fresh = onePass(d, {});
    const got = dhidden.toArray() as Float32Array;
    expectClose(got, fresh.dhidden.map((x, i) => x + start[i]), { rtol: 1e-6, atol: 1e-7 });
    const later = await ops.linearPolicyLossAsync(t.hidden, t.weight, t.targets, t.inputs, { chunkSize: c.chunk, rows: t.rows });
    expect(later.dhidden.toArray()).toEqual(fresh.dhidden);
    expect(later.loss).toBe(fresh.out.loss);
  });

  test('supported modes', () => {
    expect(ops.linearPolicyLossSupports('clip')).toBe(true);
    expect(ops.linearPolicyLossSupports(undefined)).toBe(true);
    expect(ops.linearPolicyLossSupports('cispo')).toBe(true);
    expect(ops.linearPolicyLossSupports('gspo')).toBe(false);
    expect(ops.linearPolicyLossSupports('gspo-token')).toBe(false);
    expect(ops.defaultPolicyLossBlockRows(64)).toBe(1024);
    expect(ops.defaultPolicyLossBlockRows(151936)).toBe(441);
  });

  describe('bad inputs give typed errors', () => {
    const c: Case = { R: 2, T: 3, C: 4, V: 5, chunk: 2, temperature: 1 };
    const d = makeData(c, 1);
    const t = tensors(d);
    const run = (inputs: object, options: object = {}, targets: unknown = t.targets) =>
      () => ops.linearPolicyLoss(t.hidden, t.weight, targets as Tensor, inputs as never, options as never);
    test.each(['gspo', 'gspo-token'])('mode %s (its gradient needs whole sequences)', (mode) => {
      expect(run(t.inputs, { mode })).toThrow(ArgumentError);
      expect(run(t.inputs, { mode })).toThrow(new RegExp(`options.mode.*${mode}`));
    });
    test('unknown mode, option or input', () => {
      expect(run(t.inputs, { mode: 'ppo' })).toThrow(ArgumentError);
      expect(run(t.inputs, { entropyCoef: 0.1 })).toThrow(/entropyCoef/);
      expect(run({ ...t.inputs, values: t.inputs.mask })).toThrow(ArgumentError);
    });
    test('per-token inputs of the wrong size, rank or dtype', () => {
      expect(run({ ...t.inputs, oldLogprobs: Tensor.zeros([3, 3]) })).toThrow(/R·T = 6/);
      expect(run({ ...t.inputs, oldLogprobs: Tensor.zeros([6]) })).toThrow(ShapeError);
      expect(run({ ...t.inputs, advantages: Tensor.zeros([3, 2]) })).toThrow(ShapeError);
      expect(run({ ...t.inputs, mask: Tensor.zeros([2, 3], { dtype: 'int32' }) })).toThrow(DTypeError);
      expect(run({ ...t.inputs, mask: Tensor.from(new Float32Array(6).fill(2), [2, 3]) })).toThrow(ArgumentError);
    });
    test('targets out of range, blockRows, klCoef without refLogprobs, dweight of the wrong size', () => {
      expect(run(t.inputs, {}, Tensor.from(Int32Array.from([0, 1, 2, 3, 4, 5]), [6]))).toThrow(ArgumentError);
      expect(run(t.inputs, { blockRows: 0 })).toThrow(/blockRows/);
      expect(run(t.inputs, { blockRows: 2.5 })).toThrow(/blockRows/);
      const { refLogprobs: _, ...noRef } = t.inputs;
      expect(run(noRef, { klCoef: 0.1 })).toThrow(/refLogprobs/);
      expect(run(t.inputs, { dweight: Tensor.zeros([4, 4]) })).toThrow(ShapeError);
      expect(run(t.inputs, { mode: 'cispo', dualClip: 3 })).toThrow(/dualClip/);
    });
    test('gradients that share memory with an input or with each other (this op and linearTokenLogprobsBackward)', () => {
      const dh = Tensor.zeros([6, 4]);
      expect(run(t.inputs, { dweight: t.weight })).toThrow(/dweight.*share no memory with weight/);
      expect(run(t.inputs, { dhidden: t.hidden })).toThrow(/dhidden.*share no memory with hidden/);
      const both = Tensor.zeros([44]);
      expect(run(t.inputs, { dhidden: both.view(0, [6, 4]), dweight: both.view(20, [5, 4]) })).toThrow(/dhidden.*share no memory with dweight/);
      expect(run(t.inputs, { dhidden: both.view(0, [6, 4]), dweight: both.view(24, [5, 4]) })).not.toThrow();
      const fwd = ops.linearTokenLogprobs(t.hidden, t.weight, t.targets);
      const dl = Tensor.from(new Float32Array(6).fill(1), [6]);
      const backward = (options: object) => () => ops.linearTokenLogprobsBackward(t.hidden, t.weight, t.targets, fwd.logZ, dl, options as never);
      expect(backward({ dweight: t.weight })).toThrow(/dweight.*share no memory with weight/);
      expect(backward({ dhidden: both.view(0, [6, 4]), dweight: both.view(20, [5, 4]) })).toThrow(/dhidden.*share no memory with dweight/);
      expect(backward({ dhidden: dh, dweight: both.view(24, [5, 4]) })).not.toThrow();
      for (const x of [dh, both, fwd.logprobs, fwd.logZ, dl]) x.dispose();
    });
    test('straight into the addon: every argument swapped for a malformed value throws an Error or returns', () => {
      // Valid: R=2, T=3, C=4, V=5 (the case above), then each position in turn gets each value.
      const h = new Float32Array(d.hidden), w = new Float32Array(d.weight), tg = new Int32Array(d.targets);
      const valid = (): unknown[] => [h, w, tg, null, new Float32Array(d.old), null, new Float32Array(d.adv), new Float32Array(d.mask),
        null, null, 6, 6, 4, 5, 2, 1, 2, 3, 0.2, 0.2, null, 0, 'k3', 'token-mean', null, null, null, 1, 'clip', 4, false];
      const fn = binding().linearPolicyLoss as unknown as (...a: unknown[]) => unknown;
      expect(() => fn(...valid())).not.toThrow();
      const junk: unknown[] = [undefined, null, -1, 0, 1.5, NaN, Infinity, 2 ** 53, 'gspo', '', {}, new Float32Array(0), new Float32Array(7),
        new Int32Array(6).fill(9), new Int32Array(6).fill(-1), new Uint8Array(6).fill(3), new Float64Array(6)];
      let threw = 0;
      for (let at = 0; at < 30; at++)
        for (const value of junk) {
          const args = valid();
          args[at] = value;
          try {
            fn(...args);
          } catch (error) {
            // An Error of any realm (the addon's come from the main one, not jest's).
            expect(Object.prototype.toString.call(error)).toBe('[object Error]');
            expect((error as Error).message.length).toBeGreaterThan(0);
            threw++;
          }
        }
      expect(threw).toBeGreaterThan(300);
    });
  });
});

// On cuda (cuda/linear_logprobs.cu, linear_policy_loss_cuda): the kernels of the two-pass cuda path
// on kept tiles, so with the default block (one block here) every output has its bits; the scalars
// come from policyLoss's own kernels over the batch's ℓ, so they have its bits at any block size.
// Against the cpu op: float32 rounding only (closeTo's 2e-5 relative): the GEMMs sum the C products
// of a logit in another order (C ≤ 16 here: a few ulp), each chunk's exp-sum is float32 on both (in
// another order), and dℓ carries ℓ's rounding through ρ = exp(ℓ − ℓold) (relative error ≈ ℓ's
// absolute error, ~1e-6); the scalars, sums of those, are compared at 1e-5 relative. Shapes stay
// small: the simulator runs every thread.
describeOn('cuda', 'linearPolicyLoss on cuda', () => {
  const CUDA_CASES: Case[] = [
    { R: 3, T: 5, C: 8, V: 37, chunk: 8, temperature: 1 },
    { R: 4, T: 9, C: 12, V: 50, chunk: 16, temperature: 1.3, M: 60 },
  ];
  const SCALARS = ['loss', 'pgLoss', 'klLoss', 'clipFraction', 'kl', 'approxKl'] as const;
  const nearCpu = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(b)));

  describe.each(SETTINGS)('%s', (_name, lossOptions) => {
    test.each(CUDA_CASES.map((c) => [label(c), c] as const))('one block: the bits of the cuda two-pass path, the cpu op to rounding, %s', (_n, c) => {
      const d = makeData(c, c.R * 31 + c.V);
      const w0 = new Rng(2).floats(c.V * c.C, 1);
      for (const maskU8 of [false, true]) {
        const one = onePass(d, lossOptions, undefined, w0, maskU8, 'cuda');
        const two = twoPass(d, lossOptions, w0, maskU8, 'cuda');
        expect(one.out.logprobs.device).toBe('cuda');
        expect(one.out.dhidden.device).toBe('cuda');
        expect(one.out.logprobs.toArray()).toEqual(two.logprobs);
        expect(one.out.logZ.toArray()).toEqual(two.logZ);
        expect(one.out.dlogprobs.toArray()).toEqual(two.loss.dlogprobs.toArray());
        expect(one.dhidden).toEqual(two.dhidden);
        expect(one.dweight).toEqual(two.dweight);
        for (const k of SCALARS) expect(one.out[k]).toBe(two.loss[k]);
      }
      const gpu = onePass(d, lossOptions, undefined, w0, false, 'cuda');
      const cpu = onePass(d, lossOptions, undefined, w0);
      closeTo(gpu.out.logprobs.toArray() as Float32Array, cpu.out.logprobs.toArray() as Float32Array);
      closeTo(gpu.out.logZ.toArray() as Float32Array, cpu.out.logZ.toArray() as Float32Array);
      closeTo(gpu.out.dlogprobs.toArray() as Float32Array, cpu.out.dlogprobs.toArray() as Float32Array);
      closeTo(gpu.dhidden, cpu.dhidden);
      closeTo(gpu.dweight, cpu.dweight);
      for (const k of SCALARS) nearCpu(gpu.out[k], cpu.out[k]);
    });
  });

  test.each(CUDA_CASES.map((c) => [label(c), c] as const))('blocks cutting the sequences: the cuda two-pass path to rounding, %s', (_n, c) => {
    const d = makeData(c, c.R * 37 + c.V);
    for (const lossOptions of [{ klCoef: 0.05, aggregation: 'seq-mean-token-mean' as const }, { mode: 'cispo' as const }]) {
      const two = twoPass(d, lossOptions, undefined, false, 'cuda');
      for (const blockRows of [1, 4, c.T + 1]) {
        const one = onePass(d, lossOptions, blockRows, undefined, false, 'cuda');
        // A logit is one dot product whatever the block's row count; dℓ per token: the same bits.
        expect(one.out.logprobs.toArray()).toEqual(two.logprobs);
        expect(one.out.dlogprobs.toArray()).toEqual(two.loss.dlogprobs.toArray());
        // dweight sums the blocks' products in another order; the scalars are policyLoss's over the batch.
        closeTo(one.dhidden, two.dhidden);
        closeTo(one.dweight, two.dweight);
        for (const k of SCALARS) expect(one.out[k]).toBe(two.loss[k]);
      }
    }
  });

  test('matches the float64 chain rule (tiny shapes, one block and blocks of 3)', () => {
    const c: Case = { R: 3, T: 4, C: 6, V: 19, chunk: 8, temperature: 0.8, M: 15 };
    const d = makeData(c, 43);
    const lossOptions: PolicyLossReferenceOptions = { dualClip: 3, klCoef: 0.05, aggregation: 'seq-mean-token-mean' };
    const x = { hidden: d.hidden, weight: d.weight, targets: d.targets, rows: d.rows, N: d.N, C: c.C, V: c.V, temperature: c.temperature };
    const fwd = linearTokenLogprobsReference(x);
    const pl = policyLossReference({
      R: c.R, T: c.T, logprobs: Float32Array.from(fwd.logprobs), oldLogprobs: d.old, refLogprobs: d.ref, advantages: d.adv, mask: d.mask,
    }, lossOptions);
    const back = linearTokenLogprobsBackwardReference({ ...x, M: d.M }, pl.dlogprobs, null);
    for (const blockRows of [undefined, 3]) {
      const one = onePass(d, lossOptions, blockRows, undefined, false, 'cuda');
      expectClose(one.out.logprobs.toArray() as Float32Array, fwd.logprobs, { rtol: 2e-5, atol: 1e-7, scale: fwd.logprobsScale });
      expectClose(one.out.dlogprobs.toArray() as Float32Array, pl.dlogprobs, { rtol: 1e-4, atol: 1e-7, scale: pl.dlogprobsScale });
      expect(one.out.loss).toBeCloseTo(pl.loss, 4);
      expect(one.out.clipFraction).toBeCloseTo(pl.clipFraction, 12);
      expectClose(one.dhidden, back.dhidden, { rtol: 1e-4, atol: 1e-6 * maxAbs(back.dhidden), scale: back.dhiddenScale });
      expectClose(one.dweight, back.dweight, { rtol: 1e-4, atol: 1e-6 * maxAbs(back.dweight), scale: back.dweightScale });
    }
  });

  test('odd shapes: N not a multiple of the block, V not of the chunk; rows without tokens; an all-zero mask', () => {
    const c: Case = { R: 4, T: 6, C: 5, V: 23, chunk: 10, temperature: 1 };
    const d = makeData(c, 3);
    d.mask.fill(0, 6, 12);  // row 1 has no tokens
    const lossOptions = { aggregation: 'seq-mean-token-mean' as const };
    const two = twoPass(d, lossOptions, undefined, false, 'cuda');
    const one = onePass(d, lossOptions, 5, undefined, false, 'cuda');  // blocks of 5: every boundary inside a sequence
    const dl = one.out.dlogprobs.toArray() as Float32Array;
    for (let t = 6; t < 12; t++) expect(dl[t]).toBe(0);
    expect(dl).toEqual(two.loss.dlogprobs.toArray());
    closeTo(one.dhidden, two.dhidden);
    closeTo(one.dweight, two.dweight);
    expect(one.out.loss).toBe(two.loss.loss);
    d.mask.fill(0);
    const none = onePass(d, {}, 5, undefined, true, 'cuda');
    expect(none.out.loss).toBe(0);
    expect(none.out.clipFraction).toBe(0);
    expect(maxAbs(none.dhidden)).toBe(0);
    expect(maxAbs(none.dweight)).toBe(0);
  });

  test('bfloat16 hidden states and weight (the tensor-core tiles): the bits of the cuda two-pass path', () => {
    const c: Case = { R: 3, T: 5, C: 16, V: 40, chunk: 16, temperature: 1, M: 20 };
    const d = makeData(c, 11);
    const t = tensors(d, false, 'cuda');
    for (const [hDtype, wDtype] of [['bfloat16', 'bfloat16'], ['float32', 'bfloat16']] as const) {
      const hidden = hDtype === 'bfloat16' ? Tensor.from(toBFloat16(d.hidden), [d.M, c.C], { dtype: 'bfloat16', device: 'cuda' }) : t.hidden;
      const weight = wDtype === 'bfloat16' ? Tensor.from(toBFloat16(d.weight), [c.V, c.C], { dtype: 'bfloat16', device: 'cuda' }) : t.weight;
      const opts = { chunkSize: c.chunk, rows: t.rows };
      const lossOptions = { klCoef: 0.05 };
      const dweight = Tensor.zeros([c.V, c.C], { device: 'cuda' });
      const one = ops.linearPolicyLoss(hidden, weight, t.targets, t.inputs, { ...lossOptions, ...opts, dweight });
      const fwd = ops.linearTokenLogprobs(hidden, weight, t.targets, opts);
      const loss = ops.policyLoss({ logprobs: fwd.logprobs.reshape([c.R, c.T]), ...t.inputs }, lossOptions);
      const dweight2 = Tensor.zeros([c.V, c.C], { device: 'cuda' });
      const dhidden = ops.linearTokenLogprobsBackward(hidden, weight, t.targets, fwd.logZ, loss.dlogprobs.reshape([d.N]), { ...opts, dweight: dweight2 });
      expect(one.logprobs.toArray()).toEqual(fwd.logprobs.toArray());
      expect(one.dhidden.toArray()).toEqual(dhidden.toArray());
      expect(dweight.toArray()).toEqual(dweight2.toArray());
      expect(one.loss).toBe(loss.loss);
    }
  });

  test('dhidden accumulates into a given tensor; the async form', async () => {
    const c: Case = { R: 3, T: 4, C: 6, V: 11, chunk: 4, temperature: 1, M: 20 };
    const d = makeData(c, 8);
    const t = tensors(d, false, 'cuda');
    const start = new Rng(4).floats(d.M * c.C, 1);
    const dhidden = Tensor.from(start.slice(), [d.M, c.C], { device: 'cuda' });
    const out = ops.linearPolicyLoss(t.hidden, t.weight, t.targets, t.inputs, { chunkSize: c.chunk, rows: t.rows, dhidden });
    expect(out.dhidden).toBe(dhidden);
    const fresh = onePass(d, {}, undefined, undefined, false, 'cuda');
    expectClose(dhidden.toArray() as Float32Array, fresh.dhidden.map((x, i) => x + start[i]), { rtol: 1e-6, atol: 1e-7 });
    const later = await ops.linearPolicyLossAsync(t.hidden, t.weight, t.targets, t.inputs, { chunkSize: c.chunk, rows: t.rows });
    expect(later.dhidden.toArray()).toEqual(fresh.dhidden);
    expect(later.loss).toBe(fresh.out.loss);
  });

  test('bad inputs: a mask value other than 0 or 1 (found on the device, before anything is written), mixed devices, gspo, repeated rows', () => {
    const c: Case = { R: 2, T: 3, C: 4, V: 5, chunk: 2, temperature: 1, M: 8 };
    const d = makeData(c, 1);
    const t = tensors(d, false, 'cuda');
    const start = new Float32Array(d.M * c.C).fill(0.5);
    const dhidden = Tensor.from(start, [d.M, c.C], { device: 'cuda' });
    const dweight = Tensor.zeros([c.V, c.C], { device: 'cuda' });
    const bad = Float32Array.from(d.mask);
    bad[4] = 2;
    const badMask = { ...t.inputs, mask: Tensor.from(bad, [c.R, c.T], { device: 'cuda' }) };
    const run = (inputs: object, options: object = {}) =>
      () => ops.linearPolicyLoss(t.hidden, t.weight, t.targets, inputs as never, { rows: t.rows, chunkSize: c.chunk, ...options });
    expect(run(badMask, { dhidden, dweight })).toThrow(ArgumentError);
    expect(run(badMask, { dhidden, dweight })).toThrow(/mask.*received 2 .*index 4/);
    expect(dhidden.toArray()).toEqual(start);
    expect(maxAbs(dweight.toArray() as Float32Array)).toBe(0);
    const u8 = Uint8Array.from(d.mask);
    u8[1] = 3;
    expect(run({ ...t.inputs, mask: Tensor.from(u8, [c.R, c.T], { device: 'cuda' }) })).toThrow(/mask.*received 3 .*index 1/);
    expect(run({ ...t.inputs, advantages: Tensor.from(d.adv, [c.R, c.T]) })).toThrow(DeviceError);
    expect(run(t.inputs, { dweight: Tensor.zeros([c.V, c.C]) })).toThrow(DeviceError);
    expect(run(t.inputs, { mode: 'gspo' })).toThrow(ArgumentError);
    expect(run(t.inputs, { rows: Tensor.from(Int32Array.from([0, 1, 2, 3, 4, 0]), [6], { device: 'cuda' }) })).toThrow(/distinct rows/);
    expect(run(t.inputs, { blockRows: 0 })).toThrow(/blockRows/);
  });
});
