// config_limits.ts: sane upper bounds on a TinyLM config read from a checkpoint, checked before
// anything is sized from it. A config from the internet may claim 1e9 layers or a 1e12-token
// vocabulary; without these checks the parameter table alone exhausts the JavaScript heap, and
// products of sizes overflow into nonsense. The bounds are far above every released Llama/Qwen
// model (the largest vocabularies are ~256k, widths ~16k, depths ~128) yet keep every product of
// two sizes below 2^53, so the Number arithmetic of params.ts stays exact once they hold.
import { FormatError } from '../errors';
import type { TinyLMConfig } from './config';

export const CONFIG_LIMITS = {
  vocabSize: 2 ** 22,
  hiddenSize: 2 ** 16,
  intermediateSize: 2 ** 18,
  numLayers: 1024,
  numHeads: 1024,
  numKvHeads: 1024,
  headDim: 2 ** 12,
  maxPositions: 2 ** 24,
} as const satisfies Partial<Record<keyof TinyLMConfig, number>>;

/** Field names as config.json spells them, for error messages. */
const HF_NAMES: Record<keyof typeof CONFIG_LIMITS, string> = {
  vocabSize: 'vocab_size',
  hiddenSize: 'hidden_size',
  intermediateSize: 'intermediate_size',
  numLayers: 'num_hidden_layers',
  numHeads: 'num_attention_heads',
  numKvHeads: 'num_key_value_heads',
  headDim: 'head_dim',
  maxPositions: 'max_position_embeddings',
};

/**
 * The most float32 parameters one model may hold: TinyLM keeps them in one Float32Array, whose
 * length V8 (Node 20-22, 64-bit) caps at 2^32 elements.
 */
export const MAX_PARAMETERS = 2n ** 32n;

/**
 * The parameter count params.ts lays out for `config` (padding excluded), in BigInt so that no
 * size a file claims can overflow it: embeddings, an lm_head unless tied, per layer two norms,
 * q/k/v/o (+ biases, + Qwen3's per-head q/k norms), gate/up/down; the final norm; the optional
 * value head.
 */
export function impliedParameterCount(config: TinyLMConfig): bigint {
  const V = BigInt(config.vocabSize), C = BigInt(config.hiddenSize), F = BigInt(config.intermediateSize);
  const HD = BigInt(config.numHeads) * BigInt(config.headDim), KD = BigInt(config.numKvHeads) * BigInt(config.headDim);
  let layer = 2n * C + HD * C + 2n * KD * C + C * HD + 3n * F * C;
  if (config.qkvBias) layer += HD + 2n * KD;
  if (config.oBias) layer += C;
  if (config.architecture === 'qwen3') layer += 2n * BigInt(config.headDim);  // per-head q/k norms
  let total = V * C + BigInt(config.numLayers) * layer + C;
  if (!config.tieEmbeddings) total += V * C;
  if (config.valueHead) total += C + 1n;
  return total;
}

/**
 * Checks every size of `config` against CONFIG_LIMITS and its parameter count against
 * MAX_PARAMETERS; throws a FormatError naming `file` and the field. Returns the parameter count.
 */
export function checkConfigLimits(config: TinyLMConfig, file: string): bigint {
  for (const key of Object.keys(CONFIG_LIMITS) as (keyof typeof CONFIG_LIMITS)[]) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value < 1 || value > CONFIG_LIMITS[key])
      throw new FormatError(file, `expected ${HF_NAMES[key]} to be an integer in [1, ${CONFIG_LIMITS[key]}] but received ${value}`);
  }
  const count = impliedParameterCount(config);
  if (count > MAX_PARAMETERS)
    throw new FormatError(file, `expected a model of at most ${MAX_PARAMETERS} parameters but the config implies ${count}`);
  return count;
}
