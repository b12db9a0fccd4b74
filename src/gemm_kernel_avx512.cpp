// gemm_kernel_avx512.cpp: AVX-512 routines: GEMM micro-kernels, float32 packing, im2col gather.
#include <immintrin.h>

#include <cstdint>

#include "gemm_kernels.hpp"

namespace sg::gemm_detail {

namespace {

struct Zmm32 {
    using T = float;
    using V = __m512;
    static constexpr int lanes = 16;
    static V zero() { return _mm512_setzero_ps(); }
    static V load(const float* p) { return _mm512_load_ps(p); }
    static V loadu(const float* p) { return _mm512_loadu_ps(p); }
    static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
    static V set1(float x) { return _mm512_set1_ps(x); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
};

struct Zmm64 {
    using T = double;
    using V = __m512d;
    static constexpr int lanes = 8;
    static V zero() { return _mm512_setzero_pd(); }
    static V load(const double* p) { return _mm512_load_pd(p); }
    static V loadu(const double* p) { return _mm512_loadu_pd(p); }
    static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
    static V set1(double x) { return _mm512_set1_pd(x); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
    static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
};

// avx512 tile: packed A [MR,k] @ B [k, NV vectors] -> C [MR, NV vectors] (row stride ldc). B row p
// is the packed micro-panel's b + p * NR (aligned) or, with kInPlace, b + offsets[p] (unaligned:
// conv2d's shifted image rows, read where they are).
template <typename S, int MR, int NV, bool kInPlace = false>
void kernel_avx512(std::int64_t k, const typename S::T* a, const typename S::T* b,
                   typename S::T alpha, typename S::T beta, typename S::T* c, std::int64_t ldc,
                   const std::int64_t* offsets = nullptr) {
    using T = typename S::T;
    using V = typename S::V;
    constexpr int NR = NV * S::lanes;
    V acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {  // the C tile is needed only at the end: fetch it meanwhile
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4  // measured: ~15% faster than the plain loop on Zen 4
    for (std::int64_t p = 0; p < k; ++p) {
        V bv[NV];
        if constexpr (kInPlace) {
            const T* row = b + offsets[p];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) bv[v] = S::loadu(row + v * S::lanes);
        } else {
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v)
                _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR + v * S::lanes),
                             _MM_HINT_T0);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * S::lanes);
            b += NR;
        }
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            V ai = S::set1(a[i]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[i][v] = S::fmadd(ai, bv[v], acc[i][v]);
        }
        a += MR;
    }
    V va = S::set1(alpha);
    if (beta == T(0)) {
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v)
                S::storeu(c + i * ldc + v * S::lanes, S::mul(va, acc[i][v]));
    } else {
        V vb = S::set1(beta);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) {
                T* at = c + i * ldc + v * S::lanes;
                S::storeu(at, S::fmadd(vb, S::loadu(at), S::mul(va, acc[i][v])));
            }
    }
}

// avx512 tile with A read in place: C [MR, NV vectors] = A [MR,k] @ packed B [k, NV vectors] +
// beta * C, A row i being the k values from a + offsets[i] (conv2d's shifted image rows).
template <int MR, int NV>
void kernel_in_place_a_avx512(std::int64_t k, const float* a, const std::int64_t* offsets,
                              const float* b, float beta, float* c, std::int64_t ldc) {
    using S = Zmm32;
    using V = S::V;
    constexpr int NR = NV * S::lanes;
    const float* row[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) row[i] = a + offsets[i];
    V acc[MR][NV];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
    if (beta != 0.0f)
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {  // the C tile is needed only at the end: fetch it meanwhile
            _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
        }
#pragma GCC unroll 4
    for (std::int64_t p = 0; p < k; ++p) {
        V bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * S::lanes);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            V ai = S::set1(row[i][p]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[i][v] = S::fmadd(ai, bv[v], acc[i][v]);
        }
        b += NR;
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            float* at = c + i * ldc + v * S::lanes;
            S::storeu(at,
                      beta == 0.0f ? acc[i][v] : S::fmadd(S::set1(beta), S::loadu(at), acc[i][v]));
        }
}

// clamp(x, 0, hi) without <algorithm>: no STL template may be instantiated in a per-ISA unit.
std::int64_t clamp_to(std::int64_t x, std::int64_t hi) { return x < 0 ? 0 : x > hi ? hi : x; }

// transpose8: the 8x8 block src[i * ld + q] (i, q < 8) -> dst[q * width + i], in ymm registers.
inline void transpose8(const float* src, std::int64_t ld, float* dst, int width) {
    __m256 r[8], t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld);
#pragma GCC unroll 4
    for (int i = 0; i < 8; i += 2) {  // t[i]: rows i, i+1 interleaved (low / high pairs of lanes)
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 2
    for (int h = 0; h < 8; h += 4) {  // r: four rows' values of one column per 128-bit lane
        r[h + 0] = _mm256_shuffle_ps(t[h + 0], t[h + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[h + 1] = _mm256_shuffle_ps(t[h + 0], t[h + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {  // join rows 0-3 and 4-7: columns q and q + 4
        _mm256_store_ps(dst + q * width, _mm256_permute2f128_ps(r[q], r[q + 4], 0x20));
        _mm256_store_ps(dst + (q + 4) * width, _mm256_permute2f128_ps(r[q], r[q + 4], 0x31));
    }
}

static_assert(kAvx512F32.mr % 8 == 0 && kAvx512F32.nr % 8 == 0,
              "the AVX-512 float32 panels are whole 8-float strips (transpose8, aligned stores)");

static_assert(kAvx512F32.nr % Zmm32::lanes == 0, "the AVX-512 float32 tile is whole vectors wide");
static_assert(kAvx512F64.nr % Zmm64::lanes == 0, "the AVX-512 float64 tile is whole vectors wide");

}  // namespace

void kernel_avx512_f32(std::int64_t k, const float* a, const float* b, float alpha, float beta,
                       float* c, std::int64_t ldc) {
    kernel_avx512<Zmm32, kAvx512F32.mr, kAvx512F32.nr / Zmm32::lanes>(k, a, b, alpha, beta, c, ldc);
}

void kernel_in_place_avx512_f32(std::int64_t k, const float* a, const float* b,
                                const std::int64_t* offsets, float beta, float* c,
                                std::int64_t ldc) {
    kernel_avx512<Zmm32, kAvx512F32.mr, kAvx512F32.nr / Zmm32::lanes, true>(k, a, b, 1.0f, beta, c,
                                                                            ldc, offsets);
}

void kernel_in_place_a_avx512_f32(std::int64_t k, const float* a, const std::int64_t* offsets,
                                  const float* b, float beta, float* c, std::int64_t ldc) {
    kernel_in_place_a_avx512<kAvx512F32.mr, kAvx512F32.nr / Zmm32::lanes>(k, a, offsets, b, beta,
                                                                          c, ldc);
}

// pack_rows: dst[panel][p][i] = src[(panel * width + i) * ld + p] (the packing contract), 8 rows x
// 8 steps at a time; partial strips of rows and the last kc % 8 steps element by element.
void pack_rows_avx512_f32(const float* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                          int width, float* dst) {
    for (std::int64_t q0 = 0; q0 < count; q0 += width, dst += width * kc)
        for (int s = 0; s < width; s += 8) {  // one strip: panel columns s .. s+7
            const std::int64_t rows = clamp_to(count - q0 - s, 8);
            const float* from = src + (q0 + s) * ld;
            std::int64_t p = 0;
            if (rows == 8)
                for (; p + 8 <= kc; p += 8) transpose8(from + p, ld, dst + p * width + s, width);
            for (; p < kc; ++p) {
                float* out = dst + p * width + s;
                std::int64_t i = 0;
                for (; i < rows; ++i) out[i] = from[i * ld + p];
                for (; i < 8; ++i) out[i] = 0.0f;
            }
        }
}

// pack_cols: dst[panel][p][i] = src[p * ld + panel * width + i] (see the packing contract), one
// stored row at a time across all panels (one long read), 16 floats per masked load: only the
// `count` columns are read, the rest of the last panel is zero.
void pack_cols_avx512_f32(const float* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                          int width, float* dst) {
    const std::int64_t padded = (count + width - 1) / width * width;
    const std::int64_t whole = width % 16 == 0 ? count / 16 * 16 : 0;  // plain 16-float copies
    for (std::int64_t p = 0; p < kc; ++p) {
        const float* from = src + p * ld;
        std::int64_t q = 0;
        for (; q < whole; q += 16)
            _mm512_store_ps(dst + (q / width * kc + p) * width + q % width,
                            _mm512_loadu_ps(from + q));
        for (std::int64_t lanes = 16; q < padded; q += lanes) {  // up to a panel's end
            const std::int64_t panel = q / width, i = q % width;
            lanes = clamp_to(width - i, 16);
            const std::int64_t used = clamp_to(count - q, lanes);
            const __mmask16 store = __mmask16((1u << lanes) - 1);
            const __mmask16 load = __mmask16((1u << used) - 1);
            _mm512_mask_storeu_ps(dst + (panel * kc + p) * width + i, store,
                                  _mm512_maskz_loadu_ps(load, from + q));
        }
    }
}

// im2col_pieces: each piece of each row as two masked 16-lane copies, without branches on the
// piece's length (mispredicted branches cost more than the copy): the loads read only the lanes
// inside the image (the others take the pad value), the stores write only the piece's lanes.
void im2col_pieces_avx512_f32(const float* x, std::int64_t height, std::int64_t width,
                              std::int64_t stride_h, const Im2colRow* rows, std::int64_t row_count,
                              std::int64_t row_stride, const Im2colPiece* pieces,
                              std::int64_t piece_count, float pad, float* dst) {
    static_assert(kIm2colPieceLanes == 32, "a piece is two 16-lane halves");
    const __m512 fill = _mm512_set1_ps(pad);
    for (std::int64_t i = 0; i < row_count; ++i) {
        const Im2colRow row = rows[i];
        float* base = dst + i * row_stride;
        for (std::int64_t k = 0; k < piece_count; ++k) {
            const Im2colPiece& piece = pieces[k];
            const std::int64_t iy = piece.oy * stride_h + row.iy_offset;
            const std::int64_t count = piece.end - piece.ox;  // 1 .. 32
            // Lanes [lo, hi) read the image (none when row iy is outside it).
            const bool inside = iy >= 0 && iy < height;
            const std::int64_t lo = inside ? clamp_to(row.ox_lo - piece.ox, count) : 0;
            const std::int64_t hi = inside ? clamp_to(row.ox_hi - piece.ox, count) : 0;
            const std::uint64_t one = 1, keep = (one << count) - 1;
            const std::uint64_t read = ((one << hi) - 1) & ~((one << lo) - 1);
            // in[t]: the tap of output column ox + t (only the read lanes are accessed).
            const float* in =
                x + (piece.image_offset + row.channel + iy * width + row.ix_offset + piece.ox);
            float* out = base + piece.out;
            _mm512_mask_storeu_ps(out, __mmask16(keep),
                                  _mm512_mask_loadu_ps(fill, __mmask16(read), in));
            _mm512_mask_storeu_ps(out + 16, __mmask16(keep >> 16),
                                  _mm512_mask_loadu_ps(fill, __mmask16(read >> 16), in + 16));
        }
    }
}

void kernel_avx512_f64(std::int64_t k, const double* a, const double* b, double alpha,
                       double beta, double* c, std::int64_t ldc) {
    kernel_avx512<Zmm64, kAvx512F64.mr, kAvx512F64.nr / Zmm64::lanes>(k, a, b, alpha, beta, c, ldc);
}

}  // namespace sg::gemm_detail
