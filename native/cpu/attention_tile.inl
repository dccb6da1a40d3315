// attention_tile.inl: the one micro-kernel behind all six products of the blocked attention
// (attention_simd.inl): C[r, :] (+)= sum_k A(r, k) B[k, :] over a kTileRows x kTileVectors tile of
// accumulators, A read through (row, k) strides (so transposed operands need no packing), B rows
// contiguous, the last vector of a row masked; and the driver that cuts a product into tiles,
// skipping per row group the k range and leading columns the causal mask empties.
// Included by attention_simd.inl inside its namespace (no std templates here).

constexpr int kTileRows = 6;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

using Mask = Vec::Mask;
using TileFn = void (*)(int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb,
                        float* c, int64_t ldc, Mask last, bool accumulate);

// c[r*ldc + j] (+)= sum_k a[r*a_rs + k*a_ks] * b[k*ldb + j],  r < R, j < 16*(NV-1) + |last|.
template <int R, int NV>
void tile(int64_t kdim, const float* a, int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb, float* c,
          int64_t ldc, Mask last, bool accumulate) {
  using F = typename Vec::F;
  constexpr int W = Vec::kWidth;
  F acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = Vec::zero();
  for (int64_t k = 0; k < kdim; ++k) {
    F bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV - 1; ++v) bv[v] = Vec::load(b + v * W);
    bv[NV - 1] = Vec::load_tail(b + (NV - 1) * W, last);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const F av = Vec::set1(a[r * a_rs]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = Vec::fmadd(av, bv[v], acc[r][v]);
    }
    a += a_ks;
    b += ldb;
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* row = c + r * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV - 1; ++v)
      Vec::store(row + v * W, accumulate ? Vec::add(Vec::load(row + v * W), acc[r][v]) : acc[r][v]);
    float* tail = row + (NV - 1) * W;
    Vec::store(tail, last, accumulate ? Vec::add(Vec::load_tail(tail, last), acc[r][NV - 1]) : acc[r][NV - 1]);
  }
}

template <int R>
TileFn tile_for(int nv) {
  if constexpr (Vec::kTileVectors >= 4) if (nv == 4) return tile<R, 4>;
  if constexpr (Vec::kTileVectors >= 3) if (nv == 3) return tile<R, 3>;
  if (nv == 2) return tile<R, 2>;
  return tile<R, 1>;
}

TileFn tile_for(int rows, int nv) {
  switch (rows) {
    case 1: return tile_for<1>(nv);
    case 2: return tile_for<2>(nv);
    case 3: return tile_for<3>(nv);
    case 4: return tile_for<4>(nv);
    case 5: return tile_for<5>(nv);
    default: return tile_for<6>(nv);
  }
}

// C[r, j] (+)= sum_{k0 <= k < k1} A(r, k) B[k, j] for r < rows and j in [j0, n), where
// range(r0, r1, k0, k1, j0) states the k range and first column of rows [r0, r1) (j0 is rounded
// down to a vector; columns before it are not written).
template <typename Range>
void gemm(int64_t rows, int64_t n, const float* a, int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb, float* c,
          int64_t ldc, bool accumulate, Range range) {
  constexpr int64_t W = Vec::kWidth, chunk = Vec::kTileVectors * Vec::kWidth;
  for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
    const int R = static_cast<int>(imin(kTileRows, rows - r0));
    int64_t k0 = 0, k1 = 0, j0 = 0;
    range(r0, r0 + R, k0, k1, j0);
    if (k1 <= k0) {
      if (accumulate) continue;
      k1 = k0;
    }
    for (int64_t c0 = j0 / W * W; c0 < n; c0 += chunk) {
      const int64_t cols = imin(chunk, n - c0);
      const int nv = static_cast<int>((cols + W - 1) / W);
      tile_for(R, nv)(k1 - k0, a + r0 * a_rs + k0 * a_ks, a_rs, a_ks, b + k0 * ldb + c0, ldb, c + r0 * ldc + c0, ldc,
                      Vec::tail(cols - (nv - 1) * W), accumulate);
    }
  }
}
