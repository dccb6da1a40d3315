// ops.h: one registration function per family; addon.cc calls them.
#pragma once

#include <napi.h>

namespace steprl {

void register_system(Napi::Object exports);
void register_token_logprobs(Napi::Object exports);
void register_kl_penalty(Napi::Object exports);
void register_group_advantage(Napi::Object exports);
void register_weibull_reward(Napi::Object exports);
void register_policy_loss(Napi::Object exports);
void register_matmul(Napi::Object exports);
void register_rmsnorm(Napi::Object exports);
void register_rope(Napi::Object exports);
void register_attention(Napi::Object exports);
void register_swiglu(Napi::Object exports);
void register_embedding(Napi::Object exports);
void register_adamw(Napi::Object exports);
void register_sampling(Napi::Object exports);
void register_prl_advantage(Napi::Object exports);
void register_prpo_advantage(Napi::Object exports);
void register_entropy_segments(Napi::Object exports);
void register_process_grpo_advantage(Napi::Object exports);
void register_gae(Napi::Object exports);
void register_prm_score(Napi::Object exports);
void register_reinforce_advantage(Napi::Object exports);
void register_linear_logprobs(Napi::Object exports);
void register_convert(Napi::Object exports);
void register_device(Napi::Object exports);  // CUDA and simulator builds only (STEPRL_WITH_CUDA)

}  // namespace steprl
