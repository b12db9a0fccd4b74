// conv2d.hpp: 2-D convolution kernels: the geometry check, forward and backward.
#pragma once
#include <cstdint>

namespace sg {

// The sizes of one conv2d call. conv2d_check_geometry() validates them and fills
// out_height/out_width.
struct Conv2dGeometry {
    std::int64_t batch = 1, channels = 0, height = 0, width = 0;  // x [N, C, H, W]
    std::int64_t out_channels = 0, weight_channels = 0;           // weight [O, C/groups, kh, kw]
    std::int64_t kh = 1, kw = 1;
    std::int64_t sh = 1, sw = 1;  // stride
    std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
    std::int64_t dh = 1, dw = 1;  // dilation
    std::int64_t groups = 1;
    std::int64_t out_height = 0, out_width = 0;  // filled by conv2d_check_geometry

    std::int64_t out_pixels() const { return out_height * out_width; }
    std::int64_t cols_rows() const { return channels * kh * kw; }  // rows of the im2col matrix
    // A 1x1 kernel with unit stride and no padding: x itself is the im2col matrix [C, H*W].
    bool pointwise() const {
        return kh == 1 && kw == 1 && sh == 1 && sw == 1 && pad_top == 0 && pad_bottom == 0 &&
               pad_left == 0 && pad_right == 0;
    }
};

// Checks every size (non-negative dims, positive kernel/stride/dilation/groups, non-negative
// padding, channels divisible by groups and matching the weight, kernel within the padded input,
// element counts that fit in memory) and fills out_height/out_width. Throws
// std::invalid_argument("conv2d: ...") or std::length_error("conv2d: ...").
void conv2d_check_geometry(Conv2dGeometry& g);

// conv2d_forward: x [N,C,H,W], weight [O,C/groups,kh,kw], bias [O] (or null) -> y [N,O,Ho,Wo].
// The im2col matrix is never stored: its blocks go straight into the GEMM's packed panels, with
// constant padding `pad_value` folded in. float32 stride-1 convolutions on AVX-512 may instead read
// one padded copy of each image in place, in per-thread scratch, where that pays and every thread
// gets an image (conv2d_direct.hpp): bit-identical. float32 3x3 stride-1 convolutions with at least
// 32 input and output channels use Winograd's F(2x2, 3x3) instead (conv2d_winograd.hpp): 2.25x
// fewer multiplies, the same values up to rounding, the direct sum again wherever an output would
// not be finite.
// Parallel over blocks of images or, for small batches, inside the GEMM; results do not depend on
// the thread count.
void conv2d_forward(const Conv2dGeometry& geometry, const float* x, const float* weight,
                    const float* bias, float pad_value, float* y);
void conv2d_forward(const Conv2dGeometry& geometry, const double* x, const double* weight,
                    const double* bias, double pad_value, double* y);

// conv2d_backward: dy [N,O,Ho,Wo] -> dx [N,C,H,W], dweight [O,C/groups,kh,kw], dbias [O].
// Each output pointer may be null (that gradient is not wanted). The weight gradient is accumulated
// over the batch in a fixed number of chunks reduced in a fixed order: bit-identical for any thread
// count. (float32 stride 1 on AVX-512: the weight gradient may also read padded image copies in
// place, see conv2d_direct.hpp. float32 3x3 stride 1 with 32+ channels: dx, as the forward of dy,
// and the weight gradient take the Winograd form, conv2d_winograd.hpp, also the same bits for any
// thread count.)
void conv2d_backward(const Conv2dGeometry& geometry, const float* x, const float* weight,
                     const float* dy, float pad_value, float* dx, float* dweight, float* dbias);
void conv2d_backward(const Conv2dGeometry& geometry, const double* x, const double* weight,
                     const double* dy, double pad_value, double* dx, double* dweight,
                     double* dbias);

}  // namespace sg
