// im2col.cpp: im2col (stored, or straight into GEMM panels; padding folded in) and col2im.
#include "im2col.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "gemm_kernels.hpp"

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

// gather_taps: out[i - begin] for the output columns i in [begin, end) of one im2col row: the tap
// in[i * sw + ix_offset] for i in [lo, hi) (inside the image), the pad value elsewhere.
template <typename T>
void gather_taps(T* out, const T* in, std::int64_t begin, std::int64_t lo, std::int64_t hi,
                 std::int64_t end, std::int64_t sw, std::int64_t ix_offset, T pad_value) {
    for (std::int64_t i = begin; i < lo; ++i) out[i - begin] = pad_value;
    if (sw == 1) {  // the common case, a plain copy the compiler vectorises
        for (std::int64_t i = lo; i < hi; ++i) out[i - begin] = in[i + ix_offset];
    } else {
        for (std::int64_t i = lo; i < hi; ++i) out[i - begin] = in[i * sw + ix_offset];
    }
    for (std::int64_t i = hi; i < end; ++i) out[i - begin] = pad_value;
}

// scatter_taps, the adjoint: in[i - begin] added to the tap out[i * sw + ix_offset] for i in
// [lo, hi).
template <typename T>
void scatter_taps(T* out, const T* in, std::int64_t begin, std::int64_t lo, std::int64_t hi,
                  std::int64_t sw, std::int64_t ix_offset) {
    if (sw == 1) {
        for (std::int64_t i = lo; i < hi; ++i) out[i + ix_offset] += in[i - begin];
    } else {
        for (std::int64_t i = lo; i < hi; ++i) out[i * sw + ix_offset] += in[i - begin];
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
                const T* in = xc + (hi > lo ? iy * g.width : 0);  // row iy
                gather_taps(cols + col, in, begin, lo, hi, end, sw, ix_offset, pad_value);
            });
    }
}

template <typename T>
void im2col_panels_impl(const Conv2dGeometry& g, const T* x, const ColumnLayout& layout,
                        T pad_value, std::int64_t r0, std::int64_t rows, std::int64_t q0,
                        std::int64_t cols, std::int64_t width, T* dst) {
    const std::int64_t wo = g.out_width, plane = g.height * g.width, taps = g.kh * g.kw;
    const std::int64_t span = layout.span, sw = g.sw;
    if (r0 < 0 || rows < 0 || r0 + rows > g.weight_channels * taps || q0 < 0 || cols < 0 ||
        width < 1 || span < 1 || layout.first_pixel < 0 ||
        layout.first_pixel + span > g.out_pixels() ||
        (rows > 0 && cols > 0 && (x == nullptr || dst == nullptr)))
        throw std::invalid_argument("conv2d: im2col_panels: block out of bounds");
    const std::int64_t padded = (cols + width - 1) / width * width, panel = rows * width;
    // float32 with unit column stride: the kernel set's vector routine, where it has one.
    gemm_detail::Im2colPiecesF32 routine = nullptr;
    if constexpr (sizeof(T) == sizeof(float))
        if (sw == 1) routine = gemm_detail::active_kernels().im2col_pieces_f32;
    // The pieces (runs of columns within one output row of one image and one panel, at most
    // kIm2colPieceLanes for the vector routine) and each row's taps: computed once per block.
    const std::int64_t most = routine != nullptr ? gemm_detail::kIm2colPieceLanes : width;
    std::vector<gemm_detail::Im2colPiece> pieces;
    for (std::int64_t q = 0; q < cols;) {
        const std::int64_t col = q0 + q, in_image = col % span;
        const std::int64_t pixel = layout.first_pixel + in_image, lane = q % width;
        const std::int64_t ox = pixel % wo;
        const std::int64_t end = std::min(
            {wo, ox + (cols - q), ox + (width - lane), ox + (span - in_image), ox + most});
        pieces.push_back({col / span * layout.image_stride, pixel / wo, ox, end,
                          q / width * panel + lane});
        q += end - ox;
    }
    std::vector<gemm_detail::Im2colRow> specs(static_cast<std::size_t>(rows));
    for (std::int64_t r = r0; r < r0 + rows; ++r) {
        gemm_detail::Im2colRow& spec = specs[std::size_t(r - r0)];
        const std::int64_t c = r / taps, ki = r / g.kw % g.kh, kj = r % g.kw;
        spec.channel = c * plane;
        spec.iy_offset = ki * g.dh - g.pad_top;
        spec.ix_offset = kj * g.dw - g.pad_left;
        valid_range(spec.ix_offset, sw, g.width, wo, &spec.ox_lo, &spec.ox_hi);
    }
    if constexpr (sizeof(T) == sizeof(float))
        if (routine != nullptr)
            routine(x, g.height, g.width, g.sh, specs.data(), rows, width, pieces.data(),
                    std::int64_t(pieces.size()), pad_value, dst);
    for (std::int64_t i = 0; i < rows; ++i) {
        T* row = dst + i * width;  // row i in panel 0; panel j is j * panel further
        for (std::int64_t q = cols; q < padded; ++q) row[q / width * panel + q % width] = T(0);
        if (routine != nullptr) continue;
        const gemm_detail::Im2colRow& spec = specs[std::size_t(i)];
        for (const gemm_detail::Im2colPiece& piece : pieces) {
            const std::int64_t ox = piece.ox, end = piece.end;
            const std::int64_t iy = piece.oy * g.sh + spec.iy_offset;
            const bool inside = iy >= 0 && iy < g.height;
            const std::int64_t lo = inside ? std::clamp(spec.ox_lo, ox, end) : end;
            const std::int64_t hi = inside ? std::clamp(spec.ox_hi, lo, end) : end;
            const T* in = x + spec.channel + piece.image_offset + (inside ? iy * g.width : 0);
            gather_taps(row + piece.out, in, ox, lo, hi, end, sw, spec.ix_offset, pad_value);
        }
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
    // and the order of additions inside a channel is fixed (rows in order; within a row, every
    // element of x gets at most one term), the same in both paths below.
    if (p0 == 0 && p1 == g.out_pixels()) {  // whole images: valid rows and columns once per row
        const std::int64_t wo = g.out_width;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
        for (std::int64_t c = 0; c < g.channels; ++c) {
            T* xc = x + c * plane;
            for (std::int64_t ki = 0; ki < g.kh; ++ki) {
                const std::int64_t iy_offset = ki * g.dh - g.pad_top;
                std::int64_t oy_lo, oy_hi;
                valid_range(iy_offset, g.sh, g.height, g.out_height, &oy_lo, &oy_hi);
                for (std::int64_t kj = 0; kj < g.kw; ++kj) {
                    const std::int64_t ix_offset = kj * g.dw - g.pad_left;
                    std::int64_t lo, hi;
                    valid_range(ix_offset, sw, g.width, wo, &lo, &hi);
                    const T* in = cols + ((c * g.kh + ki) * g.kw + kj) * ld;
                    for (std::int64_t oy = oy_lo; oy < oy_hi; ++oy)
                        scatter_taps(xc + (oy * g.sh + iy_offset) * g.width, in + oy * wo, 0, lo,
                                     hi, sw, ix_offset);
                }
            }
        }
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (std::int64_t c = 0; c < g.channels; ++c) {
        T* xc = x + c * plane;
        for_each_segment(g, c, p0, p1, ld,
                         [&](std::int64_t col, std::int64_t begin, std::int64_t, std::int64_t lo,
                             std::int64_t hi, std::int64_t iy, std::int64_t ix_offset) {
                             if (hi <= lo) return;
                             scatter_taps(xc + iy * g.width, cols + col, begin, lo, hi, sw,
                                          ix_offset);
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
void im2col_panels(const Conv2dGeometry& g, const float* x, const ColumnLayout& layout,
                   float pad_value, std::int64_t r0, std::int64_t rows, std::int64_t q0,
                   std::int64_t cols, std::int64_t width, float* dst) {
    im2col_panels_impl(g, x, layout, pad_value, r0, rows, q0, cols, width, dst);
}
void im2col_panels(const Conv2dGeometry& g, const double* x, const ColumnLayout& layout,
                   double pad_value, std::int64_t r0, std::int64_t rows, std::int64_t q0,
                   std::int64_t cols, std::int64_t width, double* dst) {
    im2col_panels_impl(g, x, layout, pad_value, r0, rows, q0, cols, width, dst);
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
