// gemm_kernel_generic.cpp: the portable GEMM micro-kernels (plain C++, any x86-64 or other CPU).
#include <cstdint>

#include "gemm_kernels.hpp"

namespace sg::gemm_detail {

namespace {
// generic tile: packed A [MR,k] @ packed B [k,NR] -> C [MR,NR] (row stride ldc), see the contract.
template <typename T, int MR, int NR>
void kernel_generic(std::int64_t k, const T* a, const T* b, T alpha, T beta, T* c,
                    std::int64_t ldc) {
    T acc[MR][NR] = {};
    for (std::int64_t p = 0; p < k; ++p) {
        const T* ap = a + p * MR;
        const T* bp = b + p * NR;
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
    }
    for (int i = 0; i < MR; ++i) {
        T* row = c + i * ldc;
        if (beta == T(0)) {
            for (int j = 0; j < NR; ++j) row[j] = alpha * acc[i][j];
        } else {
            for (int j = 0; j < NR; ++j) row[j] = alpha * acc[i][j] + beta * row[j];
        }
    }
}
}  // namespace

void kernel_generic_f32(std::int64_t k, const float* a, const float* b, float alpha, float beta,
                        float* c, std::int64_t ldc) {
    kernel_generic<float, kGenericF32.mr, kGenericF32.nr>(k, a, b, alpha, beta, c, ldc);
}

void kernel_generic_f64(std::int64_t k, const double* a, const double* b, double alpha,
                        double beta, double* c, std::int64_t ldc) {
    kernel_generic<double, kGenericF64.mr, kGenericF64.nr>(k, a, b, alpha, beta, c, ldc);
}

}  // namespace sg::gemm_detail
