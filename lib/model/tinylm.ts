// tinylm.ts: TinyLM, the embedded PolicyModel: a Llama-family decoder (RMSNorm, RoPE with optional
// rope_scaling, GQA, SwiGLU, optional tied embeddings, optional q/k/v bias as in Qwen2, per-head q/k
// norms as in Qwen3, optional value head) whose layers run on steprl's kernels (transformer.ts).
// Parameters and gradients are two flat buffers (weightBuffer, gradBuffer) carved into per-parameter
// views by one table (params.ts); AdamW keeps its moments per parameter. Checkpoints are Hugging Face
// folders. What the model keeps across calls is made under untracked() (scope.ts). Under
// 'bf16-mixed' (precision.ts) a bfloat16 copy of the weight buffer (weightBufferBf16) is refreshed
// from the fp32 master before the first forward after any change. Beside it: weight_values.ts (the
// parameters it is built from), passes.ts (activations per kind of pass), rope_tables.ts (RoPE
// frequencies), entry_checks.ts (argument checks).
import { ArgumentError, ShapeError } from '../errors';
import * as ops from '../ops/index';
import { checkDevice, Tensor, type Device } from '../tensor';
import { untracked } from '../scope';
import { checkOptionsObject } from '../validate';
import { writeCheckpoint, type SaveOptions } from './checkpoint';
import { resolveConfig, type TinyLMConfig, type TinyLMConfigInput } from './config';
import { checkForwardTokens, checkGenerateArguments, checkGradient, checkValueGradient } from './entry_checks';
import { generateTokens } from './generate';
import { parameterSpecs, type ParamSpec } from './params';
import { Passes, disposeLayout, sequenceLayout, type Pass } from './passes';
import type { ForwardOptions, HiddenStates, Parameter, PolicyModel, Rollouts, SamplingOptions } from './policy';
import { checkPrecision, type Precision } from './precision';
import { RopeTables } from './rope_tables';
import { transformerBackward, transformerForward } from './transformer';
import { checkpointValues, copiedValues, initialValues } from './weight_values';
import { carveWeights, disposeWeights, type Weights } from './weights';

export type { Precision } from './precision';

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
  readonly #rope: RopeTables;
  /** Training and inference passes keep separate activations, so an evaluation between a training forward and its backward is harmless. */
  readonly #passes: Passes;
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
      return {
        weightBuffer, gradBuffer, weights: carveWeights(weightBuffer, specs, config), grads: carveWeights(gradBuffer, specs, config),
        rope: new RopeTables(config, device),
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
    this.#rope = made.rope;
    this.#passes = new Passes(config, device, this.#weightsBf16);
  }

  /** A freshly initialized model (GPT-2 style N(0, 0.02) init), reproducible for a seed. */
  static create(config: TinyLMConfigInput, options: { seed?: number; device?: Device; precision?: Precision } = {}): TinyLM {
    checkOptionsObject('options', options, ['seed', 'device', 'precision']);
    const resolved = resolveConfig(config);
    const device = options.device ?? 'cpu';
    checkDevice('options.device', device);
    const precision = checkPrecision('options.precision', options.precision, device);
    return new TinyLM(resolved, initialValues(resolved, options.seed ?? 0), device, precision);
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
    const { config, values } = checkpointValues(dir, options.valueHead);
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
    // On the cpu the weight buffer is read in place (a copy would be one more model's worth of garbage).
    const mine = this.device === 'cpu' ? (this.weightBuffer._storage() as Float32Array) : this.weightBuffer.toFloat32();
    return new TinyLM(config, copiedValues(config, this.config, this.specs, mine), device, precision);
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
    const t = checkForwardTokens(this.config, this.device, tokens, options);
    const [B, T] = t.shape;
    const pass = this.#passes.get(options.train ? 'train' : 'eval', B, T, withLogits);
    disposeLayout(pass.layout);
    // Tokens on another device are copied once; the layout's reshape keeps the copy alive.
    // The layout lives until the next pass of this kind (backward reads it): the model's, not a scope's.
    pass.layout = untracked(() => {
      const onDevice = t.device === this.device ? t : t.to(this.device);
      try {
        return sequenceLayout(onDevice, options, this.device, (length) => this.#rope.for(length));
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
    const pass = this.#passes.train;
    if (pass === null || pass.layout === null || pass.activations.logits === null)
      throw new ArgumentError('dlogits', 'backward() needs a forward(tokens, { train: true }) first');
    const { B, T } = pass.activations;
    const d = checkGradient('dlogits', dlogits, B * T * this.config.vocabSize, `[${B}, ${T}, ${this.config.vocabSize}]`);
    await this.#backward('dlogits', d, null, dvalues);
  }

  /** The hidden-state path's backward (PolicyModel.backwardHidden): dhidden float32 [B*T, C]. */
  async backwardHidden(dhidden: Tensor, dvalues?: Tensor): Promise<void> {
    const pass = this.#passes.train;
    if (pass === null || pass.layout === null || pass.activations.logits !== null)
      throw new ArgumentError('dhidden', 'backwardHidden() needs a hidden(tokens, { train: true }) first');
    const { B, T } = pass.activations;
    const d = checkGradient('dhidden', dhidden, B * T * this.config.hiddenSize, `[${B * T}, ${this.config.hiddenSize}]`);
    await this.#backward('dhidden', null, d, dvalues);
  }

  async #backward(argument: string, d: Tensor | null, dhidden: Tensor | null, dvalues: Tensor | undefined): Promise<void> {
    const pass = this.#passes.train!;
    if (this.#trainedSinceForward) throw new ArgumentError(argument, 'backward was already run for this forward; run the training forward again');
    checkValueGradient(this.config, dvalues, pass.activations.B, pass.activations.T);
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
    const train = this.#passes.train;
    if (train?.tokens === tokens && !options.train) return train.activations.values!.reshape([B, T]);
    const pass = this.#run(tokens, options, false);  // the value head needs no logits
    return pass.activations.values!.reshape([B, T]);
  }

  async generate(prompts: readonly Int32Array[], options: SamplingOptions): Promise<Rollouts> {
    checkGenerateArguments(this.config, prompts, options);
    this.#freshBf16();
    return generateTokens(
      {
        config: this.config, weights: this.#weights, weightsBf16: this.#weightsBf16, invFreq: (length) => this.#rope.for(length),
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
    this.#passes.release();
  }

  /** Frees the model's buffers; the model cannot be used afterwards. */
  dispose(): void {
    this.releaseActivations();
    disposeWeights(this.#weights);
    disposeWeights(this.#grads);
    this.#rope.dispose();
    this.weightBuffer.dispose();
    this.gradBuffer.dispose();
    if (this.#weightsBf16 !== null) disposeWeights(this.#weightsBf16);
    this.weightBufferBf16?.dispose();
  }
}
