// addon.cc: registration only, one line per family. The CPU addon and the CUDA addon share it.
#include <napi.h>

#include "ops/ops.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  steprl::register_system(exports);
#if defined(STEPRL_WITH_CUDA)
  steprl::register_device(exports);
#endif
  steprl::register_token_logprobs(exports);
  steprl::register_kl_penalty(exports);
  steprl::register_policy_loss(exports);
  steprl::register_group_advantage(exports);
  steprl::register_weibull_reward(exports);
  steprl::register_matmul(exports);
  steprl::register_rmsnorm(exports);
  steprl::register_rope(exports);
  steprl::register_attention(exports);
  steprl::register_swiglu(exports);
  steprl::register_embedding(exports);
  steprl::register_adamw(exports);
  steprl::register_sampling(exports);
  steprl::register_prl_advantage(exports);
  steprl::register_prpo_advantage(exports);
  steprl::register_entropy_segments(exports);
  steprl::register_process_grpo_advantage(exports);
  steprl::register_gae(exports);
  steprl::register_prm_score(exports);
  steprl::register_reinforce_advantage(exports);
  steprl::register_linear_logprobs(exports);
  steprl::register_convert(exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(steprl, Init)
