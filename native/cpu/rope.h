// rope.h: rotary position embeddings as Hugging Face applies them (modeling_llama
// apply_rotary_pos_emb with rotate_half: element i of a head pairs with element i + D/2):
//   inv_freq_i = 1 / theta^(2i/D)          (fp32, as LlamaRotaryEmbedding computes it)
//   a = fl32(position * inv_freq_i),  c = cos(a), s = sin(a)   (cos/sin of the fp32 angle, rounded once)
//   y_i = x_i c - x_{i+D/2} s,   y_{i+D/2} = x_{i+D/2} c + x_i s          (i < D/2)
// The backward is the rotation by -a (the transpose); it writes dinp (dinp may be dout itself),
// as the forward may write over its input. A caller may supply inv_freq instead (HF's rope_scaling
// variants such as Llama 3's rescale it; or PyTorch's own bits: its CPU pow is 1-ulp, not
// correctly rounded, and large positions amplify a 1-ulp difference of inv_freq).
#pragma once

#include <cstdint>

namespace steprl::cpu {

// x/y are [N, heads*D] rows; positions [N] are >= 0. y may be x (in place). inv_freq [D/2] or
// nullptr (then computed from theta).
void rope_forward_cpu(float* out, const float* inp, const int32_t* positions, int64_t N, int64_t heads, int64_t D,
                      double theta, const float* inv_freq);
void rope_backward_cpu(float* dinp, const float* dout, const int32_t* positions, int64_t N, int64_t heads,
                       int64_t D, double theta, const float* inv_freq);

// The fp32 inverse frequencies HF computes: inv_freq[i] = 1 / fl32(theta^fl32(2i/D)), i < D/2.
void rope_inverse_frequencies(float* inv_freq, int64_t D, double theta);

}  // namespace steprl::cpu
