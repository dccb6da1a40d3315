// device_math.test.ts: the device-side pieces of the RL step (lib/optim/device_math.ts), run here on
// the cpu ops, against the host loops they replace off the cpu (batch.ts broadcastRows, signal.ts,
// metrics.ts); and the lazy per-token fields of batch.ts (attachTensor / tensorOf / assignment).
// The same helpers on cuda are covered by test/device/rl_step.test.ts (whole steps against the cpu).
import { Tensor } from '../../lib/tensor';
import { attachedTensor, attachTensor, broadcastRows, onHost, tensorOf, type RolloutBatch } from '../../lib/optim/batch';
import {
  absDifference, broadcastRowsOn, difference, gather, halfSquare, keepIds, maskByLengths, maskedSums, residualMeans, suffixSums,
} from '../../lib/optim/device_math';
import { maskedAbsResidual, maskedRowAbsMean, suffixLogRatioAbs } from '../../lib/optim/signal';
import { Random } from '../../lib/util/random';

const R = 5, T = 7;
const lengths = Int32Array.of(7, 3, 0, 5, 1);
const mask = new Float32Array(R * T);
lengths.forEach((n, r) => mask.fill(1, r * T, r * T + n));
const random = new Random(11);
const values = (masked: boolean) => Float32Array.from({ length: R * T }, (_, i) => (masked && mask[i] === 0 ? 0 : random.next() * 4 - 2));

describe('device_math on the cpu ops', () => {
  test('gather, maskByLengths and broadcastRowsOn equal the host loops', () => {
    const x = values(false);
    expect(Array.from(gather(Tensor.from(x, [R * T]), Int32Array.of(3, R * T, 0)).toArray())).toEqual([x[3], 0, x[0]]);
    expect(Array.from(maskByLengths(Tensor.from(x, [R, T]), lengths, T).toArray())).toEqual(Array.from(x, (v, i) => (mask[i] ? v : 0)));
    const perRow = Float32Array.of(0.5, -1.25, 3, 2, -0.75);
    const host = broadcastRows(perRow, mask, T).map((v) => v + 0);  // +0: the host's −0 on padding is 0
    expect(Array.from(broadcastRowsOn(perRow, lengths, T, 'cpu').toArray())).toEqual(Array.from(host));
    expect(keepIds(Int32Array.of(1, 2), 3, (r, t) => 10 * r + t, -1)).toEqual(Int32Array.of(0, -1, -1, 10, 11, -1));
  });

  test('elementwise pieces and the masked sums of the metrics', () => {
    const a = values(true), b = values(true);
    const A = Tensor.from(a, [R, T]), B = Tensor.from(b, [R, T]), M = Tensor.from(mask, [R, T]);
    const d = difference(A, B).toArray(), abs = absDifference(A, B).toArray(), half = halfSquare(A).toArray();
    for (let i = 0; i < R * T; i++) {
      expect(d[i] + 0).toBe(Math.fround(a[i] - b[i]) + 0);  // k1 is −(ℓref − ℓ): −0 where both are 0
      expect(abs[i]).toBe(Math.abs(Math.fround(a[i] - b[i])));
      expect(half[i]).toBeCloseTo((a[i] * a[i]) / 2, 6);
    }
    const [sum, sumAbs] = maskedSums([A, absDifference(A)], M);
    let hostSum = 0, hostAbs = 0;
    for (let i = 0; i < R * T; i++) if (mask[i]) {
      hostSum += a[i];
      hostAbs += Math.abs(a[i]);
    }
    expect(sum).toBeCloseTo(hostSum, 4);
    expect(sumAbs).toBeCloseTo(hostAbs, 4);
  });

  test('suffix sums give signal.ts suffixLogRatioAbs; residualMeans gives maskedAbsResidual and maskedRowAbsMean', () => {
    const old = values(true), ref = values(true);
    const ratio = difference(Tensor.from(old, [R, T]), Tensor.from(ref, [R, T]));
    const S = suffixSums(ratio, R, T);
    const [total] = maskedSums([absDifference(S)], Tensor.from(mask, [R, T]));
    const tokens = lengths.reduce((n, l) => n + l, 0);
    expect(total / tokens).toBeCloseTo(suffixLogRatioAbs(old, ref, mask, T), 5);
    const adv = values(true), perRow = Float32Array.of(0.5, -1.25, 3, 2, -0.75);
    const [process, outcome] = residualMeans(Tensor.from(adv, [R, T]), perRow, lengths, T, Tensor.from(mask, [R, T]));
    expect(process).toBeCloseTo(maskedAbsResidual(adv, perRow, mask, T), 5);
    expect(outcome).toBeCloseTo(maskedRowAbsMean(perRow, mask, T), 6);
  });
});

describe('lazy per-token fields (batch.ts)', () => {
  const batchOf = () => ({ R, T, mask: Float32Array.from(mask), oldLogprobs: values(true) }) as unknown as RolloutBatch;

  test('a cpu tensor attached to a field is the field, without a copy; tensorOf hands it back', () => {
    const batch = batchOf();
    const t = Tensor.from(values(true), [R, T]);
    attachTensor(batch, 'oldLogprobs', t);
    expect(batch.oldLogprobs).toBe(t._storage());
    expect(tensorOf(batch, 'oldLogprobs', 'cpu', [R, T])).toBe(t);
    expect(attachedTensor(batch, 'oldLogprobs', 'cpu')).toBe(t);
    expect(onHost(batch, 'oldLogprobs')).toBe(true);
    expect({ ...batch }.oldLogprobs).toBe(t._storage());  // enumerable: spreads and JSON see it
  });

  test('a plain host field is wrapped without a copy; assigning a field drops its tensor', () => {
    const batch = batchOf();
    const host = batch.mask;
    const t = tensorOf(batch, 'mask', 'cpu', [R, T])!;
    expect(t._storage()).toBe(host);
    expect(tensorOf(batch, 'refLogprobs', 'cpu', [R, T])).toBeUndefined();
    const replaced = new Float32Array(R * T).fill(2);
    batch.mask = replaced;
    expect(batch.mask).toBe(replaced);
    expect(attachedTensor(batch, 'mask', 'cpu')).toBeUndefined();
    expect(tensorOf(batch, 'mask', 'cpu', [R, T])!._storage()).toBe(replaced);
  });
});
