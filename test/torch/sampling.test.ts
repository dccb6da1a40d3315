// sampling.test.ts (torch): steprl's sample() against the distribution Hugging Face's warpers
// (temperature, TopK, TopP) give, computed by PyTorch in float64: greedy equals torch.argmax,
// the empirical frequencies of 60000 draws (one per row, fixed seed) pass a chi-square bound,
// nothing outside the filtered support is drawn, and the draws repeat exactly.
import { Tensor, ops } from '../../lib';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

const OPTIONS = [
  { temperature: 1, topK: 0, topP: 1 },
  { temperature: 0.7, topK: 6, topP: 1 },
  { temperature: 1.2, topK: 0, topP: 0.8 },
  { temperature: 1, topK: 10, topP: 0.9 },
];

describeTorch('sample', () => {
  test.each(OPTIONS)('temperature=$temperature topK=$topK topP=$topP', (o) => {
    const V = 20, B = 60000;
    const row = new Rng(21).floats(V, 1.3);
    const logits = new Float32Array(B * V);
    for (let b = 0; b < B; b++) logits.set(row, b * V);
    const tensor = Tensor.from(logits, [B, V]);
    const tokens = ops.sample(tensor, { ...o, seed: 2024, counter: 17 }).toArray();
    expect(ops.sample(tensor, { ...o, seed: 2024, counter: 17 }).toArray()).toEqual(tokens);
    const torch = runTorch('sampling', { logits: row }, { ...o, B: 1, V });
    const counts = new Float64Array(V);
    for (const t of tokens) counts[t]++;
    let chi2 = 0, support = 0;
    for (let i = 0; i < V; i++) {
      if (torch.probs[i] === 0) {
        expect(counts[i]).toBe(0);
        continue;
      }
      support++;
      chi2 += (counts[i] - B * torch.probs[i]) ** 2 / (B * torch.probs[i]);
    }
    // support - 1 <= 19 degrees of freedom: p(chi2 > 50) < 2e-4.
    expect(support).toBeGreaterThan(0);
    expect(chi2).toBeLessThan(50);
  });

  test('greedy equals torch.argmax', () => {
    const B = 64, V = 1000;
    const logits = new Rng(8).floats(B * V, 2);
    for (let b = 0; b < B; b += 4) logits[b * V + 500] = logits[b * V + 10] = 100;  // ties: the first wins
    const tokens = ops.sample(Tensor.from(logits, [B, V]), { temperature: 0 }).toArray();
    const torch = runTorch('sampling', { logits }, { B, V, temperature: 1, topK: 0, topP: 1 });
    expect(Array.from(tokens)).toEqual(Array.from(torch.argmax));
  });
});
