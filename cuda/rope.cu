// rope.cu: rotary position embeddings, forward and backward (cuda/rope.h; the CPU statement is
// native/cpu/rope.cc). One block per row (grid-stride): its threads first fill a shared table of
// cos a_i and sign * sin a_i for i < D/2 (a_i = fl32(position * inv_freq_i), the fp32 product HF
// forms), then rotate every head of the row with 16-byte loads and stores (x_i and x_{i+D/2}
// four at a time) when the rows are 16-byte aligned and D % 8 == 0, else element by element.
// cos/sin are computed in double and rounded to float once, like the CPU's std::cos(double):
// CUDA's own double sin/cos would do, but their Payne-Hanek slow path puts a 40-byte local array
// on the stack, so the reduction here is written for fp32 angles (24-bit mantissas): a * 2/pi
// from 24-bit chunks of 2/pi (each product exact), integer parts removed exactly, giving the
// quadrant and a remainder accurate to ~2^-52 relative for |a| < 2^31 (positions < 2^31 with
// inv_freq <= 1; larger angles lose accuracy gracefully), then fdlibm's minimax kernels on
// [-pi/4, pi/4] (< 1 ulp). The float results equal the CPU's except when the double lands within
// an ulp or two of a float rounding boundary (rare; then they differ by one float ulp).
// Products are __fmul_rn/__fsub_rn (no FMA contraction), matching the CPU's rounding exactly.
// Bytes (H100): 8 * N * heads * D read + written, plus N * D/2 * ~60 FP64 operations for the table
// (shared by every head of the row): memory-bound for heads >= 2 (a 4096-wide row moves 32 KB for
// 64 double sin/cos); expected ~80% of HBM bandwidth.
// steprl-build: -fmad=false  (nvcc fuses none of the double polynomial steps of the cos/sin table
// into FMAs, so a GPU computes the simulator's bits, which test/ops/rope compares with the CPU's)
#include "rope.h"

#include "common.cuh"
#include "device.h"

namespace steprl::cuda {
namespace {

constexpr int kMaxThreads = 256;

// 2/pi = 0.A2F9836E4E441529FC2757D1F534DD... (hex): fdlibm's two_over_pi table, 24 bits a chunk.
constexpr double kTwoOverPi1 = 0xA2F983 * 0x1p-24;
constexpr double kTwoOverPi2 = 0x6E4E44 * 0x1p-48;
constexpr double kTwoOverPi3 = 0x1529FC * 0x1p-72;
constexpr double kTwoOverPi4 = 0x2757D1 * 0x1p-96;
constexpr double kTwoOverPi5 = 0xF534DD * 0x1p-120;
constexpr double kPiOver2Hi = 1.5707963267948966;     // 0x3FF921FB54442D18
constexpr double kPiOver2Lo = 6.123233995736766e-17;  // pi/2 - kPiOver2Hi

// fdlibm __kernel_sin / __kernel_cos (y = 0) on |x| <= pi/4 (+ a rounding margin).
__device__ __forceinline__ double kernel_sin(double x) {
  const double z = x * x, v = z * x;
  const double r = 8.33333333332248946124e-03 +
                   z * (-1.98412698298579493134e-04 +
                        z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)));
  return x + v * (-1.66666666666666324348e-01 + z * r);
}
__device__ __forceinline__ double kernel_cos(double x) {
  const double z = x * x;
  const double r = z * (4.16666666666666019037e-02 +
                        z * (-1.38888888888741095749e-03 +
                             z * (2.48015872894767294178e-05 +
                                  z * (-2.75573143513906633035e-07 + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))));
  const double ax = fabs(x);
  if (ax < 0.3) return 1.0 - (0.5 * z - z * r);
  // qx = |x|/4 with the low word cleared (0.28125 above 0.78125), so 1 - qx is exact.
  const double qx = ax > 0.78125 ? 0.28125
                                 : __longlong_as_double((__double_as_longlong(ax) - (0x00200000LL << 32)) & ~0xffffffffLL);
  const double hz = 0.5 * z - qx, a = 1.0 - qx;
  return a - (hz - z * r);
}

// cos and sin of an fp32 angle, in double (see the header comment).
__device__ __forceinline__ void sincos_of_float(float angle, double* s, double* c) {
  const double x = fabs(static_cast<double>(angle));
  // x * 2/pi = sum of t_i = x * chunk_i (exact products); each t_i splits exactly into an integer
  // k_i (whose value mod 4 is kept) and a fraction in [-1/2, 1/2].
  double f = 0.0, quarter_turns = 0.0;
  const double parts[3] = {x * kTwoOverPi1, x * kTwoOverPi2, x * kTwoOverPi3};
#pragma unroll
  for (int i = 0; i < 3; ++i) {
    const double k = rint(parts[i]);
    f += parts[i] - k;  // exact differences; the sum exact or within 2^-53 of itself
    quarter_turns += k - 4.0 * floor(k * 0.25);
  }
  const double whole = rint(f);
  f = ((f - whole) + x * kTwoOverPi4) + x * kTwoOverPi5;
  quarter_turns += whole;
  const int quadrant = static_cast<int>(quarter_turns - 4.0 * floor(quarter_turns * 0.25));
  const double r = fma(f, kPiOver2Hi, f * kPiOver2Lo);  // the remainder in radians, |r| <~ pi/4
  const double sr = kernel_sin(r), cr = kernel_cos(r);
  double sv, cv;
  switch (quadrant & 3) {
    case 0: sv = sr, cv = cr; break;
    case 1: sv = cr, cv = -sr; break;
    case 2: sv = -sr, cv = -cr; break;
    default: sv = -cr, cv = sr; break;
  }
  *s = angle < 0.0f ? -sv : sv;
  *c = cv;
}

template <bool kVec>
__global__ void __launch_bounds__(kMaxThreads)
rope_kernel(float* out, const float* inp,                      // [N, heads*D] each; out may be inp
            const int32_t* positions, const float* inv_freq,   // [N], [D/2]
            int64_t N, int64_t heads, int64_t D, float sign) {
  STEPRL_DYNAMIC_SHARED(float, table);  // [D]: cos[D/2], sign * sin[D/2]
  const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
  const int64_t half = D / 2, width = heads * D;
  for (int64_t row = blockIdx.x; row < N; row += gridDim.x) {
    const float position = static_cast<float>(__ldg(positions + row));
    for (int64_t i = tid; i < half; i += threads) {
      double s, c;
      sincos_of_float(__fmul_rn(position, __ldg(inv_freq + i)), &s, &c);
      table[i] = static_cast<float>(c);
      table[half + i] = sign * static_cast<float>(s);
    }
    __syncthreads();
    const float* x = inp + row * width;
    float* y = out + row * width;
    if constexpr (kVec) {
      const int64_t quads = half / 4;
      for (int64_t j = tid; j < heads * quads; j += threads) {
        const int64_t h = j / quads, i = (j - h * quads) * 4;
        const float* xh = x + h * D;
        float* yh = y + h * D;
        STEPRL_CHECK_ALIGNED_16(xh + i);
        STEPRL_CHECK_ALIGNED_16(xh + half + i);
        // Both halves are read before either is written: y may be x.
        const float4 a = *reinterpret_cast<const float4*>(xh + i), b = *reinterpret_cast<const float4*>(xh + half + i);
        const float4 c = *reinterpret_cast<const float4*>(table + i), s = *reinterpret_cast<const float4*>(table + half + i);
        store_float4(yh + i, make_float4(__fsub_rn(__fmul_rn(a.x, c.x), __fmul_rn(b.x, s.x)),
                                         __fsub_rn(__fmul_rn(a.y, c.y), __fmul_rn(b.y, s.y)),
                                         __fsub_rn(__fmul_rn(a.z, c.z), __fmul_rn(b.z, s.z)),
                                         __fsub_rn(__fmul_rn(a.w, c.w), __fmul_rn(b.w, s.w))));
        store_float4(yh + half + i, make_float4(__fadd_rn(__fmul_rn(b.x, c.x), __fmul_rn(a.x, s.x)),
                                                __fadd_rn(__fmul_rn(b.y, c.y), __fmul_rn(a.y, s.y)),
                                                __fadd_rn(__fmul_rn(b.z, c.z), __fmul_rn(a.z, s.z)),
                                                __fadd_rn(__fmul_rn(b.w, c.w), __fmul_rn(a.w, s.w))));
      }
    } else {
      for (int64_t j = tid; j < heads * half; j += threads) {
        const int64_t h = j / half, i = j - h * half;
        const float a = x[h * D + i], b = x[h * D + half + i], c = table[i], s = table[half + i];
        y[h * D + i] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
        y[h * D + half + i] = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
      }
    }
    __syncthreads();  // the table is rewritten for the next row
  }
}

bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace

void rope_cuda(const RopeArgs& a) {
  if (a.N <= 0 || a.heads <= 0 || a.D <= 0) return;
  if (a.D > kRopeMaxHeadDim)
    throw ArgumentError("headDim", "Expected headDim <= " + std::to_string(kRopeMaxHeadDim) + " on cuda but received " +
                                       std::to_string(a.D));
  const unsigned grid = static_cast<unsigned>(a.N < (int64_t{1} << 30) ? a.N : (int64_t{1} << 30));
  const size_t shared = static_cast<size_t>(a.D) * sizeof(float);
  const float sign = a.backward ? -1.0f : 1.0f;
  const bool vec = a.D % 8 == 0 && aligned16(a.out) && aligned16(a.inp);
  const int threads = threads_for(a.heads * a.D / (vec ? 8 : 2), 4, kMaxThreads);  // units of 8 or 2 floats, <= 4 a thread
  if (vec) {
    STEPRL_LAUNCH((rope_kernel<true>), grid, threads, shared, stream(), a.out, a.inp, a.positions,
                  a.inv_freq, a.N, a.heads, a.D, sign);
  } else {
    STEPRL_LAUNCH((rope_kernel<false>), grid, threads, shared, stream(), a.out, a.inp, a.positions,
                  a.inv_freq, a.N, a.heads, a.D, sign);
  }
}

}  // namespace steprl::cuda
