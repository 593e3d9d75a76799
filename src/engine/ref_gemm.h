// A plain blocked single-precision GEMM used by the reference Conv, Gemm
// and MatMul: C = alpha * op(A) * op(B) + beta * C, row-major. Thread-safe;
// parallel over rows of C with OpenMP when large.
#pragma once

#include <cstdint>

namespace imagen::engine::ref {

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace imagen::engine::ref
