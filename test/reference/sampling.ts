// reference/sampling.ts: float64 statement of sample(): the filtered distribution (temperature,
// top-k with ties by index, nucleus on the renormalized top-k set, at least one token) and the
// draw by inverse CDF with the same counter-based uniform u = hash(seed, counter, row), walking
// the whole row in index order when no filter is on and the candidates best-first otherwise.
const MASK = (1n << 64n) - 1n;

function mix64(z: bigint): bigint {  // SplitMix64's increment and finalizer
  z = (z + 0x9e3779b97f4a7c15n) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

export function sampleUniform(seed: number, counter: number, row: number): number {
  const h = mix64(mix64(mix64(BigInt(seed)) ^ BigInt(counter)) ^ BigInt(row));
  return Number(h >> 11n) * 2 ** -53;
}

export interface SampleReferenceOptions {
  temperature: number;
  topK: number;
  topP: number;
}

/** Kept token indices in draw order (increasing index) and their probabilities (summing to 1). */
export function sampleDistribution(z: ArrayLike<number>, o: SampleReferenceOptions): { order: number[]; p: number[] } {
  const V = z.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, z[i]);
  const e = Array.from({ length: V }, (_, i) => Math.exp((z[i] - max) / o.temperature));
  const filtered = (o.topK > 0 && o.topK < V) || o.topP < 1;
  let order = Array.from({ length: V }, (_, i) => i);
  if (!filtered) {
    const total = e.reduce((a, b) => a + b, 0);
    return { order, p: e.map((x) => x / total) };
  }
  order.sort((a, b) => (z[b] - z[a]) || (a - b));
  if (o.topK > 0 && o.topK < V) order = order.slice(0, o.topK);
  if (o.topP < 1) {
    const mass = order.reduce((a, i) => a + e[i], 0);
    let cumulative = 0, keep = 0;
    while (keep < order.length && (keep === 0 || cumulative < o.topP * mass)) cumulative += e[order[keep++]];
    order = order.slice(0, keep);
  }
  order.sort((a, b) => a - b);
  const kept = order.reduce((a, i) => a + e[i], 0);
  return { order, p: order.map((i) => e[i] / kept) };
}

/** The token sample() draws for one row. */
export function sampleReference(z: ArrayLike<number>, o: SampleReferenceOptions, seed: number, counter: number, row: number): number {
  if (o.temperature === 0) {
    let best = 0;
    for (let i = 1; i < z.length; i++) if (z[i] > z[best]) best = i;
    return best;
  }
  const { order, p } = sampleDistribution(z, o);
  const u = sampleUniform(seed, counter, row);
  let cumulative = 0;
  for (let j = 0; j < order.length; j++) {
    cumulative += p[j];
    if (cumulative > u) return order[j];
  }
  return order[order.length - 1];
}
