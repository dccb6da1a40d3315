// mixed_activations.test.ts: the training activations of a 'bf16-mixed' TinyLM (allocateActivations'
// bf16Inputs): the float32 h1, h2 and s, which that pass neither writes nor reads (its GEMM inputs
// are bf16), are one shared buffer across layers; everything else keeps its own buffer, and the
// fp32 layout keeps h1 and h2 per layer; s (which the fp32 backward recomputes from gu) is one
// buffer in both. (The mixed pass itself is checked against fp32 in
// test/device/mixed_precision.test.ts.)
import { allocateActivations } from '../../lib/model/activations';
import { resolveConfig } from '../../lib/model/config';

const CONFIG = resolveConfig({ vocabSize: 16, hiddenSize: 8, numLayers: 3, numHeads: 2, numKvHeads: 1, intermediateSize: 12, maxPositions: 8 });

describe("allocateActivations for a 'bf16-mixed' training pass", () => {
  test('h1, h2 (one [N, C]) and s (one [N, F]) are shared; the rest is per layer; fp32 shares s only', () => {
    const mixed = allocateActivations(CONFIG, 2, 3, 'cpu', true, false, true);
    const fp32 = allocateActivations(CONFIG, 2, 3, 'cpu', true, false);
    try {
      const [a, b, c] = mixed.layers;
      expect(a.h1).toBe(b.h1);
      expect(a.h1).toBe(a.h2);
      expect(c.h2).toBe(a.h1);
      expect(a.s).toBe(c.s);
      expect(a.h1.shape).toEqual([6, 8]);
      expect(a.s.shape).toEqual([6, 12]);
      for (const key of ['x', 'rstd1', 'q', 'k', 'v', 'att', 'lse', 'xm', 'rstd2', 'gu'] as const) expect(a[key]).not.toBe(b[key]);
      const [f, g] = fp32.layers;
      expect(f.h1).not.toBe(g.h1);
      expect(f.h1).not.toBe(f.h2);
      expect(f.s).toBe(g.s);
      expect(f.gu).not.toBe(g.gu);
      // Distinct storage too: a write to one layer's fp32 h1 leaves the next layer's alone.
      f.h1.fill(1);
      expect(Array.from(g.h1.toArray()).every((v) => v === 0)).toBe(true);
    } finally {
      mixed.dispose();
      fp32.dispose();
    }
  });
});
