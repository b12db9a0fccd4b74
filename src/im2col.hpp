// im2col.hpp: the convolution's patch gather (im2col) and its adjoint scatter-add (col2im).
#pragma once
#include <cstdint>

#include "conv2d.hpp"

namespace sg {

// Both work on output columns [p0, p1) of the Ho*Wo output pixels (a tile of the full matrix), so
// scratch stays bounded for large images. Rows are ordered (channel, ki, kj) like the weight's
// [C/groups, kh, kw], so group g's rows are the contiguous block g*(C/groups)*kh*kw ....
// `threads`: parallel over channels (1: the calling thread only). `geometry` must be checked
// already.

// im2col: x [C,H,W] -> cols [C*kh*kw, p1-p0]; taps outside the image read `pad_value`.
void im2col(const Conv2dGeometry& geometry, const float* x, float pad_value, std::int64_t p0,
            std::int64_t p1, float* cols, int threads = 1, std::int64_t ld = 0);
void im2col(const Conv2dGeometry& geometry, const double* x, double pad_value, std::int64_t p0,
            std::int64_t p1, double* cols, int threads = 1, std::int64_t ld = 0);

// Where the columns of an im2col block come from: images side by side, `span` columns each --
// column q is output pixel first_pixel + q % span of image q / span, the images `image_stride`
// elements apart.
struct ColumnLayout {
    std::int64_t image_stride, first_pixel, span;
};

// im2col_panels: rows [r0, r0+rows) and columns [q0, q0+cols) of the im2col matrix of the images
// at x (laid out as `layout` says), written as ceil(cols / width) panels of [rows][width]:
// dst[q / width][r - r0][q % width] for q counted from q0, zeros past `cols`. With width = cols
// that is a plain row-major block [rows, cols]. Feeds the GEMM's packed B panels directly (see
// PanelSource in gemm.hpp), so the full im2col matrix is never stored.
void im2col_panels(const Conv2dGeometry& geometry, const float* x, const ColumnLayout& layout,
                   float pad_value, std::int64_t r0, std::int64_t rows, std::int64_t q0,
                   std::int64_t cols, std::int64_t width, float* dst);
void im2col_panels(const Conv2dGeometry& geometry, const double* x, const ColumnLayout& layout,
                   double pad_value, std::int64_t r0, std::int64_t rows, std::int64_t q0,
                   std::int64_t cols, std::int64_t width, double* dst);

// col2im: cols [C*kh*kw, p1-p0] -> x [C,H,W], ADDED to x; taps outside the image are dropped.
void col2im(const Conv2dGeometry& geometry, const float* cols, std::int64_t p0, std::int64_t p1,
            float* x, int threads = 1, std::int64_t ld = 0);
void col2im(const Conv2dGeometry& geometry, const double* cols, std::int64_t p0, std::int64_t p1,
            double* x, int threads = 1, std::int64_t ld = 0);

}  // namespace sg
