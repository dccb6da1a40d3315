// policy_loss.test.ts: policyLoss against the float64 reference on every device (the cpu at every
// SIMD level, cuda where the backend has it): each aggregation over tiny, realistic and odd
// shapes, each KL estimator, dual clip and clip-higher, the ratio clamp, rows without tokens, NaN
// padding, uint8 masks, micro-batch denominators, a hand-computed vector; plus thread-count
// determinism, SIMD agreement, async and errors (device mixing and device-side mask checks included).
import { ArgumentError, DeviceError, DisposedError, DTypeError, ShapeError, Tensor, ops, setNumThreads, type Device } from '../../lib';
import type { PolicyLossOptions, PolicyLossResult } from '../../lib/ops/policy_loss';
import {
  makePolicyInputs, makeSequenceInputs, policyLossReference, type Aggregation, type PolicyLossCase, type PolicyLossReference,
} from '../reference/policy_loss';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeOn, describeTargets, onTarget, type Target } from '../util/devices';
import { simdLevels, withSimd } from '../util/simd';

// Loss, pgLoss, klLoss, kl and approxKl are signed sums, and each dlogprobs element is gψ + β·∂κ:
// they are compared relative to the magnitude of their terms (the reference's *Scale).
const TOL = { rtol: 2e-5, atol: 1e-30 };
const AGGREGATIONS: Aggregation[] = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'];
const SHAPES = [[1, 1], [3, 17], [41, 1271], [256, 1024]];

function inputsOf(c: PolicyLossCase, opts: { ref?: boolean; u8?: boolean; device?: Device } = {}) {
  const shape = [c.R, c.T], device = opts.device ?? 'cpu';
  return {
    logprobs: Tensor.from(c.logprobs, shape, { device }),
    oldLogprobs: Tensor.from(c.oldLogprobs, shape, { device }),
    refLogprobs: opts.ref === false ? undefined : Tensor.from(c.refLogprobs!, shape, { device }),
    advantages: Tensor.from(c.advantages, shape, { device }),
    mask: opts.u8 ? Tensor.from(Uint8Array.from(c.mask), shape, { device }) : Tensor.from(c.mask, shape, { device }),
  };
}

function run(c: PolicyLossCase, options: PolicyLossOptions = {}, opts: { ref?: boolean; u8?: boolean; device?: Device } = {}): PolicyLossResult {
  return ops.policyLoss(inputsOf(c, opts), options);
}

function expectMatches(out: PolicyLossResult, ref: PolicyLossReference, c: PolicyLossCase): void {
  expectClose([out.loss], [ref.loss], { ...TOL, scale: [ref.lossScale] });
  expectClose([out.pgLoss], [ref.pgLoss], { ...TOL, scale: [ref.pgLossScale] });
  expectClose([out.klLoss], [ref.klLoss], { ...TOL, scale: [ref.klLossScale] });
  expectClose([out.kl], [ref.kl], { ...TOL, scale: [ref.klScale] });
  expectClose([out.approxKl], [ref.approxKl], { ...TOL, scale: [ref.approxKlScale] });
  expect(out.clipFraction).toBeCloseTo(ref.clipFraction, 12);
  const d = out.dlogprobs.toArray();
  expect(out.dlogprobs.shape).toEqual([c.R, c.T]);
  expectClose(d, ref.dlogprobs, { ...TOL, scale: ref.dlogprobsScale });
  for (let j = 0; j < d.length; j++) if (c.mask[j] === 0 && d[j] !== 0) throw new Error(`dlogprobs[${j}] = ${d[j]} on padding`);
}

// Inputs and references do not depend on the SIMD level: build them once.
const memo = new Map<string, unknown>();
function cached<T>(key: string, make: () => T): T {
  if (!memo.has(key)) memo.set(key, make());
  return memo.get(key) as T;
}

describeTargets('policyLoss', (target: Target) => {
  const device = target.device;
  test.each(AGGREGATIONS)('%s matches float64 over every shape, with a k3 term and empty rows', (aggregation) => {
    onTarget(target, () => {
      for (const [R, T] of SHAPES) {
        const options = { aggregation, klCoef: 0.04, maxLength: aggregation.endsWith('norm') ? T + 7 : undefined };
        const { c, ref } = cached(`${R}x${T} ${aggregation}`, () => {
          const inputs = makePolicyInputs(new Rng(R * 31 + T), R, T, { emptyRows: true });
          return { c: inputs, ref: policyLossReference(inputs, options) };
        });
        expectMatches(run(c, options, { device }), ref, c);
      }
    });
  });

  test.each(['k1', 'k2', 'k3', 'k3+', 'abs'] as const)('KL term with estimator %s', (klEstimator) => {
    onTarget(target, () => {
      const options = { klCoef: 0.1, klEstimator };
      const { c, ref } = cached(`estimator ${klEstimator}`, () => {
        const inputs = makePolicyInputs(new Rng(77), 41, 1271, { emptyRows: true });
        return { c: inputs, ref: policyLossReference(inputs, options) };
      });
      expectMatches(run(c, options, { device }), ref, c);
    });
  });

  test('dual clip, clip-higher, wide ratios (ratio clamp included), uint8 mask, lossScale', () => {
    onTarget(target, () => {
      const c = makePolicyInputs(new Rng(5), 37, 333, { ratioSpread: 1.5 });
      const options = { clipLow: 0.2, clipHigh: 0.28, dualClip: 3, lossScale: 0.25, aggregation: 'seq-mean-token-mean' as const };
      const ref = policyLossReference({ ...c, refLogprobs: undefined }, options);
      expect(ref.clipFraction).toBeGreaterThan(0.2);
      expect(ref.kl).toBe(0);
      expectMatches(run(c, options, { ref: false, device }), ref, c);
      expectMatches(run(c, options, { ref: false, u8: true, device }), ref, c);
    });
  });

  test('padding holding NaN never leaks; reference log-probs with klCoef 0 only feed the kl metric', () => {
    onTarget(target, () => {
      const c = makePolicyInputs(new Rng(9), 19, 100, { nanPadding: true, emptyRows: true });
      const out = run(c, { klCoef: 0 }, { device });
      const ref = policyLossReference(c, { klCoef: 0 });
      expectMatches(out, ref, c);
      expect(out.klLoss).toBe(0);
      expect(out.kl).toBeGreaterThan(0);
      expect(Number.isFinite(out.loss)).toBe(true);
    });
  });

  test('a hand-computed vector: unclipped, clipped above, clipped below, dual clip', () => {
    onTarget(target, () => {
      const shape = [1, 4];
      const inputs = {
        logprobs: Tensor.from([0, Math.log(1.5), Math.log(0.5), Math.log(1.5)], shape, { device }),
        oldLogprobs: Tensor.zeros(shape, { device }),
        advantages: Tensor.from([1, 1, -1, -1], shape, { device }),
        mask: Tensor.from([1, 1, 1, 1], shape, { device }),
      };
      const out = ops.policyLoss(inputs);
      // ψ = [-1, -1.2, 0.8, 1.5]; only tokens 0 and 3 are on the unclipped branch.
      expect(out.loss).toBeCloseTo(0.1 / 4, 6);
      expectClose(out.dlogprobs.toArray(), [-0.25, 0, 0, 1.5 / 4], { rtol: 1e-6 });
      expect(out.clipFraction).toBe(0.5);
      expect(out.approxKl).toBeCloseTo(-(2 * Math.log(1.5) + Math.log(0.5)) / 4, 6);
      const dual = ops.policyLoss(inputs, { dualClip: 1.4 });
      expect(dual.loss).toBeCloseTo(0, 6);
      expect(Array.from(dual.dlogprobs.toArray())).toEqual([-0.25, 0, 0, 0]);
      expect(dual.clipFraction).toBe(0.75);
    });
  });
  test('a mask with no tokens gives zeros, not NaN; an empty batch too', () => {
    const c = makePolicyInputs(new Rng(23), 5, 77, {});
    const empty = { ...c, mask: new Float32Array(c.R * c.T) };
    for (const aggregation of AGGREGATIONS) {
      const out = run(empty, { klCoef: 0.04, aggregation }, { device });
      for (const key of ['loss', 'pgLoss', 'klLoss', 'clipFraction', 'kl', 'approxKl'] as const) expect(out[key]).toBe(0);
      expect(out.dlogprobs.toArray().every((x) => x === 0)).toBe(true);
    }
    const none = ops.policyLoss({
      logprobs: Tensor.zeros([0, 3], { device }), oldLogprobs: Tensor.zeros([0, 3], { device }),
      advantages: Tensor.zeros([0, 3], { device }), mask: Tensor.zeros([0, 3], { device }),
    });
    expect(none.loss).toBe(0);
    expect(none.dlogprobs.shape).toEqual([0, 3]);
  });

  test('mini-batch totals make micro-batches sum to the whole batch', () => {
    const c = makePolicyInputs(new Rng(22), 8, 301, { emptyRows: true });
    const options = { klCoef: 0.04, dualClip: 3 };
    const half = (part: 0 | 1): PolicyLossCase => {
      const rows = c.R / 2, n = rows * c.T, at = part * n;
      const cut = <A extends Float32Array | Uint8Array>(a: A) => a.slice(at, at + n) as A;
      return { R: rows, T: c.T, logprobs: cut(c.logprobs), oldLogprobs: cut(c.oldLogprobs), refLogprobs: cut(c.refLogprobs!), advantages: cut(c.advantages), mask: cut(c.mask) };
    };
    let tokenCount = 0;
    for (const m of c.mask) tokenCount += m;
    for (const aggregation of AGGREGATIONS) {
      const ref = policyLossReference(c, { ...options, aggregation });
      const parts = [half(0), half(1)].map((p) => run(p, { ...options, aggregation, tokenCount, rowCount: c.R }, { device }));
      expectClose([parts[0].loss + parts[1].loss], [ref.loss], { ...TOL, scale: [ref.lossScale] });
    }
  });

  test('the async form resolves to the sync result', async () => {
    const c = makePolicyInputs(new Rng(24), 9, 257, { emptyRows: true });
    const inputs = inputsOf(c, { device });
    const sync = ops.policyLoss(inputs, { klCoef: 0.04 });
    const async = await ops.policyLossAsync(inputs, { klCoef: 0.04 });
    expect(async.dlogprobs.device).toBe(device);
    expect(async.loss).toBe(sync.loss);
    expect(async.clipFraction).toBe(sync.clipFraction);
    expect(Buffer.compare(Buffer.from(async.dlogprobs.toArray().buffer), Buffer.from(sync.dlogprobs.toArray().buffer))).toBe(0);
  });

  test('mask values other than 0 and 1 name the first index and its value', () => {
    const shape = [2, 3];
    const good = {
      logprobs: Tensor.zeros(shape, { device }), oldLogprobs: Tensor.zeros(shape, { device }), advantages: Tensor.zeros(shape, { device }),
    };
    expect(() => ops.policyLoss({ ...good, mask: Tensor.from([1, 0.5, 0, 1, 0, 2], shape, { device }) }))
      .toThrow('Expected 0 or 1 for every element of mask but received 0.5 of type number at index 1');
    expect(() => ops.policyLoss({ ...good, mask: Tensor.from(new Uint8Array([1, 1, 0, 0, 3, 0]), shape, { device }) }))
      .toThrow('Expected 0 or 1 for every element of mask but received 3 of type number at index 4');
  });
});

describeOn('cpu', 'policyLoss behaviour', () => {
  const c = makePolicyInputs(new Rng(21), 64, 999, { emptyRows: true });
  const options = { klCoef: 0.04, dualClip: 3 };

  test('results do not depend on the thread count', () => {
    for (const level of simdLevels()) {
      withSimd(level, () => {
        setNumThreads(1);
        const one = run(c, options);
        setNumThreads(0);
        const all = run(c, options);
        for (const key of ['loss', 'pgLoss', 'klLoss', 'clipFraction', 'kl', 'approxKl'] as const) expect(all[key]).toBe(one[key]);
        expect(Buffer.compare(Buffer.from(one.dlogprobs.toArray().buffer), Buffer.from(all.dlogprobs.toArray().buffer))).toBe(0);
      });
    }
  });

  test('SIMD levels agree to 1e-6', () => {
    const ref = policyLossReference(c, options);
    const results = simdLevels().map((level) => withSimd(level, () => run(c, options)));
    for (const other of results.slice(1)) {
      expectClose([other.loss], [results[0].loss], { rtol: 1e-6, atol: 0, scale: [ref.lossScale] });
      expectClose([other.kl, other.approxKl], [results[0].kl, results[0].approxKl], { rtol: 1e-6, atol: 0, scale: [ref.klScale, ref.approxKlScale] });
      expect(other.clipFraction).toBe(results[0].clipFraction);
      expectClose(other.dlogprobs.toArray(), results[0].dlogprobs.toArray(), { rtol: 1e-6, atol: 0, scale: ref.dlogprobsScale });
    }
  });

  test('mini-batch totals make micro-batches sum to the whole batch; lossScale gives verl-compat', () => {
    const half = (part: 0 | 1): PolicyLossCase => {
      const rows = c.R / 2, n = rows * c.T, at = part * n;
      const cut = <A extends Float32Array | Uint8Array>(a: A) => a.slice(at, at + n) as A;
      return { R: rows, T: c.T, logprobs: cut(c.logprobs), oldLogprobs: cut(c.oldLogprobs), refLogprobs: cut(c.refLogprobs!), advantages: cut(c.advantages), mask: cut(c.mask) };
    };
    let tokenCount = 0;
    for (const m of c.mask) tokenCount += m;
    for (const aggregation of AGGREGATIONS) {
      const whole = run(c, { ...options, aggregation });
      const parts = [half(0), half(1)].map((p) => run(p, { ...options, aggregation, tokenCount, rowCount: c.R }));
      const ref = policyLossReference(c, { ...options, aggregation });
      expectClose([parts[0].loss + parts[1].loss], [whole.loss], { rtol: 1e-6, atol: 0, scale: [ref.lossScale] });
      const joined = new Float32Array(c.R * c.T);
      joined.set(parts[0].dlogprobs.toArray() as Float32Array);
      joined.set(parts[1].dlogprobs.toArray() as Float32Array, (c.R / 2) * c.T);
      expectClose(joined, whole.dlogprobs.toArray(), { rtol: 1e-6, atol: 0, scale: ref.dlogprobsScale });
      // verl-compat: per-micro-batch denominators, scaled by 1/gradAccum.
      const compat = run(half(0), { ...options, aggregation, lossScale: 0.5 });
      const compatRef = policyLossReference(half(0), { ...options, aggregation, lossScale: 0.5 });
      expectClose([compat.loss], [compatRef.loss], { ...TOL, scale: [compatRef.lossScale] });
    }
  });

  test('a mask with no tokens gives zeros, not NaN', () => {
    const empty = { ...c, mask: new Float32Array(c.R * c.T) };
    for (const aggregation of AGGREGATIONS) {
      const out = run(empty, { ...options, aggregation });
      for (const key of ['loss', 'pgLoss', 'klLoss', 'clipFraction', 'kl', 'approxKl'] as const) expect(out[key]).toBe(0);
      expect(out.dlogprobs.toArray().every((x) => x === 0)).toBe(true);
    }
  });

  test('the async form resolves to the sync result', async () => {
    const sync = run(c, options);
    const shape = [c.R, c.T];
    const async = await ops.policyLossAsync({
      logprobs: Tensor.from(c.logprobs, shape), oldLogprobs: Tensor.from(c.oldLogprobs, shape),
      refLogprobs: Tensor.from(c.refLogprobs!, shape), advantages: Tensor.from(c.advantages, shape), mask: Tensor.from(c.mask, shape),
    }, options);
    expect(async.loss).toBe(sync.loss);
    expect(async.clipFraction).toBe(sync.clipFraction);
    expect(Buffer.compare(Buffer.from(async.dlogprobs.toArray().buffer), Buffer.from(sync.dlogprobs.toArray().buffer))).toBe(0);
  });
});

describeOn('cpu', 'policyLoss errors', () => {
  const shape = [2, 3];
  const good = () => ({
    logprobs: Tensor.zeros(shape), oldLogprobs: Tensor.zeros(shape), advantages: Tensor.zeros(shape), mask: Tensor.from([1, 1, 0, 1, 0, 0], shape),
  });

  test('wrong dtypes, shapes and inputs', () => {
    expect(() => ops.policyLoss({ ...good(), logprobs: Tensor.zeros(shape, { dtype: 'int32' }) })).toThrow(DTypeError);
    expect(() => ops.policyLoss({ ...good(), mask: Tensor.zeros(shape, { dtype: 'int32' }) }))
      .toThrow('Expected dtype float32 or uint8 for mask but received Tensor int32 [2, 3] on cpu');
    expect(() => ops.policyLoss({ ...good(), advantages: Tensor.zeros([3, 2]) })).toThrow(ShapeError);
    expect(() => ops.policyLoss({ ...good(), advantages: Tensor.zeros([3, 2]) })).toThrow('Expected shape [2, 3] for advantages but received [3, 2]');
    expect(() => ops.policyLoss({ ...good(), logprobs: Tensor.zeros([6]) })).toThrow('Expected a 2-d tensor for logprobs but received shape [6]');
    expect(() => ops.policyLoss(undefined as never)).toThrow(ArgumentError);
    expect(() => ops.policyLoss({ ...good(), ratios: Tensor.zeros(shape) } as never)).toThrow('unknown option "ratios"');
    expect(() => ops.policyLoss({ ...good(), mask: undefined } as never)).toThrow('Expected a Tensor for mask but received undefined');
  });

  test('mask values other than 0 and 1', () => {
    expect(() => ops.policyLoss({ ...good(), mask: Tensor.from([1, 0.5, 0, 1, 0, 0], shape) }))
      .toThrow('Expected 0 or 1 for every element of mask but received 0.5 of type number at index 1');
    expect(() => ops.policyLoss({ ...good(), mask: Tensor.from(new Uint8Array([1, 1, 2, 0, 0, 0]), shape) })).toThrow(ArgumentError);
  });

  test('bad options', () => {
    expect(() => ops.policyLoss(good(), { aggregation: 'seq-mean' as never }))
      .toThrow(`Expected one of 'token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm' for options.aggregation but received "seq-mean" of type string`);
    expect(() => ops.policyLoss(good(), { klEstimator: 'kl' as never })).toThrow('for options.klEstimator');
    expect(() => ops.policyLoss(good(), { dualClip: 1 })).toThrow('Expected a finite number > 1 for options.dualClip but received 1 of type number');
    expect(() => ops.policyLoss(good(), { clipLow: 1.5 })).toThrow('Expected a finite number between 0 and 1 for options.clipLow');
    expect(() => ops.policyLoss(good(), { tokenCount: 2.5 })).toThrow('Expected an integer >= 1 for options.tokenCount');
    expect(() => ops.policyLoss(good(), { lossScale: NaN })).toThrow('for options.lossScale');
    expect(() => ops.policyLoss(good(), { clip: 0.2 } as never)).toThrow('unknown option "clip"');
  });

  test('klCoef without refLogprobs', () => {
    expect(() => ops.policyLoss(good(), { klCoef: 0.1 })).toThrow(ArgumentError);
    expect(() => ops.policyLoss(good(), { klCoef: 0.1 }))
      .toThrow('Expected a float32 Tensor [2, 3] for refLogprobs when options.klCoef is 0.1 but received undefined');
  });

  test('disposed tensors are refused', () => {
    const inputs = good();
    inputs.oldLogprobs.dispose();
    expect(() => ops.policyLoss(inputs)).toThrow(DisposedError);
    expect(() => ops.policyLoss(inputs)).toThrow('Expected a live tensor for oldLogprobs but received a disposed tensor');
  });

  test('the native layer re-checks sizes and refLogprobs', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const native = require('../../lib/binding').binding();
    const f = () => new Float32Array(6);
    const call = (logprobs: Float32Array, ref: Float32Array | null, klCoef: number) =>
      native.policyLoss(logprobs, f(), ref, f(), f(), 2, 3, 0.2, 0.2, null, klCoef, 'k3', 'token-mean', null, null, null, 1, 'clip', false);
    expect(() => call(new Float32Array(5), null, 0)).toThrow('Expected 6 elements for logprobs');
    expect(() => call(f(), null, 0.1)).toThrow('Expected refLogprobs when klCoef is not 0');
    expect(call(f(), null, 0).loss).toBe(0);
    expect(() => native.policyLoss(f(), f(), null, f(), f(), 2, 3, 0.2, 0.2, null, 0, 'k3', 'token-mean', null, null, null, 1, 'ppo', false))
      .toThrow('Expected one of clip, gspo, gspo-token, cispo for mode but received ppo');
    expect(() => native.policyLoss(f(), f(), null, f(), f(), 2, 3, 0.2, 0.2, 3, 0, 'k3', 'token-mean', null, null, null, 1, 'cispo', false))
      .toThrow('Expected no dualClip with mode cispo');
  });

  test('loss modes: bad options', () => {
    expect(() => ops.policyLoss(good(), { mode: 'grpo' as never }))
      .toThrow(`Expected one of 'clip', 'gspo', 'gspo-token', 'cispo' for options.mode but received "grpo" of type string`);
    expect(() => ops.policyLoss(good(), { mode: 'gspo', dualClip: 3 }))
      .toThrow(`Expected no options.dualClip with options.mode 'gspo' (it caps the 'clip' surrogate only) but received 3 of type number`);
  });
});

// GSPO, GSPO-token and CISPO (docs/ALGORITHMS-baselines.md §B3, §B4) on every target.
const MODES = ['gspo', 'gspo-token', 'cispo'] as const;
describeTargets('policyLoss modes', (target: Target) => {
  const device = target.device;
  test.each(MODES)('%s matches float64 over every shape and aggregation, with KL and empty rows', (mode) => {
    onTarget(target, () => {
      for (const [R, T] of SHAPES)
        for (const aggregation of AGGREGATIONS) {
          const options: PolicyLossOptions = { mode, aggregation, klCoef: 0.04, maxLength: aggregation.endsWith('norm') ? T + 7 : undefined };
          const { c, ref } = cached(`${mode} ${R}x${T} ${aggregation}`, () => {
            const inputs = mode === 'cispo' ? makePolicyInputs(new Rng(R * 7 + T), R, T, { emptyRows: true, ratioSpread: 0.5 })
              : makeSequenceInputs(new Rng(R * 7 + T), R, T, { emptyRows: true });
            return { c: inputs, ref: policyLossReference(inputs, options) };
          });
          expectMatches(run(c, options, { device }), ref, c);
        }
    });
  });

  test.each(MODES)('%s: uint8 mask, NaN padding, custom ranges, lossScale, no reference', (mode) => {
    onTarget(target, () => {
      const options: PolicyLossOptions = { mode, clipLow: 0.1, clipHigh: 0.3, lossScale: 0.25, aggregation: 'seq-mean-token-mean' };
      const c = mode === 'cispo' ? makePolicyInputs(new Rng(5), 37, 45, { emptyRows: true, nanPadding: true, ratioSpread: 0.6 })
        : makeSequenceInputs(new Rng(5), 37, 45, { emptyRows: true, nanPadding: true });
      expectMatches(run(c, options, { device, u8: true, ref: false }), policyLossReference({ ...c, refLogprobs: undefined }, options), c);
    });
  });

  test('hand-computed: GSPO sequence ratio, its clip, and gspo vs gspo-token', () => {
    onTarget(target, () => {
      // one row, L = 2: ℓ − ℓold = [1e-4, 3e-4] → s = exp(2e-4), inside [1 − 3e-4, 1 + 4e-4]
      const shape = [1, 3];
      const inputs = (A: number[], d: number[]) => ({
        logprobs: Tensor.from([-1, -2, -9], shape, { device }), oldLogprobs: Tensor.from([-1 - d[0], -2 - d[1], 0], shape, { device }),
        advantages: Tensor.from(A, shape, { device }), mask: Tensor.from([1, 1, 0], shape, { device }),
      });
      const s = Math.exp(2e-4);
      // the lone row: token-mean weights 1/2; gspo-token: each token −A_t·s/2
      const token = ops.policyLoss(inputs([1, 3, 0], [1e-4, 3e-4]), { mode: 'gspo-token' });
      expectClose(token.dlogprobs.toArray(), [-s / 2, (-3 * s) / 2, 0], { rtol: 1e-6 });
      expect(token.loss).toBeCloseTo(-(1 + 3) * s / 2, 6);
      // gspo: the row's Σ gψ shared through s_i: each token (−s − 3s)/2/L = −s
      const sequence = ops.policyLoss(inputs([1, 3, 0], [1e-4, 3e-4]), { mode: 'gspo' });
      expectClose(sequence.dlogprobs.toArray(), [-s, -s, 0], { rtol: 1e-6 });
      expect(sequence.loss).toBeCloseTo(token.loss, 12);
      // s = exp(5e-4) > 1 + 4e-4 with A > 0: clipped, no gradient, clipFraction 1
      const clipped = ops.policyLoss(inputs([1, 1, 0], [5e-4, 5e-4]), { mode: 'gspo' });
      expect(Array.from(clipped.dlogprobs.toArray())).toEqual([0, 0, 0]);
      expect(clipped.clipFraction).toBe(1);
      expect(clipped.loss).toBeCloseTo(-(1 + 4e-4), 6);
    });
  });

  test('hand-computed: CISPO keeps a clipped token\'s gradient, weighted by the clipped ratio', () => {
    onTarget(target, () => {
      const shape = [1, 3];
      // ρ = e^1 (far above 1.28), e^−30 (beyond the ±20 clamp), 1
      const out = ops.policyLoss({
        logprobs: Tensor.from([-1, -31, -2], shape, { device }), oldLogprobs: Tensor.from([-2, -1, -2], shape, { device }),
        advantages: Tensor.from([2, -1, 0.5], shape, { device }), mask: Tensor.from([1, 1, 1], shape, { device }),
      }, { mode: 'cispo' });
      const lowest = Math.exp(-20);
      expectClose(out.dlogprobs.toArray(), [(-1.28 * 2) / 3, lowest / 3, -0.5 / 3], { rtol: 1e-6 });
      expect(out.loss).toBeCloseTo((1.28 * 2 + 0.5 * 2 - 31 * lowest) / 3, 6);  // ψ = −w·A·ℓ
      expect(out.clipFraction).toBeCloseTo(1 / 3, 12);
    });
  });

  test('all-equal rewards (A = 0) give no policy gradient in any mode; one-token rows', () => {
    onTarget(target, () => {
      const c = makeSequenceInputs(new Rng(11), 9, 1);
      c.advantages.fill(0);
      for (const mode of MODES) {
        const out = run(c, { mode }, { device, ref: false });
        expect(Array.from(out.dlogprobs.toArray()).every((v) => v === 0)).toBe(true);
        expect(out.clipFraction).toBe(0);
      }
      const d = makeSequenceInputs(new Rng(12), 9, 1);
      for (const mode of MODES) expectMatches(run(d, { mode, klCoef: 0.1 }, { device }), policyLossReference(d, { mode, klCoef: 0.1 }), d);
    });
  });
});

describeOn('cuda', 'policyLoss across devices', () => {
  test('mixing cpu and cuda tensors is a DeviceError', () => {
    const c = makePolicyInputs(new Rng(3), 2, 5, {});
    const inputs = { ...inputsOf(c, { device: 'cuda' }), mask: Tensor.from(c.mask, [2, 5]) };
    expect(() => ops.policyLoss(inputs)).toThrow(DeviceError);
  });

  test('cuda matches the cpu and gives the same bits on every run', () => {
    const c = makePolicyInputs(new Rng(41), 33, 1027, { emptyRows: true, ratioSpread: 1 });
    for (const aggregation of AGGREGATIONS) {
      const options = { klCoef: 0.04, dualClip: 3, aggregation, maxLength: 2000 };
      const cpu = run(c, options);
      const inputs = inputsOf(c, { device: 'cuda' });
      const a = ops.policyLoss(inputs, options), b = ops.policyLoss(inputs, options);
      for (const key of ['loss', 'pgLoss', 'klLoss', 'clipFraction', 'kl', 'approxKl'] as const) {
        expect(b[key]).toBe(a[key]);
        expect(Math.abs(a[key] - cpu[key])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(cpu[key])));
      }
      expect(Buffer.compare(Buffer.from(a.dlogprobs.toArray().buffer), Buffer.from(b.dlogprobs.toArray().buffer))).toBe(0);
      expectClose(a.dlogprobs.toArray(), cpu.dlogprobs.toArray(), { rtol: 1e-5, atol: 1e-12 });
    }
  });
});
