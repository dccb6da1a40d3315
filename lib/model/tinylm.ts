// tinylm.ts: TinyLM, the embedded PolicyModel: a Llama-family decoder (RMSNorm, RoPE with optional
// rope_scaling, GQA, SwiGLU, optional tied embeddings, optional q/k/v bias as in Qwen2, per-head q/k
// norms as in Qwen3, optional value head) whose layers run on steprl's kernels. Parameters and
// gradients are two flat buffers (weightBuffer, gradBuffer) carved into per-parameter views by one
// table (params.ts); AdamW (optim/adamw.ts) keeps its moments per parameter, one tensor each.
// Checkpoints are Hugging Face folders. What the model keeps across calls (buffers, activation
// caches, parameter views) is made under untracked() (scope.ts), so no caller's scope frees it.
// Precision (the `precision` option): 'fp32' everywhere, or on cuda 'bf16-mixed': the float32
// buffers stay the master weights and gradients (AdamW's moments are float32 too), a bfloat16 copy
// of the whole weight buffer (weightBufferBf16, the same layout) is refreshed from them before the
// first forward after any change (AdamW.step calls each Parameter's onUpdate; loadWeightsFrom and
// markWeightsChanged() do the same), and every GEMM of a training or evaluation forward and backward
// reads bf16 operands with fp32 accumulation (transformer.ts). No loss scaling: see README
// "Mixed precision" (bf16 keeps fp32's 8-bit exponent, so gradients neither underflow nor overflow
// sooner than in fp32). generate() decodes with the same split (generate.ts): bf16 GEMM operands
// from the same weight copy, a bfloat16 KV cache into bf16 FlashAttention, float32 logits.
import { ArgumentError, FormatError, ShapeError } from '../errors';
import * as ops from '../ops/index';
import { checkDevice, Tensor, type Device } from '../tensor';
import { untracked } from '../scope';
import { checkOptionsObject, checkTensor } from '../validate';
import { allocateActivations, type Activations } from './activations';
import { fillWeights, planWeights, readConfig, writeCheckpoint, type SaveOptions } from './checkpoint';
import { contextLength, resolveConfig, ropeInverseFrequencies, type TinyLMConfig, type TinyLMConfigInput } from './config';
import { generateTokens } from './generate';
import { initializeParameters, parameterSpecs, type ParamSpec } from './params';
import type { ForwardOptions, HiddenStates, Parameter, PolicyModel, Rollouts, SamplingOptions } from './policy';
import { allocateMixedPass, transformerBackward, transformerForward, type MixedPass, type SequenceLayout } from './transformer';
import { carveWeights, disposeWeights, type Weights } from './weights';

interface Pass {
  activations: Activations;
  /** The pass's bf16 GEMM operands under 'bf16-mixed'; null in fp32. */
  mixed: MixedPass | null;
  layout: SequenceLayout | null;
  tokens: Tensor | null;
}

/**
 * How a TinyLM computes. 'fp32': float32 throughout. 'bf16-mixed' (device 'cuda' only): bf16
 * weights and activations into every matmul (tensor-core GEMMs, fp32 accumulation; the lm_head
 * too, through linearTokenLogprobs on the hidden-state path) and bf16 q/k/v into attention
 * (FlashAttention-2 on tensor cores, fp32 softmax statistics), float32 for everything else: the
 * master weights AdamW updates, gradients, AdamW moments, the residual stream, RMSNorm, RoPE,
 * softmax and log-probs. No loss scaling is needed or done (bf16 has fp32's exponent range).
 * Costs 2 bytes per parameter for the bf16 weight copy and 2 bytes per token per layer per GEMM
 * or attention input (C + C + H·D + F, plus (H + 2·KVH)·D) for the bf16 activations. generate()
 * decodes the same way and keeps its KV cache in bfloat16: half the fp32 cache's bytes. Default 'fp32'.
 */
export type Precision = 'fp32' | 'bf16-mixed';
const PRECISIONS: readonly Precision[] = ['fp32', 'bf16-mixed'];

/** The precision option, checked against the device: 'bf16-mixed' needs cuda (the cpu keeps fp32). */
function checkPrecision(argument: string, value: unknown, device: Device): Precision {
  if (value === undefined) return 'fp32';
  if (!PRECISIONS.includes(value as Precision)) throw ArgumentError.expected(argument, `one of ${PRECISIONS.map((p) => `'${p}'`).join(', ')}`, value);
  if (value === 'bf16-mixed' && device !== 'cuda')
    throw new ArgumentError(argument, `Expected 'fp32' for ${argument} on device '${device}' ('bf16-mixed' runs on 'cuda' only: the cpu GEMMs would widen bf16 back to fp32, so it saves nothing there) but received 'bf16-mixed'`);
  return value as Precision;
}

/** Frees a layout's tensors (tokens is a reshape: the caller's own tensor stays alive). */
function disposeLayout(layout: SequenceLayout | null): void {
  layout?.tokens.dispose();
  layout?.positions.dispose();
  layout?.kvStart.dispose();
}

export class TinyLM implements PolicyModel {
  readonly config: TinyLMConfig;
  readonly device: Device;
  readonly specs: readonly ParamSpec[];
  /** float32 [P]: every parameter, laid out by `specs`. */
  readonly weightBuffer: Tensor;
  /** float32 [P]: gradients, same layout. */
  readonly gradBuffer: Tensor;
  readonly precision: Precision;
  /** bfloat16 [P] under 'bf16-mixed': the copy of weightBuffer the GEMMs read (refreshed lazily); null in fp32. */
  readonly weightBufferBf16: Tensor | null;
  readonly #weights: Weights;
  readonly #weightsBf16: Weights | null;
  /** weightBuffer changed since weightBufferBf16 was last refreshed. */
  #bf16Stale = true;
  readonly #grads: Weights;
  /** float32 [D/2] RoPE inverse frequencies under rope_scaling; null for plain RoPE (and dynamic scaling). */
  readonly #invFreq: Tensor | null;
  /** Dynamic scaling's frequencies per sequence length beyond maxPositions (D/2 floats each). */
  readonly #dynamicInvFreq = new Map<number, Tensor>();
  /** Training and inference passes keep separate activations, so an evaluation between a training forward and its backward is harmless. */
  #train: Pass | null = null;
  #eval: Pass | null = null;
  #trainedSinceForward = false;

  private constructor(config: TinyLMConfig, values: Float32Array, device: Device, precision: Precision = 'fp32') {
    this.config = config;
    this.device = device;
    this.precision = precision;
    const { specs, total } = parameterSpecs(config);
    if (values.length !== total) throw new Error(`steprl: parameter buffer of ${values.length} for ${total} parameters`);
    this.specs = specs;
    const made = untracked(() => {
      const weightBuffer = Tensor.from(values, [total], { device }), gradBuffer = Tensor.zeros([total], { device });
      const invFreq = ropeInverseFrequencies(config);
      return {
        weightBuffer, gradBuffer, weights: carveWeights(weightBuffer, specs, config), grads: carveWeights(gradBuffer, specs, config),
        invFreq: invFreq === null ? null : Tensor.from(invFreq, [invFreq.length], { device }),
      };
    });
    const bf16 = precision === 'bf16-mixed' ? untracked(() => {
      const buffer = Tensor.zeros([total], { device, dtype: 'bfloat16' });
      return { buffer, weights: carveWeights(buffer, specs, config) };
    }) : null;
    this.weightBufferBf16 = bf16?.buffer ?? null;
    this.#weightsBf16 = bf16?.weights ?? null;
    this.weightBuffer = made.weightBuffer;
    this.gradBuffer = made.gradBuffer;
    this.#weights = made.weights;
    this.#grads = made.grads;
    this.#invFreq = made.invFreq;
  }

  /** A freshly initialized model (GPT-2 style N(0, 0.02) init), reproducible for a seed. */
  static create(config: TinyLMConfigInput, options: { seed?: number; device?: Device; precision?: Precision } = {}): TinyLM {
    checkOptionsObject('options', options, ['seed', 'device', 'precision']);
    const resolved = resolveConfig(config);
    const device = options.device ?? 'cpu';
    checkDevice('options.device', device);
    const precision = checkPrecision('options.precision', options.precision, device);
    const { specs, total } = parameterSpecs(resolved);
    const values = new Float32Array(total);
    initializeParameters(values, specs, resolved.numLayers, options.seed ?? 0);
    return new TinyLM(resolved, values, device, precision);
  }

  /**
   * Loads a Hugging Face-layout folder (config.json + model.safetensors, or an index + shards) of a
   * Llama, Qwen2 or Qwen3 model. The config and every file header are checked before the weights
   * are allocated; a failed load throws a FormatError and leaves nothing behind.
   */
  static load(dir: string, options: { device?: Device; valueHead?: boolean; precision?: Precision } = {}): TinyLM {
    checkOptionsObject('options', options, ['device', 'valueHead', 'precision']);
    const device = options.device ?? 'cpu';
    checkDevice('options.device', device);
    const precision = checkPrecision('options.precision', options.precision, device);
    const stored = readConfig(dir);
    const config = options.valueHead === undefined ? stored : { ...stored, valueHead: options.valueHead };
    const { specs, total } = parameterSpecs(config);
    // A new value head on a checkpoint without one: read the rest, initialize the head.
    const newHead = config.valueHead && !stored.valueHead;
    const plan = planWeights(dir, newHead ? specs.filter((s) => !s.name.startsWith('v_head.')) : specs);
    let values: Float32Array;
    try {
      values = new Float32Array(total);
    } catch (error) {
      throw new FormatError(plan.folder, `cannot allocate the ${total} float32 parameters the config implies (${(error as Error).message})`);
    }
    fillWeights(plan, values);
    if (newHead) initializeParameters(values, specs.filter((s) => s.name.startsWith('v_head.')), config.numLayers, 1);
    return new TinyLM(config, values, device, precision);
  }

  /**
   * Writes the model as a Hugging Face folder, atomically (a crash leaves the previous one),
   * streaming each tensor; `maxShardSize` (bytes, default 5e9) splits it into shards + index.
   */
  save(dir: string, options: SaveOptions = {}): void {
    checkOptionsObject('options', options, ['dtype', 'maxShardSize', 'extraFiles']);
    // On the cpu the weight buffer itself is written (no copy); device weights come to the host first.
    const values = this.device === 'cpu' ? (this.weightBuffer._storage() as Float32Array) : this.weightBuffer.toFloat32();
    writeCheckpoint(dir, this.config, this.specs, values, options);
  }

  /**
   * A frozen copy (e.g. the reference model of a KL penalty). `precision` defaults to this model's
   * where the copy's device allows it (a cuda 'bf16-mixed' model cloned to the cpu is 'fp32').
   */
  clone(options: { device?: Device; valueHead?: boolean; precision?: Precision } = {}): TinyLM {
    const device = options.device ?? this.device;
    const precision = options.precision !== undefined ? checkPrecision('options.precision', options.precision, device)
      : device === 'cuda' ? this.precision : 'fp32';
    const config = { ...this.config, valueHead: options.valueHead ?? this.config.valueHead };
    const { specs, total } = parameterSpecs(config);
    const values = new Float32Array(total);
    // On the cpu the weight buffer is read in place (a copy would be one more model's worth of garbage).
    const mine = this.device === 'cpu' ? (this.weightBuffer._storage() as Float32Array) : this.weightBuffer.toFloat32();
    for (const spec of specs) {
      const source = this.specs.find((s) => s.name === spec.name);
      if (source) values.set(mine.subarray(source.offset, source.offset + source.numel), spec.offset);
    }
    if (config.valueHead && !this.config.valueHead) initializeParameters(values, specs.filter((s) => s.name.startsWith('v_head.')), config.numLayers, 1);
    return new TinyLM(config, values, device, precision);
  }

  /** Copies another TinyLM's weights (same architecture) into this one. */
  loadWeightsFrom(other: TinyLM): void {
    if (other.weightBuffer.numel !== this.weightBuffer.numel) throw new ShapeError('other', 'Expected a model of the same architecture');
    this.#bf16Stale = true;
    if (other.weightBuffer.device === this.device) {
      this.weightBuffer.copyFrom(other.weightBuffer);
    } else {
      const moved = other.weightBuffer.to(this.device);
      this.weightBuffer.copyFrom(moved);
      moved.dispose();
    }
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get numParameters(): number {
    return this.specs.reduce((n, s) => n + s.numel, 0);
  }

  parameters(): Parameter[] {
    const onUpdate = () => this.markWeightsChanged();
    return untracked(() => this.specs.map((spec) => ({
      name: spec.name,
      value: this.weightBuffer.view(spec.offset, spec.shape),
      grad: this.gradBuffer.view(spec.offset, spec.shape),
      onUpdate,
    })));
  }

  /**
   * Tells the model its weights were written other than through an optimizer that calls
   * Parameter.onUpdate (e.g. weightBuffer.copyFrom): under 'bf16-mixed' the bf16 copy is then
   * refreshed before the next forward. A no-op in fp32.
   */
  markWeightsChanged(): void {
    this.#bf16Stale = true;
  }

  /** The bf16 weight copy, refreshed if the master weights changed since (one cast over the whole buffer). */
  #freshBf16(): void {
    if (this.weightBufferBf16 === null || !this.#bf16Stale) return;
    ops.cast({ out: this.weightBufferBf16, inp: this.weightBuffer });
    this.#bf16Stale = false;
  }

  zeroGrad(): void {
    this.gradBuffer.fill(0);
  }

  #layout(tokens: Tensor, options: ForwardOptions): SequenceLayout {
    const [B, T] = tokens.shape;
    const start = options.attentionStart ?? new Int32Array(B);
    if (start.length !== B) throw new ShapeError('options.attentionStart', `Expected ${B} row starts but received ${start.length}`);
    const positions = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      if (!Number.isInteger(start[b]) || start[b] < 0 || start[b] >= Math.max(T, 1))
        throw ArgumentError.expected(`options.attentionStart[${b}]`, `an integer in [0, ${T})`, start[b]);
      for (let t = 0; t < T; t++) positions[b * T + t] = Math.max(0, t - start[b]);
    }
    return {
      tokens: tokens.reshape([B * T]),
      positions: Tensor.from(positions, [B * T], { device: this.device }),
      kvStart: Tensor.from(Int32Array.from(start), [B], { device: this.device }),
      invFreq: this.#invFreqFor(T - Math.min(...start)),
    };
  }

  /** The frequencies for a pass whose positions reach sequenceLength - 1. */
  #invFreqFor(sequenceLength: number): Tensor | null {
    if (this.config.ropeScaling?.type !== 'dynamic' || sequenceLength <= this.config.maxPositions) return this.#invFreq;
    let table = this.#dynamicInvFreq.get(sequenceLength);
    if (table === undefined) {
      const values = ropeInverseFrequencies(this.config, sequenceLength)!;
      table = untracked(() => Tensor.from(values, [values.length], { device: this.device }));
      this.#dynamicInvFreq.set(sequenceLength, table);
    }
    return table;
  }

  /** The activations of a pass of this shape; `withLogits` false leaves out the [B, T, V] logits. */
  #pass(which: 'train' | 'eval', B: number, T: number, withLogits: boolean): Pass {
    let pass = which === 'train' ? this.#train : this.#eval;
    if (pass === null || pass.activations.B !== B || pass.activations.T !== T || (pass.activations.logits !== null) !== withLogits) {
      pass?.activations.dispose();
      pass?.mixed?.dispose();
      disposeLayout(pass?.layout ?? null);  // the replaced pass's layout goes with it
      // An inference pass keeps one layer's buffers (nothing is kept for a backward).
      pass = untracked(() => ({
        activations: allocateActivations(this.config, B, T, this.device, withLogits, which === 'eval', this.#weightsBf16 !== null),
        mixed: this.#weightsBf16 === null ? null : allocateMixedPass(this.config, this.#weightsBf16, B, T, this.device),
        layout: null, tokens: null,
      }));
      if (which === 'train') this.#train = pass;
      else this.#eval = pass;
    }
    return pass;
  }

  /**
   * logits float32 [B, T, V] for tokens int32 [B, T]. The returned tensor is a view of the model's
   * activation memory: valid until the next forward of the same kind (train or not).
   */
  async forward(tokens: Tensor, options: ForwardOptions = {}): Promise<Tensor> {
    return this.#run(tokens, options, true).activations.logits!;
  }

  /**
   * The hidden-state path (PolicyModel.hidden): the forward pass up to the final norm, without the
   * logits (the pass's activations hold no [B, T, V] buffer). `hidden` is a view of the model's
   * activation memory, valid until the next forward of the same kind; lmHead and lmHeadGrad are the
   * parameter and its gradient buffer (the embedding's when tied).
   */
  async hidden(tokens: Tensor, options: ForwardOptions = {}): Promise<HiddenStates> {
    const pass = this.#run(tokens, options, false);
    // Under 'bf16-mixed' the lm_head GEMM (linearTokenLogprobs) reads the bf16 hidden states and weight copy.
    if (pass.mixed !== null) return { hidden: pass.mixed.hf, lmHead: pass.mixed.w.lmHead, lmHeadGrad: this.#grads.lmHead };
    return { hidden: pass.activations.hf, lmHead: this.#weights.lmHead, lmHeadGrad: this.#grads.lmHead };
  }

  #run(tokens: Tensor, options: ForwardOptions, withLogits: boolean): Pass {
    checkOptionsObject('options', options, ['train', 'attentionStart']);
    const t = checkTensor('tokens', tokens, ['int32']);
    if (t.shape.length !== 2) throw new ShapeError('tokens', `Expected tokens of shape [B, T] but received [${t.shape.join(', ')}]`);
    if (t.device !== this.device) t._storage('tokens');
    const [B, T] = t.shape;
    if (T > contextLength(this.config))
      throw new ShapeError('tokens', `Expected at most ${contextLength(this.config)} tokens per row (maxPositions${this.config.ropeScaling?.type === 'dynamic' ? ' · the dynamic rope factor' : ''}) but received ${T}`);
    const pass = this.#pass(options.train ? 'train' : 'eval', B, T, withLogits);
    disposeLayout(pass.layout);
    // Tokens on another device are copied once; the layout's reshape keeps the copy alive.
    // The layout lives until the next pass of this kind (backward reads it): the model's, not a scope's.
    pass.layout = untracked(() => {
      const onDevice = t.device === this.device ? t : t.to(this.device);
      try {
        return this.#layout(onDevice, options);
      } finally {
        if (onDevice !== t) onDevice.dispose();
      }
    });
    pass.tokens = t;
    this.#freshBf16();
    transformerForward(this.config, this.#weights, pass.activations, pass.layout, pass.mixed ?? undefined);
    if (options.train) this.#trainedSinceForward = false;
    return pass;
  }

  async backward(dlogits: Tensor, dvalues?: Tensor): Promise<void> {
    const pass = this.#train;
    if (pass === null || pass.layout === null || pass.activations.logits === null)
      throw new ArgumentError('dlogits', 'backward() needs a forward(tokens, { train: true }) first');
    const { B, T } = pass.activations;
    const d = checkTensor('dlogits', dlogits, ['float32']);
    if (d.numel !== B * T * this.config.vocabSize)
      throw new ShapeError('dlogits', `Expected dlogits of shape [${B}, ${T}, ${this.config.vocabSize}] but received [${d.shape.join(', ')}]`);
    await this.#backward('dlogits', d, null, dvalues);
  }

  /** The hidden-state path's backward (PolicyModel.backwardHidden): dhidden float32 [B*T, C]. */
  async backwardHidden(dhidden: Tensor, dvalues?: Tensor): Promise<void> {
    const pass = this.#train;
    if (pass === null || pass.layout === null || pass.activations.logits !== null)
      throw new ArgumentError('dhidden', 'backwardHidden() needs a hidden(tokens, { train: true }) first');
    const { B, T } = pass.activations;
    const d = checkTensor('dhidden', dhidden, ['float32']);
    if (d.numel !== B * T * this.config.hiddenSize)
      throw new ShapeError('dhidden', `Expected dhidden of shape [${B * T}, ${this.config.hiddenSize}] but received [${d.shape.join(', ')}]`);
    await this.#backward('dhidden', null, d, dvalues);
  }

  async #backward(argument: string, d: Tensor | null, dhidden: Tensor | null, dvalues: Tensor | undefined): Promise<void> {
    const pass = this.#train!;
    if (this.#trainedSinceForward) throw new ArgumentError(argument, 'backward was already run for this forward; run the training forward again');
    const { B, T } = pass.activations;
    if (dvalues !== undefined) {
      if (!this.config.valueHead) throw new ArgumentError('dvalues', 'this model has no value head (create it with valueHead: true)');
      checkTensor('dvalues', dvalues, ['float32']);
      if (dvalues.numel !== B * T) throw new ShapeError('dvalues', `Expected dvalues of shape [${B}, ${T}] but received [${dvalues.shape.join(', ')}]`);
    }
    // Gradients from another device (e.g. computed on the host) are copied for the pass, then freed.
    const given = d ?? dhidden!;
    const dOn = given.device === this.device ? given : given.to(this.device);
    const vOn = dvalues === undefined || dvalues.device === this.device ? dvalues : dvalues.to(this.device);
    try {
      transformerBackward(this.config, this.#weights, this.#grads, pass.activations, pass.layout!, d === null ? null : dOn, vOn,
        d === null ? dOn : undefined, pass.mixed ?? undefined);
    } finally {
      if (dOn !== given) dOn.dispose();
      if (vOn !== dvalues) vOn?.dispose();
    }
    this.#trainedSinceForward = true;
  }

  /** Value-head estimates float32 [B, T]: those of the last training forward when `tokens` is its input. */
  async values(tokens: Tensor, options: ForwardOptions = {}): Promise<Tensor> {
    if (!this.config.valueHead) throw new ArgumentError('values', 'this model has no value head (create it with valueHead: true)');
    const [B, T] = tokens.shape;
    if (this.#train?.tokens === tokens && !options.train) return this.#train.activations.values!.reshape([B, T]);
    const pass = this.#run(tokens, options, false);  // the value head needs no logits
    return pass.activations.values!.reshape([B, T]);
  }

  async generate(prompts: readonly Int32Array[], options: SamplingOptions): Promise<Rollouts> {
    if (!Array.isArray(prompts) || prompts.length === 0) throw ArgumentError.expected('prompts', 'a non-empty array of Int32Array token ids', prompts);
    for (let i = 0; i < prompts.length; i++) {
      const p = prompts[i];
      if (Object.prototype.toString.call(p) !== '[object Int32Array]' || p.length === 0)
        throw ArgumentError.expected(`prompts[${i}]`, 'a non-empty Int32Array of token ids', p);
      for (const id of p) if (id < 0 || id >= this.config.vocabSize) throw ArgumentError.expected(`prompts[${i}]`, `token ids in [0, ${this.config.vocabSize})`, id);
    }
    checkOptionsObject('options', options, ['maxNewTokens', 'temperature', 'topP', 'topK', 'stopTokens', 'seed']);
    const longest = Math.max(...prompts.map((p) => p.length));
    const context = contextLength(this.config);
    if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1 || longest + options.maxNewTokens > context)
      throw ArgumentError.expected('options.maxNewTokens', `an integer in [1, ${context - longest}] (the context length minus the longest prompt)`, options.maxNewTokens);
    this.#freshBf16();
    return generateTokens(
      {
        config: this.config, weights: this.#weights, weightsBf16: this.#weightsBf16, invFreq: (length) => this.#invFreqFor(length),
        device: this.device, padToken: this.config.padTokenId ?? this.config.eosTokenId ?? 0,
      },
      prompts, options,
    );
  }

  /**
   * Frees the activations kept between passes (PolicyModel.releaseActivations): the next forward
   * allocates them again; a backward needs a new training forward first.
   */
  releaseActivations(): void {
    for (const pass of [this.#train, this.#eval]) disposeLayout(pass?.layout ?? null);
    this.#train?.activations.dispose();
    this.#eval?.activations.dispose();
    this.#train?.mixed?.dispose();
    this.#eval?.mixed?.dispose();
    this.#train = this.#eval = null;
  }

  /** Frees the model's buffers; the model cannot be used afterwards. */
  dispose(): void {
    this.releaseActivations();
    disposeWeights(this.#weights);
    disposeWeights(this.#grads);
    this.#invFreq?.dispose();
    for (const table of this.#dynamicInvFreq.values()) table.dispose();
    this.#dynamicInvFreq.clear();
    this.weightBuffer.dispose();
    this.gradBuffer.dispose();
    if (this.#weightsBf16 !== null) disposeWeights(this.#weightsBf16);
    this.weightBufferBf16?.dispose();
  }
}
