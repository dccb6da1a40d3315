// embedding.test.ts: embedding / embeddingBackward against the float64 reference on every device:
// repeated tokens (the backward's per-token sums; on cuda also a padding-like token repeated
// hundreds of times and more tokens than one sort tile), accumulation into a non-zero table
// gradient, determinism (thread counts on the cpu, repeated runs on cuda; no atomics), token range
// checks and the other errors.
import { ArgumentError, DeviceError, ShapeError, Tensor, ops, setNumThreads } from '../../lib';
import { embeddingBackwardReference, embeddingReference } from '../reference/embedding';
import { expectClose } from '../util/close';
import { describeOn, describeTargets, onTarget } from '../util/devices';
import { Rng } from '../util/random';

const CASES = [
  { N: 1, C: 1, V: 1 },
  { N: 9, C: 5, V: 3 },
  { N: 1024, C: 256, V: 259 },
  { N: 77, C: 33, V: 5000 },
  { N: 2500, C: 8, V: 40, pad: 600 },  // > one 2048-key sort tile; token 0 repeated 600 times
];

describeTargets('embedding', (target) => {
  const device = target.device;
  test.each(CASES)('forward gathers rows, backward sums them per token: N=$N C=$C V=$V', ({ N, C, V, pad }) => {
    onTarget(target, () => {
      const rng = new Rng(N + C + V);
      const table = rng.floats(V * C), tokens = rng.ints(N, 0, V), g = rng.floats(N * C);
      for (let i = 0; i < (pad ?? 0); i++) tokens[rng.int(0, N)] = 0;
      const out = ops.embedding({ out: Tensor.zeros([N, C], { device }), tokens: Tensor.from(tokens, [N], { device }), table: Tensor.from(table, [V, C], { device }) });
      expect(Float64Array.from(out.toArray())).toEqual(embeddingReference(tokens, table, N, C));
      const d0 = rng.floats(V * C);
      const dtable = Tensor.from(d0.slice(), [V, C], { device });
      ops.embeddingBackward({ dtable, dout: Tensor.from(g, [N, C], { device }), tokens: Tensor.from(tokens, [N], { device }) });
      const ref = embeddingBackwardReference(g, tokens, N, C, V);
      expectClose(dtable.toArray(), Float64Array.from(ref.dtable, (x, i) => x + d0[i]),
        { rtol: 2e-5, atol: 1e-7, scale: Float64Array.from(ref.scale, (x, i) => x + Math.abs(d0[i])) });
    });
  });

  test('views at unaligned offsets (the element-wise path)', () => {
    onTarget(target, () => {
      const rng = new Rng(3), N = 20, C = 12, V = 7;
      const table = rng.floats(V * C), tokens = rng.ints(N, 0, V), g = rng.floats(N * C);
      const arena = Tensor.zeros([2 + V * C + N * C], { device });
      const t = arena.view(1, [V, C]).copyFrom(Tensor.from(table, [V, C], { device }));
      const out = ops.embedding({ out: arena.view(2 + V * C, [N, C]), tokens: Tensor.from(tokens, [N], { device }), table: t });
      expect(Float64Array.from(out.toArray())).toEqual(embeddingReference(tokens, table, N, C));
      const dtable = arena.view(1, [V, C]).fill(0);
      ops.embeddingBackward({ dtable, dout: Tensor.from(g, [N, C], { device }), tokens: Tensor.from(tokens, [N], { device }) });
      const ref = embeddingBackwardReference(g, tokens, N, C, V);
      expectClose(dtable.toArray(), ref.dtable, { rtol: 2e-5, atol: 1e-7, scale: ref.scale });
    });
  });
});

describeOn('cuda', 'embedding on cuda', () => {
  const device = 'cuda' as const;
  test('the backward gives the same bits on repeated runs; tokens are range-checked; devices do not mix', () => {
    const rng = new Rng(6), N = 3000, C = 64, V = 100;
    const tokens = Tensor.from(rng.ints(N, 0, V), [N], { device }), dout = Tensor.from(rng.floats(N * C), [N, C], { device });
    const run = () => {
      const dtable = Tensor.zeros([V, C], { device });
      ops.embeddingBackward({ dtable, dout, tokens });
      return Buffer.from(dtable.toArray().buffer);
    };
    expect(Buffer.compare(run(), run())).toBe(0);
    const table = Tensor.zeros([5, 3], { device });
    const bad = Tensor.from(new Int32Array([0, 5]), [2], { device });
    expect(() => ops.embedding({ out: Tensor.zeros([2, 3], { device }), tokens: bad, table })).toThrow(ArgumentError);
    expect(() => ops.embedding({ out: Tensor.zeros([2, 3], { device }), tokens: bad, table })).toThrow('Expected every token in [0, 5) but received 5 at index 1');
    expect(() => ops.embedding({ out: Tensor.zeros([2, 3], { device }), tokens: Tensor.from(new Int32Array(2), [2]), table })).toThrow(DeviceError);
  });
});

describeOn('cpu', 'embedding behaviour', () => {
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

describeOn('cpu', 'embedding errors', () => {
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
