// timer.cu: the two things the harness needs from the CUDA runtime itself: CUDA-event timing on
// cuda::stream() and the device's facts and peaks. Built by nvcc (CHECK_GPU=CUDA) or as C++
// against cuda/sim (CHECK_GPU=SIM: events exist there, but times are the simulator's, and peaks
// are left unknown).
#include <algorithm>
#include <cmath>

#include "check.h"
#include "common.cuh"
#include "device.h"

namespace steprl::check {

double time_ms(const std::function<void()>& fn, double target_ms) {
  cudaEvent_t start, stop;
  STEPRL_CUDA_CHECK(cudaEventCreate(&start));
  STEPRL_CUDA_CHECK(cudaEventCreate(&stop));
  fn();  // warm-up (first-touch of caches, lazy module loading)
  cuda::synchronize();
  // One call sizes the loop.
  STEPRL_CUDA_CHECK(cudaEventRecord(start, cuda::stream()));
  fn();
  STEPRL_CUDA_CHECK(cudaEventRecord(stop, cuda::stream()));
  STEPRL_CUDA_CHECK(cudaEventSynchronize(stop));
  float one = 0;
  STEPRL_CUDA_CHECK(cudaEventElapsedTime(&one, start, stop));
  const int repeats = std::max(3, std::min(200, static_cast<int>(target_ms / std::max(one, 1e-3f))));
  STEPRL_CUDA_CHECK(cudaEventRecord(start, cuda::stream()));
  for (int i = 0; i < repeats; ++i) fn();
  STEPRL_CUDA_CHECK(cudaEventRecord(stop, cuda::stream()));
  STEPRL_CUDA_CHECK(cudaEventSynchronize(stop));
  float total = 0;
  STEPRL_CUDA_CHECK(cudaEventElapsedTime(&total, start, stop));
  STEPRL_CUDA_CHECK(cudaEventDestroy(start));
  STEPRL_CUDA_CHECK(cudaEventDestroy(stop));
  return static_cast<double>(total) / repeats;
}

DeviceFacts device_facts() {
  DeviceFacts f;
  cudaDeviceProp p{};
  STEPRL_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
  f.name = p.name;
  f.major = p.major;
  f.minor = p.minor;
  f.sms = p.multiProcessorCount;
  f.bus_bits = p.memoryBusWidth;
#if defined(STEPRL_CUDA_SIM)
  f.simulated = true;  // no timing model: no peaks
#else
  // Clocks in kHz (cudaDeviceProp's clock fields are gone in CUDA 13; the attributes remain).
  int clock_khz = 0, mem_khz = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0) == cudaSuccess && clock_khz > 0)
    f.clock_ghz = clock_khz * 1e-6;
  if (cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0) == cudaSuccess && mem_khz > 0)
    f.mem_clock_ghz = mem_khz * 1e-6;
  (void)cudaGetLastError();
  // FP32 lanes per SM and dense bf16 tensor-core FLOPs per SM per clock (fp32 accumulation), from
  // NVIDIA's architecture whitepapers: sm_80 (A100) 64 lanes, 2048 bf16 FLOP/clk; sm_86/sm_89
  // (GA10x/AD10x) 128 lanes, 512 (GeForce rate with fp32 accumulation); sm_90 (H100/H200) 128
  // lanes, 4096; sm_100+ assumed like sm_90 (a lower bound).
  int lanes = 64, tc_flops = 0;
  const int cc = f.major * 10 + f.minor;
  if (cc == 80) { lanes = 64; tc_flops = 2048; }
  else if (cc == 86 || cc == 87 || cc == 89) { lanes = 128; tc_flops = 512; }
  else if (cc >= 90) { lanes = 128; tc_flops = 4096; }
  if (std::isfinite(f.clock_ghz)) {
    f.fp32_tflops = f.sms * lanes * 2.0 * f.clock_ghz * 1e-3;
    if (tc_flops > 0) f.bf16_tflops = f.sms * double(tc_flops) * f.clock_ghz * 1e-3;
  }
  // DDR: two transfers per memory clock.
  if (std::isfinite(f.mem_clock_ghz) && f.bus_bits > 0) f.hbm_gbps = 2.0 * f.mem_clock_ghz * f.bus_bits / 8.0;
#endif
  return f;
}

}  // namespace steprl::check
