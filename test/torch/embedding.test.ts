// embedding.test.ts (torch): steprl's embedding and its table gradient against F.embedding in
// PyTorch float64 with autograd (repeated tokens included).
import { Tensor, ops } from '../../lib';
import { embeddingBackwardReference } from '../reference/embedding';
import { expectClose } from '../util/close';
import { Rng } from '../util/random';
import { describeTorch, runTorch } from './harness';

describeTorch('embedding', () => {
  test.each([{ N: 1, C: 1, V: 1 }, { N: 500, C: 64, V: 37 }, { N: 64, C: 33, V: 3000 }])('N=$N C=$C V=$V', ({ N, C, V }) => {
    const rng = new Rng(N + V);
    const table = rng.floats(V * C), tokens = rng.ints(N, 0, V), dout = rng.floats(N * C);
    const out = ops.embedding({ out: Tensor.zeros([N, C]), tokens: Tensor.from(tokens, [N]), table: Tensor.from(table, [V, C]) });
    const dtable = Tensor.zeros([V, C]);
    ops.embeddingBackward({ dtable, dout: Tensor.from(dout, [N, C]), tokens: Tensor.from(tokens, [N]) });
    const torch = runTorch('embedding', { table, tokens, dout }, { N, C, V });
    expectClose(out.toArray(), torch.out, { rtol: 0, atol: 0 });
    expectClose(dtable.toArray(), torch.dtable, { rtol: 2e-5, atol: 1e-9, scale: embeddingBackwardReference(dout, tokens, N, C, V).scale });
  });
});
