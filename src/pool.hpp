// pool.hpp: 2-D max and average pooling over the last two dims, and their gradients.
#pragma once
#include <cstdint>

namespace sg {

// The geometry of one pooling call. `planes` is the product of the leading dims (N*C). Padding is
// virtual (no padded copy): -inf for max, zeros for average, which always divides by kh*kw
// (PyTorch's count_include_pad=True). Output size: (h + pt + pb - dh*(kh-1) - 1) / sh + 1.
struct Pool2dGeometry {
    std::int64_t planes = 0, h = 0, w = 0;   // input [planes, h, w]
    std::int64_t kh = 1, kw = 1;             // window
    std::int64_t sh = 1, sw = 1;             // stride
    std::int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding: top, bottom, left, right
    std::int64_t dh = 1, dw = 1;             // dilation
    std::int64_t oh = 0, ow = 0;             // output [planes, oh, ow], set by pool2d_geometry
};

// Checks the sizes (non-negative planes/h/w/padding, positive window/stride/dilation, window no
// larger than the padded input) and fills oh/ow. Throws std::invalid_argument starting with `op`
// ("max_pool2d" / "avg_pool2d"), std::length_error when sizes overflow.
Pool2dGeometry pool2d_geometry(const char* op, std::int64_t planes, std::int64_t h, std::int64_t w,
                               std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                               std::int64_t pt, std::int64_t pb, std::int64_t pl, std::int64_t pr,
                               std::int64_t dh = 1, std::int64_t dw = 1);

// max_pool2d_forward: x [planes, h, w] -> out [planes, oh, ow]; when `argmax` is not null it receives
// [planes, oh, ow] flat indices (r * w + c) of the first maximum of each window in row-major window
// order, -1 when that first maximum is a padding position. NaN counts as the maximum (first NaN wins),
// as numpy.argmax does. Parallel over planes x output rows.
void max_pool2d_forward(const float* x, const Pool2dGeometry& g, float* out, std::int64_t* argmax);
void max_pool2d_forward(const double* x, const Pool2dGeometry& g, double* out,
                        std::int64_t* argmax);

// max_pool2d_backward: grad_out [planes, oh, ow] + argmax -> grad_x [planes, h, w] (zeroed, then each
// window's gradient added at its argmax). Parallel over planes, fixed order within a plane.
// Throws std::invalid_argument when an argmax index is out of range.
void max_pool2d_backward(const float* grad_out, const std::int64_t* argmax,
                         const Pool2dGeometry& g, float* grad_x);
void max_pool2d_backward(const double* grad_out, const std::int64_t* argmax,
                         const Pool2dGeometry& g, double* grad_x);

// avg_pool2d_forward: x [planes, h, w] -> out [planes, oh, ow], sum of the window / (kh * kw).
void avg_pool2d_forward(const float* x, const Pool2dGeometry& g, float* out);
void avg_pool2d_forward(const double* x, const Pool2dGeometry& g, double* out);

// avg_pool2d_backward: grad_out [planes, oh, ow] -> grad_x [planes, h, w], each window's gradient
// / (kh * kw) added to its in-bounds positions. Parallel over planes, fixed order within a plane.
void avg_pool2d_backward(const float* grad_out, const Pool2dGeometry& g, float* grad_x);
void avg_pool2d_backward(const double* grad_out, const Pool2dGeometry& g, double* grad_x);

}  // namespace sg
