// config.ts: TinyLM's configuration and its mapping to and from Hugging Face config.json for
// LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM (the fields their modeling code reads).
// What TinyLM cannot compute the way transformers does is refused with a FormatError naming the
// field: rope_scaling types other than linear, dynamic and llama3, sliding-window attention,
// partial rotary embeddings, activations other than SiLU, MLP bias.
import { ArgumentError, FormatError } from '../errors';

/**
 * rope_scaling as transformers' rope initialisation functions read it:
 * - linear: inv_freq / factor (positions interpolated by 1/factor);
 * - dynamic: NTK-aware scaling, base · (factor·S/maxPositions − (factor − 1))^(D/(D−2)) for a pass
 *   whose longest row reaches S > maxPositions positions (plain RoPE up to maxPositions), as
 *   transformers recomputes it per forward; sequences may then run to factor · maxPositions;
 * - llama3: Llama 3.1's wavelength-dependent interpolation (low frequencies / factor, high kept, a
 *   smooth ramp between wavelengths originalMaxPositions/highFreqFactor and .../lowFreqFactor).
 * No type here rescales attention (their attention_factor is 1).
 */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export type Architecture = 'llama' | 'qwen2' | 'qwen3';

export interface TinyLMConfig {
  /**
   * 'llama' (optional attention bias), 'qwen2' (q/k/v bias, no o_proj bias) or 'qwen3' (Llama's
   * optional attention bias plus a per-head RMSNorm of q and k before RoPE: q_norm, k_norm).
   */
  architecture: Architecture;
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
  /** null: plain RoPE. */
  ropeScaling: RopeScaling | null;
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
  if (architecture !== 'llama' && architecture !== 'qwen2' && architecture !== 'qwen3')
    throw ArgumentError.expected('config.architecture', "'llama', 'qwen2' or 'qwen3'", architecture);
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
    ropeScaling: checkRopeScaling(input.ropeScaling ?? null),
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

function checkRopeScaling(input: unknown): RopeScaling | null {
  if (input === null) return null;
  if (typeof input !== 'object') throw ArgumentError.expected('config.ropeScaling', 'null or a { type, factor, ... } object', input);
  const r = input as Record<string, unknown>;
  const factor = (name: string, value: unknown, min: number): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
      throw ArgumentError.expected(`config.ropeScaling.${name}`, `a finite number >= ${min}`, value);
    return value;
  };
  switch (r.type) {
    case 'linear':
    case 'dynamic':
      return { type: r.type, factor: factor('factor', r.factor, 1) };
    case 'llama3': {
      const scaling = {
        type: 'llama3' as const,
        factor: factor('factor', r.factor, 1),
        lowFreqFactor: positiveNumber('ropeScaling.lowFreqFactor', r.lowFreqFactor),
        highFreqFactor: positiveNumber('ropeScaling.highFreqFactor', r.highFreqFactor),
        originalMaxPositions: positiveInteger('ropeScaling.originalMaxPositions', r.originalMaxPositions),
      };
      if (!(scaling.highFreqFactor > scaling.lowFreqFactor))
        throw ArgumentError.expected('config.ropeScaling.highFreqFactor', `a number above lowFreqFactor (${scaling.lowFreqFactor})`, scaling.highFreqFactor);
      return scaling;
    }
    default:
      throw ArgumentError.expected('config.ropeScaling.type', "'linear', 'dynamic' or 'llama3'", r.type);
  }
}

/** The longest sequence TinyLM runs: maxPositions, or factor · maxPositions under dynamic scaling. */
export function contextLength(config: TinyLMConfig): number {
  const scaling = config.ropeScaling;
  return scaling?.type === 'dynamic' ? Math.floor(scaling.factor * config.maxPositions) : config.maxPositions;
}

/**
 * float32 [D/2] inverse frequencies of a scaled RoPE, or null when they are theta^(-2i/D) (no
 * scaling, or dynamic within maxPositions). `sequenceLength` (the largest position of the pass
 * plus one) matters only to dynamic scaling. Computed in float64 and rounded once.
 */
export function ropeInverseFrequencies(config: TinyLMConfig, sequenceLength = 0): Float32Array | null {
  const scaling = config.ropeScaling;
  if (scaling === null) return null;
  const D = config.headDim;
  let theta = config.ropeTheta;
  if (scaling.type === 'dynamic') {
    if (sequenceLength <= config.maxPositions) return null;
    theta *= Math.pow((scaling.factor * sequenceLength) / config.maxPositions - (scaling.factor - 1), D / (D - 2));
  }
  const inv = new Float32Array(D / 2);
  for (let i = 0; i < D / 2; i++) {
    const base = 1 / Math.pow(theta, (2 * i) / D);
    if (scaling.type === 'dynamic') {
      inv[i] = base;
      continue;
    }
    if (scaling.type === 'linear') {
      inv[i] = base / scaling.factor;
      continue;
    }
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
    const wavelength = (2 * Math.PI) / base;
    if (wavelength < originalMaxPositions / highFreqFactor) inv[i] = base;           // high frequency: kept
    else if (wavelength > originalMaxPositions / lowFreqFactor) inv[i] = base / factor; // low frequency: interpolated
    else {
      const smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      inv[i] = (1 - smooth) * (base / factor) + smooth * base;
    }
  }
  return inv;
}

/** rope_scaling (or transformers 5's rope_parameters) of a config.json, refused per type when unsupported. */
function readRopeScaling(json: Record<string, unknown>, file: string): RopeScaling | null {
  const raw = (json.rope_scaling ?? json.rope_parameters ?? null) as Record<string, unknown> | null;
  if (raw === null) return null;
  if (typeof raw !== 'object') throw new FormatError(file, `expected rope_scaling to be an object or null but received ${JSON.stringify(raw)}`);
  const type = (raw.rope_type ?? raw.type ?? 'default') as string;
  const num = (key: string) => raw[key] as number;
  switch (type) {
    case 'default':
      return null;
    case 'linear':
    case 'dynamic':
      return { type, factor: num('factor') };
    case 'llama3':
      return {
        type, factor: num('factor'), lowFreqFactor: num('low_freq_factor'), highFreqFactor: num('high_freq_factor'),
        originalMaxPositions: num('original_max_position_embeddings'),
      };
    default:
      throw new FormatError(file, `rope_scaling type ${JSON.stringify(type)} is not supported (supported: linear, dynamic, llama3)`);
  }
}

/** Reads a Hugging Face config.json object (LlamaForCausalLM, Qwen2ForCausalLM or Qwen3ForCausalLM). */
export function fromHuggingFace(json: Record<string, unknown>, file = 'config.json'): TinyLMConfig {
  const architectures = (json.architectures as string[] | undefined) ?? [];
  const modelType = String(json.model_type ?? '');
  let architecture: Architecture;
  if (modelType === 'qwen3' || architectures.includes('Qwen3ForCausalLM')) architecture = 'qwen3';
  else if (modelType === 'qwen2' || architectures.includes('Qwen2ForCausalLM')) architecture = 'qwen2';
  else if (modelType === 'llama' || architectures.includes('LlamaForCausalLM')) architecture = 'llama';
  else throw new FormatError(file, `expected a llama, qwen2 or qwen3 model but received model_type ${JSON.stringify(json.model_type)}, architectures ${JSON.stringify(architectures)}`);
  if (json.mlp_bias === true) throw new FormatError(file, 'mlp_bias is not supported');
  if (json.use_sliding_window === true)
    throw new FormatError(file, `use_sliding_window: true (sliding_window ${JSON.stringify(json.sliding_window)}) is not supported: TinyLM attends to every earlier token`);
  if (Array.isArray(json.layer_types) && json.layer_types.some((t) => t !== 'full_attention'))
    throw new FormatError(file, `layer_types ${JSON.stringify([...new Set(json.layer_types)])} is not supported: TinyLM has full attention in every layer`);
  if (json.hidden_act !== undefined && json.hidden_act !== 'silu')
    throw new FormatError(file, `hidden_act ${JSON.stringify(json.hidden_act)} is not supported (SwiGLU with silu only)`);
  const partial = (json.partial_rotary_factor ?? (json.rope_parameters as Record<string, unknown> | undefined)?.partial_rotary_factor) as number | undefined;
  if (partial !== undefined && partial !== 1) throw new FormatError(file, `partial_rotary_factor ${partial} is not supported (RoPE over the whole head only)`);
  const ropeScaling = readRopeScaling(json, file);
  const ropeTheta = (json.rope_theta ?? (json.rope_parameters as Record<string, unknown> | undefined)?.rope_theta) as number | undefined;
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
      ropeTheta: ropeTheta ?? 10000,
      ropeScaling,
      rmsNormEps: (json.rms_norm_eps as number | undefined) ?? 1e-6,
      maxPositions: (json.max_position_embeddings as number | undefined) ?? 2048,
      tieEmbeddings: (json.tie_word_embeddings as boolean | undefined) ?? false,
      qkvBias: architecture === 'qwen2' ? true : Boolean(json.attention_bias),  // Qwen3: attention_bias, like Llama
      oBias: architecture === 'qwen2' ? false : Boolean(json.attention_bias),
      valueHead: Boolean((json.steprl as Record<string, unknown> | undefined)?.value_head),
      bosTokenId: pick(json.bos_token_id),
      eosTokenId: pick(json.eos_token_id),
      padTokenId: pick(json.pad_token_id),
    });
  } catch (error) {
    if (error instanceof ArgumentError) throw new FormatError(file, error.message.replace(/config\.ropeScaling\.(\w+)/, (_, key: string) => `rope_scaling.${snake(key)}`));
    throw error;
  }
}

const snake = (key: string): string => (key === 'originalMaxPositions' ? 'original_max_position_embeddings' : key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));

const CLASSES: Record<Architecture, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM' };

/** The config.json a Hugging Face loader (transformers) accepts for this model. */
export function toHuggingFace(config: TinyLMConfig, torchDtype: 'float32' | 'bfloat16'): Record<string, unknown> {
  const qwen = config.architecture === 'qwen2';
  const json: Record<string, unknown> = {
    architectures: [CLASSES[config.architecture]],
    model_type: config.architecture,
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
  const scaling = config.ropeScaling;
  if (scaling !== null) {
    json.rope_scaling = scaling.type === 'llama3'
      ? {
        rope_type: 'llama3', factor: scaling.factor, low_freq_factor: scaling.lowFreqFactor, high_freq_factor: scaling.highFreqFactor,
        original_max_position_embeddings: scaling.originalMaxPositions,
      }
      : { rope_type: scaling.type, factor: scaling.factor };
  }
  if (config.architecture !== 'llama') json.use_sliding_window = false;
  if (!qwen) {
    if (config.qkvBias !== config.oBias)
      throw new ArgumentError('config.oBias', `Expected oBias equal to qkvBias for a ${CLASSES[config.architecture]} checkpoint (attention_bias covers both) but received qkvBias ${config.qkvBias}, oBias ${config.oBias}`);
    json.attention_bias = config.qkvBias;
  } else if (!config.qkvBias || config.oBias) {
    throw new ArgumentError('config.qkvBias', 'Expected qkvBias true and oBias false for a Qwen2 checkpoint');
  }
  for (const [key, hf] of [['bosTokenId', 'bos_token_id'], ['eosTokenId', 'eos_token_id'], ['padTokenId', 'pad_token_id']] as const)
    if (config[key] !== undefined) json[hf] = config[key];
  if (config.valueHead) json.steprl = { value_head: true };
  return json;
}
