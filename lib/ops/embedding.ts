// embedding.ts: token embedding lookup, out[n] = table[tokens[n]] (HF embed_tokens), and its
// gradient dtable[v] += Σ_{n: tokens[n] = v} dout[n], accumulated deterministically (each vocab
// row summed by one task in token order; no atomics). Tokens are range-checked natively.
import { binding } from '../binding';
import type { Tensor } from '../tensor';
import { callNative } from '../native_call';
import { checkDims, checkElements, checkTensor, checkTensorsObject, commonDevice } from '../validate';

export interface EmbeddingTensors {
  /** float32 [N, C], written. */
  out: Tensor;
  /** int32 [N] in [0, V); fixes N. */
  tokens: Tensor;
  /** float32 [V, C]: fixes V and C. */
  table: Tensor;
}

export interface EmbeddingBackwardTensors {
  /** float32 [V, C] += the rows of dout, gathered by token. */
  dtable: Tensor;
  /** float32 [N, C]. */
  dout: Tensor;
  tokens: Tensor;
}

/** A lookup's table [V, C] (`tableName`), its int32 tokens [N] and the rows [N, C] (`rowsName`) it reads or writes. */
function lookup(tableName: string, table: unknown, tokens: unknown, rowsName: string, rows: unknown) {
  const tab = checkTensor(tableName, table, ['float32']);
  const [V, C] = checkDims(tableName, tab, 2, '[V, C]');
  const tok = checkTensor('tokens', tokens, ['int32']);
  const N = tok.numel;
  return { table: tab, tokens: tok, rows: checkElements(rowsName, rows, N * C, [N, C]), N, C, V };
}

/** out[n, :] = table[tokens[n], :]; returns out. */
export function embedding(tensors: EmbeddingTensors): Tensor {
  const t = checkTensorsObject('tensors', tensors, ['out', 'tokens', 'table'], '{ out, tokens, table }');
  const { table, tokens, rows: out, N, C, V } = lookup('table', t.table, t.tokens, 'out', t.out);
  commonDevice({ out, tokens, table });
  callNative(() => binding().embedding(out._storage('out'), tokens._storage('tokens'), table._storage('table'), N, C, V));
  return out;
}

/** dtable[tokens[n], :] += dout[n, :]. */
export function embeddingBackward(tensors: EmbeddingBackwardTensors): void {
  const t = checkTensorsObject('tensors', tensors, ['dtable', 'dout', 'tokens'], '{ dtable, dout, tokens }');
  const { table: dtable, tokens, rows: dout, N, C, V } = lookup('dtable', t.dtable, t.tokens, 'dout', t.dout);
  commonDevice({ dtable, dout, tokens });
  callNative(() => binding().embeddingBackward(dtable._storage('dtable'), dout._storage('dout'), tokens._storage('tokens'), N, C, V));
}
