// gemm_kernels_non_x86.cpp: plain-C++ stand-ins for the AVX2/AVX-512 routines on non-x86 CPUs.
// Built instead of gemm_kernel_avx2.cpp / gemm_kernel_avx512.cpp where those cannot compile
// (aarch64, Apple silicon). cpu_features.cpp never selects them there (no AVX flags), but they
// honour the same contract and tiles (gemm_kernels.hpp), so the kernel table stays complete and
// correct.
#include <cstdint>

#include "gemm_kernels.hpp"

namespace sg::gemm_detail {

namespace {
// tile_of: A [MR,k] @ B [k,NR] -> C [MR,NR] (row stride ldc), A(p, i) and B(p, j) read through
// a_at / b_at; beta == 0 never reads C.
template <typename T, int MR, int NR, typename AAt, typename BAt>
void tile_of(std::int64_t k, AAt a_at, BAt b_at, T alpha, T beta, T* c, std::int64_t ldc) {
    T acc[MR][NR] = {};
    for (std::int64_t p = 0; p < k; ++p)
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) acc[i][j] += a_at(p, i) * b_at(p, j);
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j)
            c[i * ldc + j] =
                beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[i * ldc + j];
}
// tile: packed A [MR,k] @ packed B [k,NR].
template <typename T, int MR, int NR>
void tile(std::int64_t k, const T* a, const T* b, T alpha, T beta, T* c, std::int64_t ldc) {
    tile_of<T, MR, NR>(
        k, [a](std::int64_t p, int i) { return a[p * MR + i]; },
        [b](std::int64_t p, int j) { return b[p * NR + j]; }, alpha, beta, c, ldc);
}
}  // namespace

void pack_rows_avx512_f32(const float* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                          int width, float* dst) {
    const std::int64_t padded = (count + width - 1) / width * width;
    for (std::int64_t q = 0; q < padded; ++q)
        for (std::int64_t p = 0; p < kc; ++p)
            dst[(q / width * kc + p) * width + q % width] = q < count ? src[q * ld + p] : 0.0f;
}
void pack_cols_avx512_f32(const float* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                          int width, float* dst) {
    const std::int64_t padded = (count + width - 1) / width * width;
    for (std::int64_t p = 0; p < kc; ++p)
        for (std::int64_t q = 0; q < padded; ++q)
            dst[(q / width * kc + p) * width + q % width] = q < count ? src[p * ld + q] : 0.0f;
}
void im2col_pieces_avx512_f32(const float* x, std::int64_t height, std::int64_t width,
                              std::int64_t stride_h, const Im2colRow* rows, std::int64_t row_count,
                              std::int64_t row_stride, const Im2colPiece* pieces,
                              std::int64_t piece_count, float pad, float* dst) {
    for (std::int64_t i = 0; i < row_count; ++i)
        for (std::int64_t k = 0; k < piece_count; ++k) {
            const Im2colPiece& p = pieces[k];
            const Im2colRow& r = rows[i];
            const std::int64_t iy = p.oy * stride_h + r.iy_offset;
            for (std::int64_t c = p.ox; c < p.end; ++c)
                dst[p.out + i * row_stride + c - p.ox] =
                    iy >= 0 && iy < height && c >= r.ox_lo && c < r.ox_hi
                        ? x[p.image_offset + r.channel + iy * width + r.ix_offset + c]
                        : pad;
        }
}
void kernel_in_place_avx512_f32(std::int64_t k, const float* a, const float* b,
                                const std::int64_t* offsets, float beta, float* c,
                                std::int64_t ldc) {
    constexpr int MR = kAvx512F32.mr, NR = kAvx512F32.nr;
    tile_of<float, MR, NR>(
        k, [a](std::int64_t p, int i) { return a[p * MR + i]; },
        [b, offsets](std::int64_t p, int j) { return b[offsets[p] + j]; }, 1.0f, beta, c, ldc);
}
void kernel_in_place_a_avx512_f32(std::int64_t k, const float* a, const std::int64_t* offsets,
                                  const float* b, float beta, float* c, std::int64_t ldc) {
    constexpr int MR = kAvx512F32.mr, NR = kAvx512F32.nr;
    tile_of<float, MR, NR>(
        k, [a, offsets](std::int64_t p, int i) { return a[offsets[i] + p]; },
        [b](std::int64_t p, int j) { return b[p * NR + j]; }, 1.0f, beta, c, ldc);
}
void kernel_avx2_f32(std::int64_t k, const float* a, const float* b, float alpha, float beta,
                     float* c, std::int64_t ldc) {
    tile<float, kAvx2F32.mr, kAvx2F32.nr>(k, a, b, alpha, beta, c, ldc);
}
void kernel_avx2_f64(std::int64_t k, const double* a, const double* b, double alpha, double beta,
                     double* c, std::int64_t ldc) {
    tile<double, kAvx2F64.mr, kAvx2F64.nr>(k, a, b, alpha, beta, c, ldc);
}
void kernel_avx512_f32(std::int64_t k, const float* a, const float* b, float alpha, float beta,
                       float* c, std::int64_t ldc) {
    tile<float, kAvx512F32.mr, kAvx512F32.nr>(k, a, b, alpha, beta, c, ldc);
}
void kernel_avx512_f64(std::int64_t k, const double* a, const double* b, double alpha, double beta,
                       double* c, std::int64_t ldc) {
    tile<double, kAvx512F64.mr, kAvx512F64.nr>(k, a, b, alpha, beta, c, ldc);
}
void winograd_input_avx512_f32(const float* const rows[4], std::int64_t width, std::int64_t first,
                               std::int64_t count, float pad, float* v, std::int64_t plane) {
    winograd_input_portable_f32(rows, width, first, count, pad, v, plane);
}
float winograd_output_avx512_f32(const float* m, std::int64_t plane, std::int64_t count,
                                 float bias, float* const out[2], std::int64_t cols) {
    return winograd_output_portable_f32(m, plane, count, bias, out, cols);
}
void winograd_gradient_avx512_f32(const float* const g[2], std::int64_t cols, std::int64_t count,
                                  float* d, std::int64_t plane) {
    winograd_gradient_portable_f32(g, cols, count, d, plane);
}

}  // namespace sg::gemm_detail
