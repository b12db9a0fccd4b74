// conv2d_winograd_avx512.cpp: the Winograd F(2x2, 3x3) tile transforms in AVX-512, 16 tiles a step.
#include <immintrin.h>

#include <cstdint>

#include "gemm_kernels.hpp"

namespace sg::gemm_detail {

namespace {

constexpr std::int64_t kLanes = 16;

std::int64_t clamp_lanes(std::int64_t x) { return x < 0 ? 0 : x > kLanes ? kLanes : x; }

// The mask of lanes [lo, hi) (0 <= lo, hi <= 16; empty when hi <= lo).
__mmask16 lanes_between(std::int64_t lo, std::int64_t hi) {
    return hi <= lo ? __mmask16(0) : __mmask16(((1u << (hi - lo)) - 1u) << lo);
}

// Lane j: column col + j of `row` (width values; null: past the image), `pad` outside [0, width).
// A partial vector is an expanding load from the first column inside: no address outside the row.
__m512 load_columns(const float* row, std::int64_t width, std::int64_t col, __m512 pad) {
    if (row == nullptr) return pad;
    if (col >= 0 && col + kLanes <= width) return _mm512_loadu_ps(row + col);
    const std::int64_t lo = clamp_lanes(-col), hi = clamp_lanes(width - col);
    if (hi <= lo) return pad;
    return _mm512_mask_expandloadu_ps(pad, lanes_between(lo, hi), row + col + lo);
}

// Lanes 0, 2, .., 30 and 1, 3, .., 31 of the 32 lanes (a, b): the even and odd columns.
__m512i even_lanes() {
    return _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}
__m512i odd_lanes() {
    return _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

}  // namespace

// rows [4][width] -> v [16][count]: per step of 16 tiles, each row as columns 0-15, 16-31 of the
// step and the same shifted by 2 (the patches overlap by 2 columns); B^T d on those vectors, then
// the even and odd columns give each tile's four (B^T d) values a0..a3 of a row.
void winograd_input_avx512_f32(const float* const rows[4], std::int64_t width, std::int64_t first,
                               std::int64_t count, float pad, float* v, std::int64_t plane) {
    const __m512 padv = _mm512_set1_ps(pad);
    const __m512i even = even_lanes(), odd = odd_lanes();
    constexpr std::int64_t kOffsets[4] = {0, kLanes, 2, kLanes + 2};
    for (std::int64_t k0 = 0; k0 < count; k0 += kLanes) {
        const __mmask16 store = lanes_between(0, clamp_lanes(count - k0));
        const std::int64_t col = first + 2 * k0;
        __m512 d[4][4];  // d[i][h]: row i, columns col + kOffsets[h] + lane
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i)
#pragma GCC unroll 4
            for (int h = 0; h < 4; ++h) d[i][h] = load_columns(rows[i], width, col + kOffsets[h], padv);
        __m512 e[4][4];  // B^T d
#pragma GCC unroll 4
        for (int h = 0; h < 4; ++h) {
            e[0][h] = _mm512_sub_ps(d[0][h], d[2][h]);
            e[1][h] = _mm512_add_ps(d[1][h], d[2][h]);
            e[2][h] = _mm512_sub_ps(d[2][h], d[1][h]);
            e[3][h] = _mm512_sub_ps(d[1][h], d[3][h]);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {  // (B^T d) B, row i
            const __m512 a0 = _mm512_permutex2var_ps(e[i][0], even, e[i][1]);
            const __m512 a1 = _mm512_permutex2var_ps(e[i][0], odd, e[i][1]);
            const __m512 a2 = _mm512_permutex2var_ps(e[i][2], even, e[i][3]);
            const __m512 a3 = _mm512_permutex2var_ps(e[i][2], odd, e[i][3]);
            float* out = v + 4 * i * plane + k0;
            _mm512_mask_storeu_ps(out, store, _mm512_sub_ps(a0, a2));
            _mm512_mask_storeu_ps(out + plane, store, _mm512_add_ps(a1, a2));
            _mm512_mask_storeu_ps(out + 2 * plane, store, _mm512_sub_ps(a2, a1));
            _mm512_mask_storeu_ps(out + 3 * plane, store, _mm512_sub_ps(a1, a3));
        }
    }
}

// m [16][count] -> out [2][cols]: per step of 16 tiles, A^T m A as four vectors (the tiles'
// outputs (0,0), (0,1), (1,0), (1,1)), interleaved into the two output rows' 32 columns.
float winograd_output_avx512_f32(const float* m, std::int64_t plane, std::int64_t count,
                                 float bias, float* const out[2], std::int64_t cols) {
    const __m512 biasv = _mm512_set1_ps(bias), zero = _mm512_setzero_ps();
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    __m512 check = zero;  // x * 0 is 0 for finite x, NaN for an inf or a NaN
    for (std::int64_t k0 = 0; k0 < count; k0 += kLanes) {
        const __mmask16 load = lanes_between(0, clamp_lanes(count - k0));
        __m512 in[16];
#pragma GCC unroll 16
        for (int xi = 0; xi < 16; ++xi) in[xi] = _mm512_maskz_loadu_ps(load, m + xi * plane + k0);
        __m512 top[4], bottom[4];  // A^T m
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
            top[j] = _mm512_add_ps(_mm512_add_ps(in[j], in[4 + j]), in[8 + j]);
            bottom[j] = _mm512_sub_ps(_mm512_sub_ps(in[4 + j], in[8 + j]), in[12 + j]);
        }
        __m512 r[4];
        r[0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(top[0], top[1]), top[2]), biasv);
        r[1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(top[1], top[2]), top[3]), biasv);
        r[2] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(bottom[0], bottom[1]), bottom[2]), biasv);
        r[3] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(bottom[1], bottom[2]), bottom[3]), biasv);
        const std::int64_t c0 = 2 * k0, left = cols - c0;  // left >= 1
        const __mmask16 first_half = lanes_between(0, clamp_lanes(left));
        const __mmask16 second_half = lanes_between(0, clamp_lanes(left - kLanes));
#pragma GCC unroll 2
        for (int half = 0; half < 2; ++half) {
            if (out[half] == nullptr) continue;
            const __m512 lo = _mm512_permutex2var_ps(r[2 * half], low, r[2 * half + 1]);
            const __m512 hi = _mm512_permutex2var_ps(r[2 * half], high, r[2 * half + 1]);
            _mm512_mask_storeu_ps(out[half] + c0, first_half, lo);
            check = _mm512_mask_add_ps(check, first_half, check, _mm512_mul_ps(lo, zero));
            if (second_half != 0) {
                _mm512_mask_storeu_ps(out[half] + c0 + kLanes, second_half, hi);
                check = _mm512_mask_add_ps(check, second_half, check, _mm512_mul_ps(hi, zero));
            }
        }
    }
    return _mm512_reduce_add_ps(check);
}

// g [2][cols] -> d [16][count]: per step of 16 tiles, the even and odd columns of the two rows
// (zero past cols) are the tiles' g00, g01, g10, g11; then A g A^T.
void winograd_gradient_avx512_f32(const float* const g[2], std::int64_t cols, std::int64_t count,
                                  float* d, std::int64_t plane) {
    const __m512i even = even_lanes(), odd = odd_lanes();
    const __m512 zero = _mm512_setzero_ps(), sign = _mm512_set1_ps(-0.0f);
    for (std::int64_t k0 = 0; k0 < count; k0 += kLanes) {
        const __mmask16 store = lanes_between(0, clamp_lanes(count - k0));
        __m512 rows[2][2];  // rows[r][h]: row r, columns 2 k0 + 16 h + lane
#pragma GCC unroll 2
        for (int r = 0; r < 2; ++r)
#pragma GCC unroll 2
            for (int h = 0; h < 2; ++h) {
                const std::int64_t start = 2 * k0 + h * kLanes, valid = clamp_lanes(cols - start);
                rows[r][h] = g[r] != nullptr && valid > 0
                                 ? _mm512_maskz_loadu_ps(lanes_between(0, valid), g[r] + start)
                                 : zero;
            }
        const __m512 g00 = _mm512_permutex2var_ps(rows[0][0], even, rows[0][1]);
        const __m512 g01 = _mm512_permutex2var_ps(rows[0][0], odd, rows[0][1]);
        const __m512 g10 = _mm512_permutex2var_ps(rows[1][0], even, rows[1][1]);
        const __m512 g11 = _mm512_permutex2var_ps(rows[1][0], odd, rows[1][1]);
        const __m512 ag[4][2] = {{g00, g01},
                                 {_mm512_add_ps(g00, g10), _mm512_add_ps(g01, g11)},
                                 {_mm512_sub_ps(g00, g10), _mm512_sub_ps(g01, g11)},
                                 {_mm512_xor_ps(g10, sign), _mm512_xor_ps(g11, sign)}};  // A g
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {  // (A g) A^T, row i
            float* out = d + 4 * i * plane + k0;
            _mm512_mask_storeu_ps(out, store, ag[i][0]);
            _mm512_mask_storeu_ps(out + plane, store, _mm512_add_ps(ag[i][0], ag[i][1]));
            _mm512_mask_storeu_ps(out + 2 * plane, store, _mm512_sub_ps(ag[i][0], ag[i][1]));
            _mm512_mask_storeu_ps(out + 3 * plane, store, _mm512_xor_ps(ag[i][1], sign));
        }
    }
}

}  // namespace sg::gemm_detail
