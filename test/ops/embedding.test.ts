// embedding.test.ts: embedding / embeddingBackward against the float64 reference: repeated tokens
// (the backward's per-token sums), accumulation into a non-zero table gradient, determinism across
// thread counts (no atomics), token range checks and the other errors.
import { ArgumentError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { embeddingBackwardReference, embeddingReference } from '../reference/embedding';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';

const CASES = [
  { N: 1, C: 1, V: 1 },
  { N: 9, C: 5, V: 3 },
  { N: 1024, C: 256, V: 259 },
  { N: 77, C: 33, V: 5000 },
];

describe('embedding on the cpu', () => {
  test.each(CASES)('forward gathers rows, backward sums them per token: N=$N C=$C V=$V', ({ N, C, V }) => {
    const rng = new Rng(N + C + V);
    const table = rng.floats(V * C), tokens = rng.ints(N, 0, V), g = rng.floats(N * C);
    const out = ops.embedding({ out: Tensor.zeros([N, C]), tokens: Tensor.from(tokens, [N]), table: Tensor.from(table, [V, C]) });
    expect(Float64Array.from(out.toArray())).toEqual(embeddingReference(tokens, table, N, C));
    const d0 = rng.floats(V * C);
    const dtable = Tensor.from(d0.slice(), [V, C]);
    ops.embeddingBackward({ dtable, dout: Tensor.from(g, [N, C]), tokens: Tensor.from(tokens, [N]) });
    const ref = embeddingBackwardReference(g, tokens, N, C, V);
    expectClose(dtable.toArray(), Float64Array.from(ref.dtable, (x, i) => x + d0[i]),
      { rtol: 2e-5, atol: 1e-7, scale: Float64Array.from(ref.scale, (x, i) => x + Math.abs(d0[i])) });
  });

  test('the backward does not depend on the thread count', () => {
    const rng = new Rng(6), N = 4096, C = 64, V = 100;
    const tokens = Tensor.from(rng.ints(N, 0, V), [N]), dout = Tensor.from(rng.floats(N * C), [N, C]);
    const run = () => {
      const dtable = Tensor.zeros([V, C]);
      ops.embeddingBackward({ dtable, dout, tokens });
      return Buffer.from(dtable.toArray().buffer);
    };
    setNumThreads(1);
    const one = run();
    setNumThreads(0);
    expect(Buffer.compare(one, run())).toBe(0);
  });
});

describe('embedding errors', () => {
  const table = Tensor.zeros([5, 3]);
  test('tokens out of range name the index; shapes and overlap', () => {
    const bad = Tensor.from(new Int32Array([0, 5]), [2]);
    expect(() => ops.embedding({ out: Tensor.zeros([2, 3]), tokens: bad, table })).toThrow(ArgumentError);
    expect(() => ops.embedding({ out: Tensor.zeros([2, 3]), tokens: bad, table })).toThrow('Expected every token in [0, 5) but received 5 at index 1');
    expect(() => ops.embeddingBackward({ dtable: Tensor.zeros([5, 3]), dout: Tensor.zeros([2, 3]), tokens: Tensor.from(new Int32Array([-1, 0]), [2]) })).toThrow('received -1 at index 0');
    expect(() => ops.embedding({ out: Tensor.zeros([2, 4]), tokens: Tensor.from(new Int32Array(2), [2]), table })).toThrow(ShapeError);
    expect(() => ops.embedding({ out: Tensor.zeros([2, 3]), tokens: Tensor.from(new Int32Array(2), [2]), table: Tensor.zeros([15]) })).toThrow('Expected a 2-d tensor [V, C] for table');
    expect(() => ops.embedding({ out: Tensor.zeros([2, 3]), tokens: Tensor.zeros([2]), table })).toThrow('Expected dtype int32 for tokens');
    expect(() => ops.embedding({ out: table.view(0, [2, 3]), tokens: Tensor.from(new Int32Array(2), [2]), table })).toThrow('Expected out to share no memory with table');
  });
});
