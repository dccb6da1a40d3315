// config.ts: TinyLM's configuration and its mapping to and from Hugging Face config.json for
// LlamaForCausalLM and Qwen2ForCausalLM (the fields their modeling code reads).
import { ArgumentError, FormatError } from '../errors';

export interface TinyLMConfig {
  /** 'llama' (optional attention bias) or 'qwen2' (q/k/v bias, no o_proj bias). */
  architecture: 'llama' | 'qwen2';
  vocabSize: number;
  /** C, the residual width. */
  hiddenSize: number;
  /** F, the SwiGLU width. */
  intermediateSize: number;
  numLayers: number;
  /** H query heads and KVH key/value heads (grouped-query attention when KVH < H). */
  numHeads: number;
  numKvHeads: number;
  /** D per head; hiddenSize / numHeads unless a checkpoint says otherwise. */
  headDim: number;
  ropeTheta: number;
  rmsNormEps: number;
  maxPositions: number;
  tieEmbeddings: boolean;
  /** Bias on q/k/v projections (Qwen2 always; Llama's attention_bias). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama's attention_bias; never in Qwen2). */
  oBias: boolean;
  /** A scalar value head on the final hidden state (PPO / PSPO with a critic). */
  valueHead: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId?: number;
}

export type TinyLMConfigInput = Partial<TinyLMConfig> & Pick<TinyLMConfig, 'vocabSize'>;

const positiveInteger = (name: string, value: unknown): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw ArgumentError.expected(`config.${name}`, 'a positive integer', value);
  return value;
};

const positiveNumber = (name: string, value: unknown): number => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw ArgumentError.expected(`config.${name}`, 'a finite number > 0', value);
  return value;
};

/** A complete, checked config; omitted fields take the small embedded default's values. */
export function resolveConfig(input: TinyLMConfigInput): TinyLMConfig {
  if (input === null || typeof input !== 'object') throw ArgumentError.expected('config', 'a TinyLM config object', input);
  const hiddenSize = positiveInteger('hiddenSize', input.hiddenSize ?? 256);
  const numHeads = positiveInteger('numHeads', input.numHeads ?? 4);
  const numKvHeads = positiveInteger('numKvHeads', input.numKvHeads ?? numHeads);
  const headDim = positiveInteger('headDim', input.headDim ?? Math.floor(hiddenSize / numHeads));
  if (numHeads % numKvHeads !== 0)
    throw new ArgumentError('config.numKvHeads', `Expected numKvHeads to divide numHeads (${numHeads}) but received ${numKvHeads}`);
  if (headDim % 2 !== 0) throw ArgumentError.expected('config.headDim', 'an even number (rotary embeddings rotate pairs)', headDim);
  const architecture = input.architecture ?? 'llama';
  if (architecture !== 'llama' && architecture !== 'qwen2')
    throw ArgumentError.expected('config.architecture', "'llama' or 'qwen2'", architecture);
  const config: TinyLMConfig = {
    architecture,
    vocabSize: positiveInteger('vocabSize', input.vocabSize),
    hiddenSize,
    intermediateSize: positiveInteger('intermediateSize', input.intermediateSize ?? 4 * hiddenSize),
    numLayers: positiveInteger('numLayers', input.numLayers ?? 4),
    numHeads,
    numKvHeads,
    headDim,
    ropeTheta: positiveNumber('ropeTheta', input.ropeTheta ?? 10000),
    rmsNormEps: positiveNumber('rmsNormEps', input.rmsNormEps ?? 1e-6),
    maxPositions: positiveInteger('maxPositions', input.maxPositions ?? 2048),
    tieEmbeddings: input.tieEmbeddings ?? true,
    qkvBias: input.qkvBias ?? architecture === 'qwen2',
    oBias: input.oBias ?? false,
    valueHead: input.valueHead ?? false,
  };
  for (const key of ['bosTokenId', 'eosTokenId', 'padTokenId'] as const)
    if (input[key] !== undefined) config[key] = positiveInteger(key, (input[key] as number) + 1) - 1;
  return config;
}

/** Reads a Hugging Face config.json object (LlamaForCausalLM or Qwen2ForCausalLM). */
export function fromHuggingFace(json: Record<string, unknown>, file = 'config.json'): TinyLMConfig {
  const architectures = (json.architectures as string[] | undefined) ?? [];
  const modelType = String(json.model_type ?? '');
  let architecture: 'llama' | 'qwen2';
  if (modelType === 'qwen2' || architectures.includes('Qwen2ForCausalLM')) architecture = 'qwen2';
  else if (modelType === 'llama' || architectures.includes('LlamaForCausalLM')) architecture = 'llama';
  else throw new FormatError(file, `expected a llama or qwen2 model but received model_type ${JSON.stringify(json.model_type)}, architectures ${JSON.stringify(architectures)}`);
  if (json.mlp_bias === true) throw new FormatError(file, 'mlp_bias is not supported');
  if (json.rope_scaling !== undefined && json.rope_scaling !== null)
    throw new FormatError(file, `rope_scaling ${JSON.stringify(json.rope_scaling)} is not supported (plain RoPE only)`);
  const numHeads = json.num_attention_heads as number;
  const pick = (id: unknown) => (Array.isArray(id) ? (id[0] as number) : (id as number | undefined)) ?? undefined;
  try {
    return resolveConfig({
      architecture,
      vocabSize: json.vocab_size as number,
      hiddenSize: json.hidden_size as number,
      intermediateSize: json.intermediate_size as number,
      numLayers: json.num_hidden_layers as number,
      numHeads,
      numKvHeads: (json.num_key_value_heads as number | undefined) ?? numHeads,
      headDim: (json.head_dim as number | undefined) ?? undefined,
      ropeTheta: (json.rope_theta as number | undefined) ?? 10000,
      rmsNormEps: (json.rms_norm_eps as number | undefined) ?? 1e-6,
      maxPositions: (json.max_position_embeddings as number | undefined) ?? 2048,
      tieEmbeddings: (json.tie_word_embeddings as boolean | undefined) ?? false,
      qkvBias: architecture === 'qwen2' ? true : Boolean(json.attention_bias),
      oBias: architecture === 'qwen2' ? false : Boolean(json.attention_bias),
      valueHead: Boolean((json.steprl as Record<string, unknown> | undefined)?.value_head),
      bosTokenId: pick(json.bos_token_id),
      eosTokenId: pick(json.eos_token_id),
      padTokenId: pick(json.pad_token_id),
    });
  } catch (error) {
    if (error instanceof ArgumentError) throw new FormatError(file, error.message);
    throw error;
  }
}

/** The config.json a Hugging Face loader (transformers) accepts for this model. */
export function toHuggingFace(config: TinyLMConfig, torchDtype: 'float32' | 'bfloat16'): Record<string, unknown> {
  const qwen = config.architecture === 'qwen2';
  const json: Record<string, unknown> = {
    architectures: [qwen ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen ? 'qwen2' : 'llama',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    rope_theta: config.ropeTheta,
    rms_norm_eps: config.rmsNormEps,
    max_position_embeddings: config.maxPositions,
    tie_word_embeddings: config.tieEmbeddings,
    torch_dtype: torchDtype,
  };
  if (!qwen) {
    if (config.qkvBias !== config.oBias)
      throw new ArgumentError('config.oBias', `Expected oBias equal to qkvBias for a Llama checkpoint (attention_bias covers both) but received qkvBias ${config.qkvBias}, oBias ${config.oBias}`);
    json.attention_bias = config.qkvBias;
  } else if (!config.qkvBias || config.oBias) {
    throw new ArgumentError('config.qkvBias', 'Expected qkvBias true and oBias false for a Qwen2 checkpoint');
  }
  for (const [key, hf] of [['bosTokenId', 'bos_token_id'], ['eosTokenId', 'eos_token_id'], ['padTokenId', 'pad_token_id']] as const)
    if (config[key] !== undefined) json[hf] = config[key];
  if (config.valueHead) json.steprl = { value_head: true };
  return json;
}
