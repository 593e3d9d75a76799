#include "engine/ref_gemm.h"

#include <algorithm>
#include <vector>

namespace imagen::engine::ref {

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // Pack op(B) row-major [k][n] when transposed so the inner loop is contiguous.
  std::vector<float> packed;
  const float* bb = b;
  int64_t ldbb = ldb;
  if (trans_b) {
    packed.resize(static_cast<size_t>(k * n));
    for (int64_t p = 0; p < k; ++p) {
      for (int64_t j = 0; j < n; ++j) packed[static_cast<size_t>(p * n + j)] = b[j * ldb + p];
    }
    bb = packed.data();
    ldbb = n;
  }
  constexpr int64_t kBlockN = 512;
  constexpr int64_t kBlockK = 256;
#pragma omp parallel for schedule(static) if (m * n * k > (1 << 18))
  for (int64_t i = 0; i < m; ++i) {
    float* crow = c + i * ldc;
    if (beta == 0.f) {
      std::fill(crow, crow + n, 0.f);
    } else if (beta != 1.f) {
      for (int64_t j = 0; j < n; ++j) crow[j] *= beta;
    }
    for (int64_t j0 = 0; j0 < n; j0 += kBlockN) {
      const int64_t j1 = std::min(n, j0 + kBlockN);
      for (int64_t p0 = 0; p0 < k; p0 += kBlockK) {
        const int64_t p1 = std::min(k, p0 + kBlockK);
        for (int64_t p = p0; p < p1; ++p) {
          const float av = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
          if (av == 0.f) continue;
          const float* brow = bb + p * ldbb;
          for (int64_t j = j0; j < j1; ++j) crow[j] += av * brow[j];
        }
      }
    }
  }
}

}  // namespace imagen::engine::ref
