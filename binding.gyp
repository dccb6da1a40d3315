# binding.gyp: the CPU addon, built by node-gyp (npm install's fallback when no prebuild fits).
# Its "sources" list is the one list of CPU sources: CMakeLists.txt (plus CUDA or the CUDA
# simulator) takes every double-quoted native/*.cc path in this file with a regex (so never quote
# one in a comment here), and the two builds' source lists cannot drift; the defines and compiler
# flags are written in both files and must be changed in both. ISA-specific files carry their own
# target pragmas, so no -march flag is set here: the binary runs on any x86-64 and picks
# AVX2/AVX-512 at run time. (-Wno-maybe-uninitialized: GCC 12 reports its own _mm512_undefined_*
# intrinsics as (maybe-)uninitialized.)
{
  "targets": [
    {
      "target_name": "steprl",
      "sources": [
        "native/addon.cc",
        "native/napi_util.cc",
        "native/tensor.cc",
        "native/host_pool.cc",
        "native/ops/system.cc",
        "native/ops/token_logprobs.cc",
        "native/ops/kl_penalty.cc",
        "native/ops/policy_loss.cc",
        "native/ops/group_advantage.cc",
        "native/ops/weibull_reward.cc",
        "native/ops/matmul.cc",
        "native/ops/linear_logprobs.cc",
        "native/ops/rmsnorm.cc",
        "native/ops/rope.cc",
        "native/ops/attention.cc",
        "native/ops/swiglu.cc",
        "native/ops/embedding.cc",
        "native/ops/adamw.cc",
        "native/ops/sampling.cc",
        "native/ops/prl_advantage.cc",
        "native/ops/prpo_advantage.cc",
        "native/ops/entropy_segments.cc",
        "native/ops/process_grpo_advantage.cc",
        "native/ops/gae.cc",
        "native/ops/reinforce_advantage.cc",
        "native/ops/prm_score.cc",
        "native/ops/convert.cc",
        "native/cpu/parallel.cc",
        "native/cpu/probe.cc",
        "native/cpu/simd.cc",
        "native/cpu/token_logprobs.cc",
        "native/cpu/token_logprobs_avx2.cc",
        "native/cpu/token_logprobs_avx512.cc",
        "native/cpu/kl_penalty.cc",
        "native/cpu/kl_penalty_avx2.cc",
        "native/cpu/kl_penalty_avx512.cc",
        "native/cpu/policy_loss.cc",
        "native/cpu/policy_loss_avx2.cc",
        "native/cpu/policy_loss_avx512.cc",
        "native/cpu/group_advantage.cc",
        "native/cpu/weibull_reward.cc",
        "native/cpu/matmul.cc",
        "native/cpu/matmul_avx2.cc",
        "native/cpu/matmul_avx512.cc",
        "native/cpu/matmul_bias.cc",
        "native/cpu/linear_logprobs.cc",
        "native/cpu/fma_probe.cc",
        "native/cpu/rmsnorm.cc",
        "native/cpu/rmsnorm_avx2.cc",
        "native/cpu/rmsnorm_avx512.cc",
        "native/cpu/rope.cc",
        "native/cpu/attention.cc",
        "native/cpu/attention_avx2.cc",
        "native/cpu/attention_avx512.cc",
        "native/cpu/swiglu.cc",
        "native/cpu/swiglu_avx2.cc",
        "native/cpu/swiglu_avx512.cc",
        "native/cpu/embedding.cc",
        "native/cpu/adamw.cc",
        "native/cpu/sampling.cc",
        "native/cpu/sampling_avx2.cc",
        "native/cpu/sampling_avx512.cc",
        "native/cpu/prl_advantage.cc",
        "native/cpu/prpo_advantage.cc",
        "native/cpu/entropy_segments.cc",
        "native/cpu/process_grpo_advantage.cc",
        "native/cpu/gae.cc",
        "native/cpu/reinforce_advantage.cc",
        "native/cpu/prm_score.cc",
        "native/cpu/convert.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-O2"],
      "cflags": ["-O3", "-fno-math-errno"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-frtti", "-fno-math-errno"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0",
        "OTHER_CFLAGS": ["-O3", "-fno-math-errno"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "RuntimeTypeInfo": "true", "AdditionalOptions": ["/std:c++17", "/O2"] }
      },
      "conditions": [
        ["OS=='linux'", {
          "libraries": ["-lpthread"],
          "cflags_cc": ["-Wno-maybe-uninitialized", "-Wno-uninitialized"]
        }]
      ]
    }
  ]
}
