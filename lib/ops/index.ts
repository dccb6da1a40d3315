// ops/index.ts: the public `ops` namespace, one module per kernel family.
export { tokenLogprobs, tokenLogprobsAsync, tokenLogprobsBackward, tokenLogprobsBackwardAsync } from './token_logprobs';
export type { TokenLogprobsOptions, TokenLogprobsResult, TokenLogprobsBackwardOptions } from './token_logprobs';
export { klPenalty, klPenaltyAsync } from './kl_penalty';
export type { KlPenaltyOptions, KlPenaltyResult } from './kl_penalty';
export { policyLoss, policyLossAsync } from './policy_loss';
export type { PolicyLossInputs, PolicyLossOptions, PolicyLossResult } from './policy_loss';
export { groupAdvantages } from './group_advantage';
export type { GroupAdvantagesOptions } from './group_advantage';
export { weibullReward } from './weibull_reward';
export type { WeibullRewardOptions } from './weibull_reward';
