// index.ts: the public API of steprl.
export { Tensor, toBFloat16, fromBFloat16 } from './tensor';
export type { DType, Device, TensorOptions, TypedArray } from './tensor';
export * as ops from './ops/index';
export * from './errors';
export {
  backendInfo, setNumThreads, setSimdLevel, probeReadBandwidth, probeFmaPeak, hostMemory, trimHostCache, synchronize, cudaInfo, trimDeviceCache,
} from './runtime';
export type { BackendInfo } from './runtime';
export type { NativeDeviceInfo as CudaInfo } from './native';
export { useBinding } from './binding';

// Models: the pluggable interface, the embedded TinyLM, tokenizers, supervised fine-tuning.
export { TinyLM } from './model/tinylm';
export type { TinyLMConfig, TinyLMConfigInput } from './model/config';
export type { ForwardOptions, Parameter, PolicyModel, Rollouts, SamplingOptions } from './model/policy';
export { ByteTokenizer } from './model/tokenizer';
export type { Tokenizer } from './model/tokenizer';
export { supervisedFineTune } from './model/sft';
export type { SftExample, SftOptions, SftResult } from './model/sft';

// Optimizers: one pipeline, one small file per algorithm.
export { Trainer } from './optim/base';
export type { TrainerOptions } from './optim/base';
export type { Algorithm, Advantages, LossSettings } from './optim/algorithm';
export type { RolloutBatch } from './optim/batch';
export type { StepMetrics } from './optim/metrics';
export { AdamW } from './optim/adamw';
export { grpo } from './optim/grpo';
export { ppo } from './optim/ppo';
export { pspo } from './optim/pspo';
export { prl } from './optim/prl';
export { prpo } from './optim/prpo';
export { processGrpo } from './optim/process_grpo';
export { accuracy, bestOfNAccuracy, sampleResponses } from './optim/evaluate';

// Rewards: step splitters, process reward models, best-of-N selection.
export { fixedLengthSplitter, newlineSplitter, numberedListSplitter, stepsFromEnds } from './reward/splitters';
export type { StepSplit, StepSplitter } from './reward/splitters';
export { RuleBasedPRM } from './reward/prm';
export { LearnedPRM, labelledSolutions } from './reward/learned_prm';
export type { LabelledSolution, LearnedPRMOptions } from './reward/learned_prm';
export type { ProcessRewardModel } from './reward/prm';
export { bestOfN, majorityVote } from './reward/selection';

// Tasks with verifiers.
export { ArithmeticTask, FileTask, SortingTask, createTask } from './tasks/index';
export type { Problem, Task, Verdict } from './tasks/index';
