// gemm.hpp: C = alpha * op(A) @ op(B) + beta * C for row-major float32/float64 matrices.
#pragma once
#include <cstdint>

namespace sg {

// gemm: op(A) [m,k] @ op(B) [k,n] -> C [m,n], all row-major; op(X) = X, or X^T when trans_x.
// lda/ldb/ldc are the row strides (elements) of A, B, C as stored. beta == 0 never reads C.
// `threads`: the most threads to use (0: the core's setting, 1: run on the calling thread only).
// Throws std::invalid_argument for negative sizes or leading dimensions too small.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc, int threads = 0);
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc, int threads = 0);

}  // namespace sg
