// ops/index.ts: the public `ops` namespace, one module per kernel family.
export { tokenLogprobs, tokenLogprobsAsync, tokenLogprobsBackward, tokenLogprobsBackwardAsync } from './token_logprobs';
export type { TokenLogprobsOptions, TokenLogprobsResult, TokenLogprobsBackwardOptions } from './token_logprobs';
export { klPenalty, klPenaltyAsync } from './kl_penalty';
export type { KlPenaltyOptions, KlPenaltyResult } from './kl_penalty';
export { policyLoss, policyLossAsync } from './policy_loss';
export type { PolicyLossInputs, PolicyLossOptions, PolicyLossResult } from './policy_loss';
export { groupAdvantages, rlooAdvantages } from './group_advantage';
export type { GroupAdvantagesOptions } from './group_advantage';
export { weibullReward } from './weibull_reward';
export type { WeibullRewardOptions } from './weibull_reward';
export { matmul, matmulBackward } from './matmul';
export type { MatmulTensors, MatmulBackwardTensors } from './matmul';
export { matmulSwiglu } from './matmul_swiglu';
export type { MatmulSwigluTensors } from './matmul_swiglu';
export { rmsnorm, rmsnormBackward } from './rmsnorm';
export type { RmsnormTensors, RmsnormOptions, RmsnormBackwardTensors } from './rmsnorm';
export { rope, ropeBackward } from './rope';
export type { RopeTensors, RopeOptions, RopeBackwardTensors } from './rope';
export { attention, attentionBackward } from './attention';
export type { AttentionTensors, AttentionOptions, AttentionBackwardTensors } from './attention';
export { swiglu, swigluBackward } from './swiglu';
export type { SwigluTensors, SwigluBackwardTensors } from './swiglu';
export { embedding, embeddingBackward } from './embedding';
export type { EmbeddingTensors, EmbeddingBackwardTensors } from './embedding';
export { adamw, gradNorm } from './adamw';
export type { AdamwTensors, AdamwOptions } from './adamw';
export { sample } from './sampling';
export type { SampleOptions } from './sampling';
export { crossEntropy } from './cross_entropy';
export type { CrossEntropyResult } from './cross_entropy';
export { prlAdvantages } from './prl_advantage';
export type { PrlAdvantagesInputs, PrlAdvantagesOptions } from './prl_advantage';
export { prpoAdvantages } from './prpo_advantage';
export type { PrpoAdvantagesInputs, PrpoAdvantagesOptions } from './prpo_advantage';
export { entropySegments } from './entropy_segments';
export type { EntropySegmentsOptions } from './entropy_segments';
export { processGrpoAdvantages } from './process_grpo_advantage';
export type { ProcessGrpoAdvantagesInputs, ProcessGrpoAdvantagesOptions } from './process_grpo_advantage';
export { gae } from './gae';
export type { GaeInputs, GaeOptions, GaeResult } from './gae';
export { reinforceAdvantages } from './reinforce_advantage';
export type { ReinforceAdvantageInputs, ReinforceAdvantageOptions, ReinforceAdvantageResult } from './reinforce_advantage';
export { prmScore } from './prm_score';
export type { PrmScoreOptions } from './prm_score';
export {
  linearTokenLogprobs, linearTokenLogprobsAsync, linearTokenLogprobsBackward, linearTokenLogprobsBackwardAsync,
} from './linear_token_logprobs';
export type {
  LinearTokenLogprobsOptions, LinearTokenLogprobsResult, LinearTokenLogprobsBackwardOptions,
} from './linear_token_logprobs';
export {
  linearPolicyLoss, linearPolicyLossAsync, linearPolicyLossSupports, defaultPolicyLossBlockRows,
} from './linear_policy_loss';
export type { LinearPolicyLossInputs, LinearPolicyLossOptions, LinearPolicyLossResult } from './linear_policy_loss';
export { valueLoss, valueLossAsync } from './value_loss';
export type { ValueLossInputs, ValueLossOptions, ValueLossResult } from './value_loss';
export { cast } from './cast';
export type { CastTensors } from './cast';
