// stats.test.ts: the learning benchmark's statistics against exact float64 / BigInt references:
// unbiased pass@k = 1 − C(n−c,k)/C(n,k), Student-t quantiles, and mean / paired intervals.
import { meanInterval, pairedInterval, passAtK, passAtKCurve, tQuantile975 } from '../../lib/optim/stats';

function binomial(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let out = 1n;
  for (let i = 1; i <= k; i++) out = (out * BigInt(n - k + i)) / BigInt(i);
  return out;
}

test('pass@k equals 1 − C(n−c,k)/C(n,k) computed exactly, for n up to 200', () => {
  for (const n of [1, 8, 64, 200])
    for (const c of [0, 1, 2, Math.floor(n / 3), n - 1, n].filter((x) => x >= 0 && x <= n))
      for (const k of [1, 2, 8, 16, 64, n].filter((x) => x <= n)) {
        // 1 − a/b with a/b exact to 1e-30 through BigInt scaling.
        const scale = 10n ** 30n;
        const exact = 1 - Number((binomial(n - c, k) * scale) / binomial(n, k)) / 1e30;
        expect(passAtK(n, c, k)).toBeCloseTo(exact, 12);
      }
  expect(passAtK(64, 0, 64)).toBe(0);
  expect(passAtK(64, 1, 64)).toBe(1);
  expect(passAtK(64, 10, 1)).toBeCloseTo(10 / 64, 14);
  expect(() => passAtK(8, 9, 1)).toThrow(RangeError);
  expect(() => passAtK(8, 2, 9)).toThrow(RangeError);
});

test('pass@k curves are the mean over problems and never decrease in k', () => {
  const curve = passAtKCurve([0, 3, 64, 10], 64, [1, 2, 4, 8, 16, 32, 64]);
  expect(curve[1]).toBeCloseTo((0 + 3 / 64 + 1 + 10 / 64) / 4, 12);
  const ks = Object.keys(curve).map(Number);
  for (let i = 1; i < ks.length; i++) expect(curve[ks[i]]).toBeGreaterThanOrEqual(curve[ks[i - 1]]);
  expect(curve[64]).toBeCloseTo(3 / 4, 12);
});

test('t quantiles: the table and the expansion beyond it', () => {
  expect(tQuantile975(1)).toBe(12.706);
  expect(tQuantile975(4)).toBe(2.776);
  expect(tQuantile975(40)).toBeCloseTo(2.0211, 3);
  expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
  expect(tQuantile975(120)).toBeCloseTo(1.9799, 3);
  expect(() => tQuantile975(0)).toThrow(RangeError);
});

test('mean interval and paired interval', () => {
  const iv = meanInterval([0.5, 0.6, 0.7, 0.55, 0.65]);
  expect(iv.mean).toBeCloseTo(0.6, 12);
  const std = Math.sqrt([0.1, 0, 0.1, 0.05, 0.05].reduce((a, d) => a + d * d, 0) / 4);
  expect(iv.std).toBeCloseTo(std, 12);
  expect(iv.half).toBeCloseTo((2.776 * std) / Math.sqrt(5), 12);
  expect(Number.isNaN(meanInterval([0.3]).half)).toBe(true);
  const paired = pairedInterval([0.5, 0.6, 0.7], [0.4, 0.55, 0.6]);
  expect(paired.mean).toBeCloseTo((0.1 + 0.05 + 0.1) / 3, 12);
  expect(() => pairedInterval([1], [1, 2])).toThrow(RangeError);
});
