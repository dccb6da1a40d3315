// entry_checks.ts: the argument checks of TinyLM's entry points, each a typed error that names the
// argument, what was expected and what was received: tokens int32 [B, T] for a forward (at most the
// context length per row), gradients of the training forward's shape for a backward (dlogits
// [B, T, V], dhidden [B*T, C], dvalues [B, T]), and prompts and sampling options for generate().
import { ArgumentError, ShapeError } from '../errors';
import type { Device, Tensor } from '../tensor';
import { checkOptionsObject, checkTensor } from '../validate';
import { contextLength, type TinyLMConfig } from './config';
import type { ForwardOptions, SamplingOptions } from './policy';

/** The tokens of a forward, hidden or values call (int32 [B, T], storage alive), with its options. */
export function checkForwardTokens(config: TinyLMConfig, device: Device, tokens: Tensor, options: ForwardOptions): Tensor {
  checkOptionsObject('options', options, ['train', 'attentionStart']);
  const t = checkTensor('tokens', tokens, ['int32']);
  if (t.shape.length !== 2) throw new ShapeError('tokens', `Expected tokens of shape [B, T] but received [${t.shape.join(', ')}]`);
  if (t.device !== device) t._storage('tokens');
  const T = t.shape[1];
  if (T > contextLength(config))
    throw new ShapeError('tokens', `Expected at most ${contextLength(config)} tokens per row (maxPositions${config.ropeScaling?.type === 'dynamic' ? ' · the dynamic rope factor' : ''}) but received ${T}`);
  return t;
}

/** A float32 gradient of `numel` elements; `shape` is how the message writes the expected shape. */
export function checkGradient(argument: string, gradient: Tensor, numel: number, shape: string): Tensor {
  const d = checkTensor(argument, gradient, ['float32']);
  if (d.numel !== numel) throw new ShapeError(argument, `Expected ${argument} of shape ${shape} but received [${d.shape.join(', ')}]`);
  return d;
}

/** The value head's gradient float32 [B, T], when given: only a model with a value head takes one. */
export function checkValueGradient(config: TinyLMConfig, dvalues: Tensor | undefined, B: number, T: number): void {
  if (dvalues === undefined) return;
  if (!config.valueHead) throw new ArgumentError('dvalues', 'this model has no value head (create it with valueHead: true)');
  checkTensor('dvalues', dvalues, ['float32']);
  if (dvalues.numel !== B * T) throw new ShapeError('dvalues', `Expected dvalues of shape [${B}, ${T}] but received [${dvalues.shape.join(', ')}]`);
}

/** generate()'s prompts (non-empty Int32Arrays of ids in [0, V)) and options (room for maxNewTokens). */
export function checkGenerateArguments(config: TinyLMConfig, prompts: readonly Int32Array[], options: SamplingOptions): void {
  if (!Array.isArray(prompts) || prompts.length === 0) throw ArgumentError.expected('prompts', 'a non-empty array of Int32Array token ids', prompts);
  for (let i = 0; i < prompts.length; i++) {
    const p = prompts[i];
    if (Object.prototype.toString.call(p) !== '[object Int32Array]' || p.length === 0)
      throw ArgumentError.expected(`prompts[${i}]`, 'a non-empty Int32Array of token ids', p);
    for (const id of p) if (id < 0 || id >= config.vocabSize) throw ArgumentError.expected(`prompts[${i}]`, `token ids in [0, ${config.vocabSize})`, id);
  }
  checkOptionsObject('options', options, ['maxNewTokens', 'temperature', 'topP', 'topK', 'stopTokens', 'seed']);
  const longest = Math.max(...prompts.map((p) => p.length));
  const context = contextLength(config);
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1 || longest + options.maxNewTokens > context)
    throw ArgumentError.expected('options.maxNewTokens', `an integer in [1, ${context - longest}] (the context length minus the longest prompt)`, options.maxNewTokens);
}
