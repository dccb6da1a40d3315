// scope.test.ts: scope() frees the tensors made inside it (views included) except those returned or
// kept; nested scopes hand returned tensors outward; async scopes wait for their in-flight ops and
// keep concurrent scopes apart; errors free too; untracked() and model caches stay alive; a loop
// of TinyLM training passes in scopes does not grow the live tensor count.
import { ArgumentError, DisposedError, Tensor, TinyLM, inScope, keep, memory, ops, scope, untracked } from '../../lib';
import { Rng } from '../util/random';

const logits = (rng: Rng, n: number, v: number) => Tensor.from(Float32Array.from({ length: n * v }, () => rng.normal()), [n, v]);

describe('scope', () => {
  test('frees what fn made, views included, and keeps what it returns', () => {
    const before = memory();
    const made: Tensor[] = [];
    const out = scope(() => {
      const a = Tensor.zeros([4, 3]);
      const view = a.reshape([12]);
      const window = a.view(3, [3]);
      made.push(a, view, window);
      return Tensor.from([1, 2, 3], [3]);
    });
    expect(made.every((t) => t.disposed)).toBe(true);
    expect(out.disposed).toBe(false);
    expect(Array.from(out.toArray())).toEqual([1, 2, 3]);
    expect(memory().tensors).toBe(before.tensors + 1);
    out.dispose();
    expect(memory()).toEqual(before);
  });

  test('returned tensors are found inside arrays, plain objects, Maps and Sets', () => {
    const rng = new Rng(1);
    const before = memory().tensors;
    const result = scope(() => {
      const lp = ops.tokenLogprobs(logits(rng, 3, 5), Tensor.from(new Int32Array([0, 1, 2]), [3]), { entropy: true });
      const extra = Tensor.zeros([2]);
      return { nested: [{ lp: lp.logprobs }], map: new Map([['e', lp.entropy!]]), set: new Set([extra]), n: 3 };
    });
    expect(result.nested[0].lp.disposed).toBe(false);
    expect(result.map.get('e')!.disposed).toBe(false);
    expect([...result.set][0].disposed).toBe(false);
    expect(memory().tensors).toBe(before + 3);  // logZ, the logits and the targets are gone
    result.nested[0].lp.dispose();
    result.map.get('e')!.dispose();
    [...result.set][0].dispose();
    expect(memory().tensors).toBe(before);
  });

  test('keep() takes a tensor out of every scope', () => {
    let kept: Tensor | null = null, dropped: Tensor | null = null;
    scope(() => {
      kept = keep(Tensor.zeros([2]));
      dropped = Tensor.zeros([2]);
    });
    expect(kept!.disposed).toBe(false);
    expect(dropped!.disposed).toBe(true);
    kept!.dispose();
    expect(() => keep({} as Tensor)).toThrow(ArgumentError);
  });

  test('nested scopes: the inner result moves to the outer scope, which frees it when it ends', () => {
    let inner: Tensor | null = null, innerTemp: Tensor | null = null;
    const before = memory().tensors;
    scope(() => {
      inner = scope(() => {
        innerTemp = Tensor.zeros([2]);
        return Tensor.zeros([3]);
      });
      expect(innerTemp!.disposed).toBe(true);
      expect(inner!.disposed).toBe(false);
    });
    expect(inner!.disposed).toBe(true);
    expect(memory().tensors).toBe(before);
  });

  test('an error thrown inside still frees, and propagates', () => {
    let temp: Tensor | null = null;
    const before = memory().tensors;
    expect(() => scope(() => {
      temp = Tensor.zeros([8]);
      throw new Error('boom');
    })).toThrow('boom');
    expect(temp!.disposed).toBe(true);
    expect(memory().tensors).toBe(before);
  });

  test('an async fn: freed when its promise settles, the result survives; rejections free too', async () => {
    const rng = new Rng(2);
    const before = memory().tensors;
    let temp: Tensor | null = null;
    const out = await scope(async () => {
      temp = logits(rng, 4, 7);
      await new Promise((resolve) => setImmediate(resolve));
      const lp = await ops.tokenLogprobsAsync(temp, Tensor.from(new Int32Array([1, 2, 3, 4]), [4]));
      return lp.logprobs;
    });
    expect(temp!.disposed).toBe(true);
    expect(out.disposed).toBe(false);
    out.dispose();
    expect(memory().tensors).toBe(before);
    await expect(scope(async () => {
      temp = Tensor.zeros([3]);
      await new Promise((resolve) => setImmediate(resolve));
      throw new Error('later');
    })).rejects.toThrow('later');
    expect(temp!.disposed).toBe(true);
    expect(memory().tensors).toBe(before);
  });

  test('an async scope waits for an op it started but did not await, and frees its outputs', async () => {
    const rng = new Rng(3);
    const before = memory();
    let pending: Promise<unknown> | null = null;
    await scope(async () => {
      pending = ops.tokenLogprobsAsync(logits(rng, 64, 512), Tensor.from(new Int32Array(64), [64]), { entropy: true });
    });
    // Its outputs were made inside the open scope and freed with it.
    const result = (await pending!) as { logprobs: Tensor; logZ: Tensor; entropy: Tensor };
    expect(result.logprobs.disposed).toBe(true);
    expect(result.entropy.disposed).toBe(true);
    expect(memory()).toEqual(before);
  });

  test('concurrent async scopes each free only their own tensors', async () => {
    const a: Tensor[] = [], b: Tensor[] = [];
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    let bTempAfterA: boolean | null = null;
    const first = scope(async () => {
      a.push(Tensor.zeros([1]));
      await tick();
      a.push(Tensor.zeros([1]));
    });
    const second = scope(async () => {
      b.push(Tensor.zeros([2]));
      await first;  // scope A ends while B is still open
      bTempAfterA = b[0].disposed;
      b.push(Tensor.zeros([2]));
      await tick();
      return b[1];
    });
    const kept = await second;
    await first;
    expect(a.every((t) => t.disposed)).toBe(true);
    expect(bTempAfterA).toBe(false);
    expect(b[0].disposed).toBe(true);
    expect(kept.disposed).toBe(false);
    kept.dispose();
  });

  test('untracked(): tensors made inside belong to no scope', () => {
    let cache: Tensor | null = null;
    scope(() => {
      expect(inScope()).toBe(true);
      cache = untracked(() => {
        expect(inScope()).toBe(false);
        return Tensor.zeros([4]);
      });
    });
    expect(cache!.disposed).toBe(false);
    cache!.dispose();
    expect(inScope()).toBe(false);
    expect(() => scope(42 as unknown as () => void)).toThrow(ArgumentError);
  });

  test('a tensor used after its scope freed it throws a DisposedError', () => {
    let leaked: Tensor | null = null;
    scope(() => {
      leaked = Tensor.zeros([2]);
    });
    expect(() => leaked!.toArray()).toThrow(DisposedError);
  });

  test('TinyLM training passes in a loop of scopes: the live tensor count stays flat, the model keeps its caches', async () => {
    const model = TinyLM.create({ vocabSize: 32, hiddenSize: 16, numLayers: 2, numHeads: 2, numKvHeads: 1, intermediateSize: 24, maxPositions: 16 }, { seed: 5 });
    const rng = new Rng(4);
    const step = () => scope(async () => {
      const tokens = Tensor.from(Int32Array.from({ length: 2 * 6 }, () => rng.int(0, 32)), [2, 6]);
      const out = await model.forward(tokens, { train: true });
      const flat = out.reshape([12, 32]);  // a view nobody disposes by hand
      const lp = ops.tokenLogprobs(flat, tokens.reshape([12]));
      const dlogits = ops.tokenLogprobsBackward(flat, tokens.reshape([12]), lp.logZ, Tensor.from(new Float32Array(12).fill(-1 / 12), [12]));
      await model.backward(dlogits.reshape([2, 6, 32]));
      const params = model.parameters();  // untracked views: the caller's, as before
      for (const p of params) p.value.dispose(), p.grad?.dispose();
      return lp.logprobs.toArray()[0];
    });
    await step();
    const after1 = memory();
    for (let i = 0; i < 5; i++) await step();
    expect(memory()).toEqual(after1);
    const g = model.gradBuffer.toArray() as Float32Array;
    expect(g.some((x) => x !== 0)).toBe(true);
    model.dispose();
  });
});
