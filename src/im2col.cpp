// im2col.cpp: im2col (patch gather with constant padding folded into the bounds check) and col2im.
#include "im2col.hpp"

#include <algorithm>
#include <stdexcept>

namespace sg {

namespace {

// The output columns ox in [lo, hi) whose input column ox*stride + offset lies inside [0, size).
void valid_range(std::int64_t offset, std::int64_t stride, std::int64_t size, std::int64_t out_size,
                 std::int64_t* lo, std::int64_t* hi) {
    // ceil(-offset / stride), written so that a huge stride cannot overflow
    std::int64_t first = offset >= 0 ? 0 : (-offset) / stride + ((-offset) % stride != 0);
    std::int64_t last_input = size - 1 - offset;  // ox*stride <= last_input
    std::int64_t end = last_input < 0 ? 0 : last_input / stride + 1;
    *lo = std::min(first, out_size);
    *hi = std::max(*lo, std::min(end, out_size));
}

// Checks the column range, and that the image x and the columns are there unless they are empty.
void check_range(const Conv2dGeometry& g, std::int64_t p0, std::int64_t p1, const void* x,
                 const void* cols, const char* what) {
    if (p0 < 0 || p1 < p0 || p1 > g.out_pixels())
        throw std::invalid_argument(std::string("conv2d: ") + what +
                                    ": column range out of bounds");
    const bool has_cols = p1 > p0 && g.cols_rows() > 0;
    if ((has_cols && cols == nullptr) || (g.channels * g.height * g.width > 0 && x == nullptr))
        throw std::invalid_argument(std::string("conv2d: ") + what + ": null pointer");
}

// Calls body(channel, ki, kj, row pointer offset, oy, ox_begin, ox_end, ox_lo, ox_hi, iy,
// ix_offset) for every row segment of output columns [p0, p1); the caller moves data.
template <typename Body>
void for_each_segment(const Conv2dGeometry& g, std::int64_t c, std::int64_t p0, std::int64_t p1,
                      std::int64_t ld, Body&& body) {
    const std::int64_t wo = g.out_width;
    for (std::int64_t ki = 0; ki < g.kh; ++ki) {
        const std::int64_t iy_offset = ki * g.dh - g.pad_top;
        for (std::int64_t kj = 0; kj < g.kw; ++kj) {
            const std::int64_t ix_offset = kj * g.dw - g.pad_left;
            std::int64_t ox_lo, ox_hi;
            valid_range(ix_offset, g.sw, g.width, wo, &ox_lo, &ox_hi);
            const std::int64_t row = (c * g.kh + ki) * g.kw + kj;
            for (std::int64_t oy = p0 / wo; oy * wo < p1; ++oy) {
                const std::int64_t begin = std::max(p0, oy * wo) - oy * wo;
                const std::int64_t end = std::min(p1, (oy + 1) * wo) - oy * wo;
                const std::int64_t col = row * ld + oy * wo + begin - p0;  // cols index of `begin`
                const std::int64_t iy = oy * g.sh + iy_offset;
                const bool inside = iy >= 0 && iy < g.height;
                const std::int64_t lo = inside ? std::clamp(ox_lo, begin, end) : end;
                const std::int64_t hi = inside ? std::clamp(ox_hi, lo, end) : end;
                body(col, begin, end, lo, hi, iy, ix_offset);
            }
        }
    }
}

template <typename T>
void im2col_impl(const Conv2dGeometry& g, const T* x, T pad_value, std::int64_t p0, std::int64_t p1,
                 T* cols, int threads, std::int64_t ld) {
    check_range(g, p0, p1, x, cols, "im2col");
    if (ld == 0) ld = p1 - p0;
    if (ld < p1 - p0) throw std::invalid_argument("conv2d: im2col: ld smaller than the tile");
    if (p1 == p0) return;
    const std::int64_t plane = g.height * g.width, sw = g.sw;
    if (threads < 1) threads = 1;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (std::int64_t c = 0; c < g.channels; ++c) {
        const T* xc = x + c * plane;
        for_each_segment(
            g, c, p0, p1, ld,
            [&](std::int64_t col, std::int64_t begin, std::int64_t end, std::int64_t lo,
                std::int64_t hi, std::int64_t iy, std::int64_t ix_offset) {
                T* out = cols + col;  // out[ox - begin]: output column ox of this row
                for (std::int64_t ox = begin; ox < lo; ++ox) out[ox - begin] = pad_value;
                const T* in = xc + (hi > lo ? iy * g.width : 0);  // row iy
                if (sw == 1) {
                    for (std::int64_t ox = lo; ox < hi; ++ox) out[ox - begin] = in[ox + ix_offset];
                } else {
                    for (std::int64_t ox = lo; ox < hi; ++ox)
                        out[ox - begin] = in[ox * sw + ix_offset];
                }
                for (std::int64_t ox = hi; ox < end; ++ox) out[ox - begin] = pad_value;
            });
    }
}

template <typename T>
void col2im_impl(const Conv2dGeometry& g, const T* cols, std::int64_t p0, std::int64_t p1, T* x,
                 int threads, std::int64_t ld) {
    check_range(g, p0, p1, x, cols, "col2im");
    if (ld == 0) ld = p1 - p0;
    if (ld < p1 - p0) throw std::invalid_argument("conv2d: col2im: ld smaller than the tile");
    if (p1 == p0) return;
    const std::int64_t plane = g.height * g.width, sw = g.sw;
    if (threads < 1) threads = 1;
        // Each channel's rows touch only that channel of x: parallel over channels is race-free,
        // and the order of additions inside a channel is fixed.
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (std::int64_t c = 0; c < g.channels; ++c) {
        T* xc = x + c * plane;
        for_each_segment(g, c, p0, p1, ld,
                         [&](std::int64_t col, std::int64_t begin, std::int64_t, std::int64_t lo,
                             std::int64_t hi, std::int64_t iy, std::int64_t ix_offset) {
                             const T* in = cols + col;  // in[ox - begin]: output column ox
                             if (hi <= lo) return;
                             T* out = xc + iy * g.width;  // input column ox*sw + ix_offset
                             if (sw == 1) {
                                 for (std::int64_t ox = lo; ox < hi; ++ox)
                                     out[ox + ix_offset] += in[ox - begin];
                             } else {
                                 for (std::int64_t ox = lo; ox < hi; ++ox)
                                     out[ox * sw + ix_offset] += in[ox - begin];
                             }
                         });
    }
}

}  // namespace

void im2col(const Conv2dGeometry& g, const float* x, float pad_value, std::int64_t p0,
            std::int64_t p1, float* cols, int threads, std::int64_t ld) {
    im2col_impl(g, x, pad_value, p0, p1, cols, threads, ld);
}
void im2col(const Conv2dGeometry& g, const double* x, double pad_value, std::int64_t p0,
            std::int64_t p1, double* cols, int threads, std::int64_t ld) {
    im2col_impl(g, x, pad_value, p0, p1, cols, threads, ld);
}
void col2im(const Conv2dGeometry& g, const float* cols, std::int64_t p0, std::int64_t p1, float* x,
            int threads, std::int64_t ld) {
    col2im_impl(g, cols, p0, p1, x, threads, ld);
}
void col2im(const Conv2dGeometry& g, const double* cols, std::int64_t p0, std::int64_t p1,
            double* x, int threads, std::int64_t ld) {
    col2im_impl(g, cols, p0, p1, x, threads, ld);
}

}  // namespace sg
