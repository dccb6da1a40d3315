// random.ts: the seeded PRNG of tests and benches (never Math.random): the library's Random
// (mulberry32, Box-Muller normals) plus array helpers.
import { Random } from '../../lib/util/random';

export class Rng extends Random {
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  floats(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * scale;
    return out;
  }
  ints(n: number, lo: number, hiExclusive: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(lo, hiExclusive);
    return out;
  }
}
