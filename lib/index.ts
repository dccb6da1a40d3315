// index.ts: the public API of steprl.
export { Tensor, toBFloat16, fromBFloat16, keep, memory } from './tensor';
export { scope, untracked, inScope } from './scope';
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
export type { Precision } from './model/tinylm';
export type { TinyLMConfig, TinyLMConfigInput } from './model/config';
export type { ForwardOptions, Parameter, PolicyModel, Rollouts, SamplingOptions } from './model/policy';
export { ByteTokenizer } from './model/tokenizer';
export type { Tokenizer } from './model/tokenizer';
export { HuggingFaceTokenizer, loadTokenizer } from './model/hf_tokenizer';
export type { ChatTemplateOptions, HuggingFaceTokenizerFiles } from './model/hf_tokenizer';
export { loadPretrained, savePretrained } from './model/pretrained';
export type { LoadPretrainedOptions, Pretrained, SavePretrainedOptions } from './model/pretrained';
export type { Architecture, RopeScaling } from './model/config';
export { supervisedFineTune } from './model/sft';
export type { SftExample, SftOptions, SftResult } from './model/sft';

// Optimizers: one pipeline, one small file per algorithm.
export { Trainer } from './optim/base';
export type { TrainerOptions } from './optim/base';
export type { Algorithm, Advantages, LossSettings } from './optim/algorithm';
export type { RolloutBatch } from './optim/batch';
export type { StepMetrics } from './optim/metrics';
export type { DynamicSamplingOptions, DynamicSamplingStats } from './optim/dynamic_sampling';
export { AdamW } from './optim/adamw';
export { grpo } from './optim/grpo';
export { ppo } from './optim/ppo';
export { pspo } from './optim/pspo';
export { prl } from './optim/prl';
export { prpo } from './optim/prpo';
export { processGrpo } from './optim/process_grpo';
export { rloo } from './optim/rloo';
export { reinforcePP } from './optim/reinforce_pp';
export { gspo } from './optim/gspo';
export { cispo } from './optim/cispo';
export { accuracy, bestOfNAccuracy, sampleResponses } from './optim/evaluate';

// Rewards: step splitters, process reward models, best-of-N selection.
export { fixedLengthSplitter, newlineSplitter, numberedListSplitter, stepsFromEnds } from './reward/splitters';
export type { StepSplit, StepSplitter } from './reward/splitters';
export { RuleBasedPRM } from './reward/prm';
export { LearnedPRM, labelledSolutions } from './reward/learned_prm';
export type { LabelledSolution, LearnedPRMOptions } from './reward/learned_prm';
export type { ProcessRewardModel } from './reward/prm';
export { bestOfN, majorityVote } from './reward/selection';

// Text-level training: samples, prompt formats, reward functions, PRM functions.
export { checkSample, loadSamples, promptText, readJsonl, samplesOf, splitOf } from './text/dataset';
export type { LoadedSample, Sample, SampleSource } from './text/dataset';
export { chatPromptFormat, defaultPromptFormat, plainPromptFormat, promptFormatFor } from './text/prompt';
export type { ChatPromptOptions, PlainPromptOptions, PromptFormat } from './text/prompt';
export { combineRewards, textSplitter, toPrm } from './text/reward';
export type { CombineOptions, PrmFunction, RewardFunction, RewardResult, Verifier, WeightedReward } from './text/reward';
export { taskReward, taskSamples } from './text/task';
export type { RolloutSource } from './optim/rollout';
export type { ChatMessage } from './model/tokenizer';

// Remote engines over HTTP: a served PRM, an OpenAI-compatible completions server.
export { CompletionsClient, HttpClient, RemoteError, RemotePRM } from './remote/index';
export type { Completion, CompletionRequest, CompletionsOptions, CustomPrmFormat, HttpOptions, PrmItem, RemotePRMOptions } from './remote/index';

// Tasks with verifiers.
export { ArithmeticTask, FileTask, SortingTask, createTask } from './tasks/index';
export type { Problem, Task, Verdict } from './tasks/index';
