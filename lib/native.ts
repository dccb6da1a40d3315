// native.ts: the whole native surface, typed in one place. Only lib/binding.ts loads an addon;
// everything else talks to it through this interface. Tensor storage crosses as typed arrays
// (cpu) or DeviceBuffer handles (cuda); sizes cross as numbers the addon re-checks.

/** What an op run with async = A returns for a result T: T itself, or a promise of it. */
export type NativeResult<A extends boolean, T> = A extends true ? Promise<T> : T;

/** Storage of one tensor as the addon sees it. */
export type NativeStorage = Float32Array | Uint16Array | Int32Array | Uint8Array | NativeDeviceBuffer;

/**
 * Device memory owned by the CUDA (or simulator) addon: a block of its caching allocator, or a
 * window into one (view). dispose() or garbage collection returns it to the cache once no op in
 * flight and no view uses it. The addon accepts it wherever a typed array of the same dtype and
 * length is accepted, and then runs the op's CUDA kernels.
 */
export interface NativeDeviceBuffer {
  readonly bytes: number;
  readonly dtype: 'float32' | 'bfloat16' | 'int32' | 'uint8';
  readonly numel: number;
  readonly disposed: boolean;
  dispose(): void;
  /** Elements [offset, offset + numel) of this buffer, sharing its memory. */
  view(offset: number, numel: number): NativeDeviceBuffer;
  /** Sets every element (converted to the dtype; bfloat16 rounds to nearest even). */
  fill(value: number): void;
  /** Copies a buffer of the same dtype and length into this one (on the stream). */
  copyFrom(source: NativeDeviceBuffer): void;
}

/** An op's float32 output: a typed array on the cpu, a DeviceBuffer when its inputs were on cuda. */
export type NativeFloat32 = Float32Array | NativeDeviceBuffer;

export interface NativeDeviceInfo {
  /** cudaGetDeviceCount (0 without a driver or GPU; `error` then says why). */
  deviceCount: number;
  error?: string;
  /** true for the cuda-sim backend (the SIMT simulator). */
  simulated: boolean;
  name: string;
  computeCapability: string;
  multiprocessors: number;
  totalMemory: number;
  freeMemory: number;
  runtimeVersion: number;
  driverVersion: number;
  /** The caching allocator: bytes in live buffers (of which scratchBytes not tensors: ops' scratch in flight), bytes kept for reuse, cudaMalloc calls, reuses. */
  allocator: { liveBytes: number; scratchBytes: number; cachedBytes: number; deviceAllocations: number; cacheHits: number };
}

/** The instruction-set levels of the CPU kernels (native/cpu/simd.cc), lowest first. */
export const SIMD_LEVEL_NAMES = ['scalar', 'avx2', 'avx512'] as const;
export type SimdLevelName = (typeof SIMD_LEVEL_NAMES)[number];

export interface NativeInfo {
  backend: 'cpu' | 'cuda' | 'cuda-sim';
  simd: SimdLevelName;
  simdSupported: SimdLevelName;
  threads: number;
  napiVersion: number;
}

export interface NativeLogprobs {
  logprobs: NativeFloat32;
  logZ: NativeFloat32;
  entropy?: NativeFloat32;
}


// The option names the addon maps onto its enums (native/cpu/*_from_name and the glue). These
// lists are the one TypeScript definition of each: the ops validate against them, the option types
// derive from them, and test/ops/enum_names.test.ts checks that the addon accepts exactly these
// names. The order is the order error messages list them in.
export const KL_ESTIMATOR_NAMES = ['k1', 'k2', 'k3', 'k3+', 'abs'] as const;
export type KlEstimatorName = (typeof KL_ESTIMATOR_NAMES)[number];
export const LOSS_AGGREGATION_NAMES = ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum', 'seq-mean-token-sum-norm'] as const;
export type LossAggregationName = (typeof LOSS_AGGREGATION_NAMES)[number];
/** policyLoss's surrogate: PPO clip, GSPO (sequence ratio), GSPO-token, CISPO (clipped IS weight). */
export const POLICY_LOSS_MODE_NAMES = ['clip', 'gspo', 'gspo-token', 'cispo'] as const;
export type PolicyLossModeName = (typeof POLICY_LOSS_MODE_NAMES)[number];
/** How a row's step scores become one (prmScore, weibullReward). */
export const STEP_AGGREGATE_NAMES = ['product', 'min', 'geomean', 'last'] as const;
export type StepAggregateName = (typeof STEP_AGGREGATE_NAMES)[number];
export const REWARD_SHAPING_NAMES = ['weibull', 'pspo_ff', 'linear'] as const;
export type RewardShapingName = (typeof REWARD_SHAPING_NAMES)[number];
/** groupAdvantages' scale as users give it; the addon also takes 'rloo' (rlooAdvantages). */
export const GROUP_SCALE_NAMES = ['std', 'none'] as const;
export type GroupScaleName = (typeof GROUP_SCALE_NAMES)[number];
export const GROUP_STD_NAMES = ['unbiased', 'population'] as const;
export type GroupStdName = (typeof GROUP_STD_NAMES)[number];
export const PRL_MODE_NAMES = ['step', 'token'] as const;
export type PrlModeName = (typeof PRL_MODE_NAMES)[number];
export const PRL_SUFFIX_START_NAMES = ['inclusive', 'next_step'] as const;
export type PrlSuffixStartName = (typeof PRL_SUFFIX_START_NAMES)[number];
export const PRPO_PRIOR_NAMES = ['fixed', 'empirical'] as const;
export type PrpoPriorName = (typeof PRPO_PRIOR_NAMES)[number];

export interface NativeKl {
  kl: NativeFloat32;
  dkl: NativeFloat32;
}


export interface NativePolicyLoss {
  loss: number;
  dlogprobs: NativeFloat32;
  clipFraction: number;
  kl: number;
  approxKl: number;
  pgLoss: number;
  klLoss: number;
}

export interface NativeLinearPolicyLoss {
  loss: number;
  pgLoss: number;
  klLoss: number;
  clipFraction: number;
  kl: number;
  approxKl: number;
  logprobs: NativeFloat32;
  logZ: NativeFloat32;
  dlogprobs: NativeFloat32;
  dhidden: NativeFloat32;
}

export interface NativeBinding {
  info(): NativeInfo;
  setNumThreads(threads: number): number;
  setSimdLevel(level: SimdLevelName): string;
  probeReadBandwidth(bytes: number, repeats: number): number;
  /** GFLOP/s of fp32 FMAs on every pool thread at the active SIMD level (best of repeats). */
  probeFmaPeak(milliseconds: number, repeats: number): number;
  /** Frees an addon-made typed array now (detaching it); false when the addon did not make it. */
  releaseStorage(storage: Float32Array | Uint16Array | Int32Array | Uint8Array): boolean;
  hostMemory(): { liveBytes: number; scratchBytes: number; cachedBytes: number; cacheLimitBytes: number };
  trimHostCache(): void;
  /** A zero-filled typed array in the addon's host memory (releaseStorage frees it); absent in older builds. */
  hostZeros?(dtype: 'float32' | 'bfloat16' | 'int32' | 'uint8', numel: number): Float32Array | Uint16Array | Int32Array | Uint8Array;

  // CUDA and simulator backends only (undefined on the cpu backend).
  /** Host -> device copy into a new buffer of the array's dtype. */
  toDevice?(data: Float32Array | Uint16Array | Int32Array | Uint8Array): NativeDeviceBuffer;
  /** Device -> host copy into a new typed array; waits for queued work. */
  toHost?(buffer: NativeDeviceBuffer): Float32Array | Uint16Array | Int32Array | Uint8Array;
  /** Waits for every kernel and copy queued on the stream. */
  synchronize?(): void;
  deviceInfo?(): NativeDeviceInfo;
  /** Returns the allocator's cached blocks to CUDA. */
  trimDeviceCache?(): void;

  tokenLogprobs<A extends boolean>(
    logits: NativeStorage, targets: NativeStorage, rows: number, vocab: number,
    temperature: number, entropy: boolean, async: A,
  ): NativeResult<A, NativeLogprobs>;
  tokenLogprobsBackward<A extends boolean>(
    logits: NativeStorage, targets: NativeStorage, logZ: NativeStorage, dlogprobs: NativeStorage,
    entropy: NativeStorage | null, dentropy: NativeStorage | null, rows: number, vocab: number,
    temperature: number, out: NativeStorage | null, async: A,
  ): NativeResult<A, NativeFloat32>;

  klPenalty<A extends boolean>(
    logprobs: NativeStorage, refLogprobs: NativeStorage, elements: number, estimator: KlEstimatorName, async: A,
  ): NativeResult<A, NativeKl>;
  policyLoss<A extends boolean>(
    logprobs: NativeStorage, oldLogprobs: NativeStorage, refLogprobs: NativeStorage | null, advantages: NativeStorage,
    mask: NativeStorage, rows: number, tokens: number, clipLow: number, clipHigh: number, dualClip: number | null,
    klCoef: number, klEstimator: KlEstimatorName, aggregation: LossAggregationName, tokenCount: number | null,
    rowCount: number | null, maxLength: number | null, lossScale: number, mode: PolicyLossModeName, async: A,
  ): NativeResult<A, NativePolicyLoss>;

  groupAdvantages(
    rewards: NativeStorage, groupIds: NativeStorage, rows: number, scale: GroupScaleName | 'rloo', eps: number,
    std: GroupStdName,
  ): NativeFloat32;

  weibullReward(
    stepScores: NativeStorage, stepOffsets: NativeStorage, steps: number, rows: number,
    shaping: RewardShapingName, aggregate: StepAggregateName,
    k: number, lambda: number, peak: number, minSteps: number,
  ): NativeFloat32;

  // Advantage and reward ops (ALGORITHMS.md §1.6, §1.8, §2, §4.3, §5.2, §5.4); masks are float32 or uint8.
  prlAdvantages(
    outcomeAdvantages: NativeStorage, oldLogprobs: NativeStorage, refLogprobs: NativeStorage, mask: NativeStorage,
    stepEnds: NativeStorage | null, rows: number, tokens: number, eta: number, mode: PrlModeName,
    suffixStart: PrlSuffixStartName,
  ): NativeFloat32;
  prpoAdvantages(
    tokenScores: NativeStorage, rewards: NativeStorage, groupIds: NativeStorage, mask: NativeStorage, rows: number,
    tokens: number, prior: PrpoPriorName, mu0: number, sigma0: number, eps: number, compat: boolean,
  ): NativeFloat32;
  /** int32 segment ids (Int32Array on the cpu). */
  entropySegments(
    entropy: NativeStorage, mask: NativeStorage, rows: number, tokens: number, maxBranches: number, minGap: number,
    compat: boolean,
  ): Int32Array | NativeDeviceBuffer;
  processGrpoAdvantages(
    stepRewards: NativeStorage, stepEnds: NativeStorage, stepOffsets: NativeStorage, groupIds: NativeStorage,
    mask: NativeStorage, steps: number, rows: number, tokens: number, eps: number,
  ): NativeFloat32;
  gae(
    rewards: NativeStorage, values: NativeStorage, mask: NativeStorage, rows: number, tokens: number, gamma: number,
    lambda: number, whiten: boolean,
  ): { advantages: NativeFloat32; returns: NativeFloat32 };
  prmScore(
    stepScores: NativeStorage, stepOffsets: NativeStorage, steps: number, rows: number,
    aggregate: StepAggregateName,
  ): NativeFloat32;
  reinforceAdvantages(
    rewards: NativeStorage, groupIds: NativeStorage | null, oldLogprobs: NativeStorage | null, refLogprobs: NativeStorage | null,
    mask: NativeStorage, rows: number, tokens: number, klCoef: number, gamma: number, normalize: boolean,
  ): { advantages: NativeFloat32; returns: NativeFloat32 };

  // Model kernels (cpu). Outputs are caller-allocated; backward gradients accumulate unless noted.
  matmul(out: NativeStorage, inp: NativeStorage, weight: NativeStorage, bias: NativeStorage | null,
    residual: NativeStorage | null, N: number, C: number, OC: number): void;
  matmulBackward(dinp: NativeStorage | null, dweight: NativeStorage | null, dbias: NativeStorage | null,
    dout: NativeStorage, inp: NativeStorage, weight: NativeStorage, N: number, C: number, OC: number): void;
  rmsnorm(out: NativeStorage, rstd: NativeStorage, inp: NativeStorage, weight: NativeStorage, N: number, C: number, eps: number): void;
  rmsnormBackward(dinp: NativeStorage, dweight: NativeStorage, dout: NativeStorage, inp: NativeStorage, weight: NativeStorage,
    rstd: NativeStorage, N: number, C: number): void;
  /** ropeBackward writes dinp. */
  rope(out: NativeStorage, inp: NativeStorage, positions: NativeStorage, N: number, heads: number, D: number, theta: number,
    invFreq: NativeStorage | null): void;
  ropeBackward(dinp: NativeStorage, dout: NativeStorage, positions: NativeStorage, N: number, heads: number, D: number,
    theta: number, invFreq: NativeStorage | null): void;
  attention(out: NativeStorage, lse: NativeStorage, q: NativeStorage, k: NativeStorage, v: NativeStorage,
    kvStart: NativeStorage | null, B: number, T: number, H: number, KVH: number, D: number, S: number, Smax: number,
    scale: number): void;
  attentionBackward(dq: NativeStorage, dk: NativeStorage, dv: NativeStorage, dout: NativeStorage, out: NativeStorage,
    lse: NativeStorage, q: NativeStorage, k: NativeStorage, v: NativeStorage, kvStart: NativeStorage | null, B: number,
    T: number, H: number, KVH: number, D: number, S: number, Smax: number, scale: number): void;
  /** swigluBackward writes dinp. */
  swiglu(out: NativeStorage, inp: NativeStorage, N: number, F: number): void;
  swigluBackward(dinp: NativeStorage, dout: NativeStorage, inp: NativeStorage, N: number, F: number): void;
  embedding(out: NativeStorage, tokens: NativeStorage, table: NativeStorage, N: number, C: number, V: number): void;
  embeddingBackward(dtable: NativeStorage, dout: NativeStorage, tokens: NativeStorage, N: number, C: number, V: number): void;
  adamw(params: NativeStorage, grads: NativeStorage, m: NativeStorage, v: NativeStorage, n: number, lr: number, beta1: number,
    beta2: number, eps: number, weightDecay: number, step: number, gradScale: number): void;
  gradNorm(grads: NativeStorage, n: number): number;
  sample(logits: NativeStorage, B: number, V: number, temperature: number, topK: number, topP: number, seed: number,
    counter: number): Int32Array;

  // Fused output projection + token log-probs (cpu and cuda); rows null: token i reads row i.
  linearTokenLogprobs<A extends boolean>(
    hidden: NativeStorage, weight: NativeStorage, targets: NativeStorage, rows: NativeStorage | null, M: number, N: number,
    C: number, V: number, chunk: number, temperature: number, entropy: boolean, async: A,
  ): NativeResult<A, NativeLogprobs>;
  /** Returns dhidden (the given one, accumulated into, or a new one); dweight is accumulated into. */
  linearTokenLogprobsBackward<A extends boolean>(
    hidden: NativeStorage, weight: NativeStorage, targets: NativeStorage, rows: NativeStorage | null, logZ: NativeStorage,
    dlogprobs: NativeStorage, entropy: NativeStorage | null, dentropy: NativeStorage | null, dhidden: NativeStorage | null,
    dweight: NativeStorage | null, M: number, N: number, C: number, V: number, chunk: number, temperature: number, async: A,
  ): NativeResult<A, NativeFloat32>;
  /** One-pass lm_head + policy loss (cpu only); dhidden as the backward's, dweight accumulated into. */
  linearPolicyLoss<A extends boolean>(
    hidden: NativeStorage, weight: NativeStorage, targets: NativeStorage, rows: NativeStorage | null, oldLogprobs: NativeStorage,
    refLogprobs: NativeStorage | null, advantages: NativeStorage, mask: NativeStorage, dhidden: NativeStorage | null,
    dweight: NativeStorage | null, M: number, N: number, C: number, V: number, chunk: number, temperature: number, R: number,
    T: number, clipLow: number, clipHigh: number, dualClip: number | null, klCoef: number, klEstimator: KlEstimatorName,
    aggregation: LossAggregationName, tokenCount: number | null, rowCount: number | null, maxLength: number | null,
    lossScale: number, mode: PolicyLossModeName, blockRows: number, async: A,
  ): NativeResult<A, NativeLinearPolicyLoss>;
  // Checkpoint float conversions (host typed arrays only); out and inp hold exactly n elements.
  /** bfloat16 or float16 bits -> float32, exact. */
  widenToFloat32(out: Float32Array, inp: Uint16Array, n: number, format: 'bfloat16' | 'float16'): void;
  /** float32 -> bfloat16 bits, round to nearest even (NaN stays NaN). */
  narrowToBFloat16(out: Uint16Array, inp: Float32Array, n: number): void;
  /**
   * Reads n elements stored at byte `position` of the open file `fd` into `out` as float32
   * (positioned reads over the thread pool); returns the elements read (< n: the file ended).
   * POSIX builds only (undefined on Windows).
   */
  readAsFloat32?(fd: number, position: number, out: Float32Array, n: number, format: 'float32' | 'bfloat16' | 'float16'): number;
}
