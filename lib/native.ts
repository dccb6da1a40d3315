// native.ts: the whole native surface, typed in one place. Only lib/binding.ts loads an addon;
// everything else talks to it through this interface. Tensor storage crosses as typed arrays
// (cpu) or DeviceBuffer handles (cuda); sizes cross as numbers the addon re-checks.

/** Storage of one tensor as the addon sees it. */
export type NativeStorage = Float32Array | Uint16Array | Int32Array | Uint8Array | NativeDeviceBuffer;

/** Device memory owned by the CUDA addon; freed on dispose() or garbage collection. */
export interface NativeDeviceBuffer {
  readonly bytes: number;
  dispose(): void;
}

export interface NativeInfo {
  backend: 'cpu' | 'cuda' | 'cuda-sim';
  simd: 'scalar' | 'avx2' | 'avx512';
  simdSupported: 'scalar' | 'avx2' | 'avx512';
  threads: number;
  napiVersion: number;
}

export interface NativeLogprobs {
  logprobs: Float32Array;
  logZ: Float32Array;
  entropy?: Float32Array;
}

export type KlEstimatorName = 'k1' | 'k2' | 'k3' | 'k3+' | 'abs';

export interface NativeKl {
  kl: Float32Array;
  dkl: Float32Array;
}

export type LossAggregationName = 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-sum-norm';

export interface NativePolicyLoss {
  loss: number;
  dlogprobs: Float32Array;
  clipFraction: number;
  kl: number;
  approxKl: number;
  pgLoss: number;
  klLoss: number;
}

export interface NativeBinding {
  info(): NativeInfo;
  setNumThreads(threads: number): number;
  setSimdLevel(level: 'scalar' | 'avx2' | 'avx512'): string;
  probeReadBandwidth(bytes: number, repeats: number): number;
  /** Frees an addon-made typed array now (detaching it); false when the addon did not make it. */
  releaseStorage(storage: Float32Array | Uint16Array | Int32Array | Uint8Array): boolean;
  hostMemory(): { liveBytes: number; cachedBytes: number; cacheLimitBytes: number };
  trimHostCache(): void;

  tokenLogprobs(
    logits: NativeStorage, targets: NativeStorage, rows: number, vocab: number,
    temperature: number, entropy: boolean, async: false,
  ): NativeLogprobs;
  tokenLogprobs(
    logits: NativeStorage, targets: NativeStorage, rows: number, vocab: number,
    temperature: number, entropy: boolean, async: true,
  ): Promise<NativeLogprobs>;
  tokenLogprobsBackward(
    logits: NativeStorage, targets: NativeStorage, logZ: NativeStorage, dlogprobs: NativeStorage,
    entropy: NativeStorage | null, dentropy: NativeStorage | null, rows: number, vocab: number,
    temperature: number, out: NativeStorage | null, async: false,
  ): Float32Array;
  tokenLogprobsBackward(
    logits: NativeStorage, targets: NativeStorage, logZ: NativeStorage, dlogprobs: NativeStorage,
    entropy: NativeStorage | null, dentropy: NativeStorage | null, rows: number, vocab: number,
    temperature: number, out: NativeStorage | null, async: true,
  ): Promise<Float32Array>;

  klPenalty(logprobs: NativeStorage, refLogprobs: NativeStorage, elements: number, estimator: KlEstimatorName, async: false): NativeKl;
  klPenalty(logprobs: NativeStorage, refLogprobs: NativeStorage, elements: number, estimator: KlEstimatorName, async: true): Promise<NativeKl>;
  policyLoss(
    logprobs: NativeStorage, oldLogprobs: NativeStorage, refLogprobs: NativeStorage | null, advantages: NativeStorage,
    mask: NativeStorage, rows: number, tokens: number, clipLow: number, clipHigh: number, dualClip: number | null,
    klCoef: number, klEstimator: KlEstimatorName, aggregation: LossAggregationName, tokenCount: number | null,
    rowCount: number | null, maxLength: number | null, lossScale: number, async: false,
  ): NativePolicyLoss;
  policyLoss(
    logprobs: NativeStorage, oldLogprobs: NativeStorage, refLogprobs: NativeStorage | null, advantages: NativeStorage,
    mask: NativeStorage, rows: number, tokens: number, clipLow: number, clipHigh: number, dualClip: number | null,
    klCoef: number, klEstimator: KlEstimatorName, aggregation: LossAggregationName, tokenCount: number | null,
    rowCount: number | null, maxLength: number | null, lossScale: number, async: true,
  ): Promise<NativePolicyLoss>;

  groupAdvantages(
    rewards: NativeStorage, groupIds: NativeStorage, rows: number, scale: 'std' | 'none', eps: number,
    std: 'unbiased' | 'population',
  ): Float32Array;

  weibullReward(
    stepScores: NativeStorage, stepOffsets: NativeStorage, steps: number, rows: number,
    shaping: 'weibull' | 'pspo_ff' | 'linear', aggregate: 'geomean' | 'product' | 'min' | 'last',
    k: number, lambda: number, peak: number, minSteps: number,
  ): Float32Array;
}
