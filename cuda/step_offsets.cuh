// step_offsets.cuh: the ragged step rows of prm_score, weibull_reward and process_grpo_advantage.
// Row i owns steps [offsets[i], offsets[i+1]) of S, offsets int32 [R+1]. The offsets index device
// memory, so a kernel follows a row only when 0 <= offsets[i] <= offsets[i+1] <= S, notes the first
// decreasing pair (as index i + 1) in an ErrorIndex word, and the host reports, in the TypeScript
// layer's words and order (lib/ops/advantage_args.ts): offsets[0] != 0, a decreasing pair,
// offsets[R] != S. Step scores (PRM probabilities) must lie in [0, 1], reported the same way.
#pragma once

#include <string>

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {

__device__ __forceinline__ bool offsets_ok(int64_t begin, int64_t end, int64_t S) { return begin >= 0 && begin <= end && end <= S; }

// Row i's steps [begin, end); false when they must not be read. `note`: this thread reports a
// decreasing pair (one lane is enough when a warp shares the row).
__device__ __forceinline__ bool row_steps(const int32_t* offsets, int64_t i, int64_t S, bool note,
                                          unsigned long long* bad_offset, int64_t& begin, int64_t& end) {
  begin = offsets[i];
  end = offsets[i + 1];
  if (note && end < begin) atomicMin(bad_offset, static_cast<unsigned long long>(i + 1));
  return offsets_ok(begin, end, S);
}

// Notes the first of the K scores at step_scores + begin outside [0, 1] (NaN included).
__device__ __forceinline__ void check_step_scores(const float* step_scores, int64_t begin, int64_t K,
                                                  unsigned long long* bad_score) {
  for (int64_t k = 0; k < K; ++k) {
    const float p = step_scores[begin + k];
    if (!(p >= 0.0f && p <= 1.0f)) atomicMin(bad_score, static_cast<unsigned long long>(begin + k));
  }
}

// One thread per row (rows are a few steps long): for each row whose offsets can be followed,
// checks its K scores and runs body(i, p, K), p = step_scores + offsets[i]. Launch it with
// step_row_blocks(R) blocks of kStepRowThreads.
constexpr int kStepRowThreads = 128;
template <typename Body>
__device__ __forceinline__ void for_each_scored_row(const float* step_scores, const int32_t* offsets, int64_t R, int64_t S,
                                                    unsigned long long* bad_offset, unsigned long long* bad_score, Body body) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < R; i += stride) {
    int64_t begin, end;
    if (!row_steps(offsets, i, S, true, bad_offset, begin, end)) continue;  // reported; nothing read
    check_step_scores(step_scores, begin, end - begin, bad_score);
    body(i, step_scores + begin, end - begin);
  }
}

// ---- host ----------------------------------------------------------------------------------

inline unsigned step_row_blocks(int64_t R) {
  const int64_t blocks = ceil_div(R, kStepRowThreads);
  return static_cast<unsigned>(blocks < 65535 ? blocks : 65535);
}

// Throws the first offsets problem; `items` names what S counts ("step scores", "steps"). Waits
// for the kernels (it reads device memory).
inline void throw_if_bad_offsets(const ErrorIndex& bad_offset, const int32_t* offsets, int64_t R, int64_t S, const char* items) {
  int32_t first = 0, last = 0;
  copy_to_host(&first, offsets, sizeof first);
  copy_to_host(&last, offsets + R, sizeof last);
  if (first != 0)
    throw ArgumentError("stepOffsets", "Expected 0 for stepOffsets[0] but received " + std::to_string(first) + " of type number");
  const uint64_t decrease = bad_offset.read();
  if (decrease != ErrorIndex::kNone) {
    int32_t pair[2];
    copy_to_host(pair, offsets + decrease - 1, sizeof pair);
    throw ArgumentError("stepOffsets", "Expected non-decreasing values for stepOffsets but received " + std::to_string(pair[1]) +
                                           " after " + std::to_string(pair[0]) + " at index " + std::to_string(decrease));
  }
  if (last != S)
    throw ArgumentError("stepOffsets", "Expected " + std::to_string(S) + " (the number of " + items + ") for stepOffsets[" +
                                           std::to_string(R) + "] but received " + std::to_string(last) + " of type number");
}

inline void throw_if_bad_step_scores(const ErrorIndex& bad_score, const float* step_scores) {
  const uint64_t index = bad_score.read();
  if (index == ErrorIndex::kNone) return;
  float value = 0.0f;
  copy_to_host(&value, step_scores + index, sizeof value);
  throw ArgumentError("stepScores", "Expected a number in [0, 1] for every element of stepScores but received " +
                                        js_number(value) + " of type number at index " + std::to_string(index));
}

// The host side of a for_each_scored_row kernel over step scores: queues launch(bad_offset,
// bad_score) when R > 0, then reports offsets before scores, as TypeScript checks them.
template <typename Launch>
void run_scored_rows(const float* step_scores, const int32_t* offsets, int64_t R, int64_t S, Launch launch) {
  const ErrorIndex bad_offset, bad_score;
  if (R > 0) launch(bad_offset.device(), bad_score.device());
  throw_if_bad_offsets(bad_offset, offsets, R, S, "step scores");
  throw_if_bad_step_scores(bad_score, step_scores);
}

}  // namespace steprl::cuda
