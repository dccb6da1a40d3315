// steprl/attention.h: what the CPU (native/cpu/attention.h) and CUDA (cuda/attention.h) launchers
// of attentionForward/attentionBackward share: the shape and the arguments.
#pragma once

#include <cstdint>

namespace steprl {

struct AttentionShape {
  int64_t B, T, H, KVH, D;
  int64_t S;     // keys in use (kvLength), T <= S <= Smax
  int64_t Smax;  // key rows per batch row in k/v
  float scale;
};

struct AttentionForwardArgs {
  float* out;               // [B,T,H,D]
  float* lse;               // [B,H,T]
  const float* q;           // [B,T,H,D]
  const float* k;           // [B,Smax,KVH,D]
  const float* v;           // [B,Smax,KVH,D]
  const int32_t* kv_start;  // [B] in [0, S] (checked by the caller), or nullptr (all 0)
  AttentionShape shape;
};

struct AttentionBackwardArgs {
  float* dq;                // [B,T,H,D]      +=
  float* dk;                // [B,Smax,KVH,D] +=
  float* dv;                // [B,Smax,KVH,D] +=
  const float* dout;        // [B,T,H,D]
  const float* out;         // [B,T,H,D]
  const float* lse;         // [B,H,T]
  const float* q;           // [B,T,H,D]
  const float* k;           // [B,Smax,KVH,D]
  const float* v;           // [B,Smax,KVH,D]
  const int32_t* kv_start;  // [B] or nullptr
  AttentionShape shape;
};

// bfloat16 inputs (raw bits), float32 outputs: cuda/flash_attention.h. The CPU widens them (exact)
// and runs the float32 kernels.
struct AttentionBf16ForwardArgs {
  float* out;               // [B,T,H,D]
  float* lse;               // [B,H,T]
  const uint16_t* q;        // [B,T,H,D] bf16
  const uint16_t* k;        // [B,Smax,KVH,D] bf16
  const uint16_t* v;        // [B,Smax,KVH,D] bf16
  const int32_t* kv_start;  // [B] or nullptr
  AttentionShape shape;
};

struct AttentionBf16BackwardArgs {
  float* dq;                // [B,T,H,D]      +=
  float* dk;                // [B,Smax,KVH,D] +=
  float* dv;                // [B,Smax,KVH,D] +=
  const uint16_t* dout;     // [B,T,H,D] bf16
  const float* out;         // [B,T,H,D] (the forward's float32 output)
  const float* lse;         // [B,H,T]
  const uint16_t* q;        // [B,T,H,D] bf16
  const uint16_t* k;        // [B,Smax,KVH,D] bf16
  const uint16_t* v;        // [B,Smax,KVH,D] bf16
  const int32_t* kv_start;  // [B] or nullptr
  AttentionShape shape;
};

}  // namespace steprl
