// sampling.ts: next-token sampling from logits [..., V], reproducible for a fixed (seed, counter)
// whatever the thread count: temperature 0 is greedy (argmax, ties → lowest index); otherwise
// softmax(logits / temperature) restricted to the topK largest (ties by index), then to the
// nucleus (the shortest prefix of those, by decreasing probability, whose renormalized mass
// reaches topP; at least one token), sampled by inverse CDF with u = hash(seed, counter, row)
// (a SplitMix64 chain). Use the decode step (or any per-call number) as the counter.
import { binding } from '../binding';
import { Tensor } from '../tensor';
import { ArgumentError, ShapeError, describe } from '../errors';
import { callNative } from '../native_call';
import { checkNumber, checkOptionsObject, checkTensor, commonDevice } from '../validate';

export interface SampleOptions {
  /** >= 0; 0 means greedy. Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 (default) means all. */
  topK?: number;
  /** Nucleus mass in (0, 1]; 1 (default) means off. */
  topP?: number;
  /** uint32 seed. Required unless temperature is 0. */
  seed?: number;
  /** Per-call counter (an integer in [0, 2^53)), e.g. the decode step. Default 0. */
  counter?: number;
}

/** One token per row of logits: int32 [...] for logits [..., V]. */
export function sample(logits: Tensor, options: SampleOptions = {}): Tensor {
  checkOptionsObject('options', options, ['temperature', 'topK', 'topP', 'seed', 'counter']);
  const o = options ?? {};
  const z = checkTensor('logits', logits, ['float32']);
  if (z.shape.length < 1 || z.shape[z.shape.length - 1] < 1)
    throw new ShapeError('logits', `Expected logits of shape [..., V] with V >= 1 but received ${describe(z)}`);
  const V = z.shape[z.shape.length - 1], B = z.numel / V;
  const temperature = checkNumber('options.temperature', o.temperature, 1, { min: 0 });
  const topK = checkNumber('options.topK', o.topK, 0, { integer: true, min: 0 });
  const topP = checkNumber('options.topP', o.topP, 1, { above: 0, max: 1 });
  if (o.seed === undefined && temperature !== 0)
    throw ArgumentError.expected('options.seed', 'an integer between 0 and 4294967295 (required when temperature > 0)', undefined);
  const seed = checkNumber('options.seed', o.seed, 0, { integer: true, min: 0, max: 0xffffffff });
  const counter = checkNumber('options.counter', o.counter, 0, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
  commonDevice({ logits: z });
  const tokens = callNative(() => binding().sample(z._storage('logits'), B, V, temperature, topK, topP, seed, counter));
  return Tensor._wrap(tokens, z.shape.slice(0, -1), 'int32');
}
