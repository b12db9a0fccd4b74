// conv2d_direct.hpp: float32 conv2d forward and weight gradient read in place from a padded image.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "conv2d.hpp"
#include "gemm.hpp"

namespace sg {

// With stride 1, output pixel (oy, ox) reads tap (c, i, j) of the padded image at
// c*plane + (oy + i*dh)*S + (ox + j*dw), S being the padded row stride. Numbering the outputs
// q = oy*S + ox over that stride (the columns ox >= Wo are computed too, then dropped), row
// (c, i, j) of the im2col matrix is the padded image itself from offset c*plane + i*dh*S + j*dw:
// one contiguous run. The in-place micro-kernels (gemm_kernels.hpp) read their operand there, so
// nothing is gathered; the price is the S - Wo dropped columns of every output row.
//   forward:         y_g [og, q] = weight_g [og, rows_g] @ rows [rows_g, q]   (B read in place)
//   weight gradient: dweight_g^T [rows_g, og] = rows [rows_g, q] @ dy_g^T [q, og]   (A in place;
//                    dy is zero in the dropped columns, so they add nothing)
// The padded row is the image row and one gap of padding shared by its right border and the next
// row's left border, so S = W + max(pad_left, pad_right) (at least Wo).
class DirectConv2d {
public:
    // The forward plan, or null where the im2col forward is the better choice (a kernel set
    // without the in-place kernel, a stride, a 1x1 kernel without padding, or dropped columns
    // costing more than the gather they save). `weights`: the packed weights of group 0.
    static std::unique_ptr<DirectConv2d> forward_plan(const Conv2dGeometry& g,
                                                      const PackedA<float>& weights);
    // Whether forward_plan gives a plan for g with the active kernels (weights packed for them).
    static bool forward_applies(const Conv2dGeometry& g);
    // The weight-gradient plan for the active kernels, or null (as above; also when one image is
    // less than one k block deep, Ho * S < 512, or when a value the dropped columns read, in x or
    // the padding, is not finite: 0 * inf would leak a NaN). conv2d uses it when dx is not
    // computed through col2im.
    static std::unique_ptr<DirectConv2d> weight_grad_plan(const Conv2dGeometry& g, const float* x,
                                                          float pad_value);

    std::int64_t scratch_floats() const { return scratch_; }

    // y [O, Ho, Wo] = conv2d(x [C, H, W]) + bias[o] (bias may be null) for one image on the
    // calling thread; borders read `pad_value`. scratch: scratch_floats() floats, 64-byte aligned.
    void forward(const std::vector<std::unique_ptr<PackedA<float>>>& weights, const float* x,
                 const float* bias, float pad_value, float* y, float* scratch) const;

    // acc [groups, rows_g, og] = dweight^T of one image (x [C, H, W], dy [O, Ho, Wo]) + beta * acc,
    // on `threads` threads (the same bits for any count). scratch as above.
    void weight_grad(const float* x, const float* dy, float pad_value, float beta, float* acc,
                     float* scratch, int threads) const;

    DirectConv2d(const Conv2dGeometry& g, const void* kernels, bool forward);

private:
    void pad_image(const float* x, float pad_value, float* xp) const;

    Conv2dGeometry g_;
    const void* kernels_;                // the gemm_detail::KernelSet used
    std::int64_t wp_;                    // row stride S of the padded image
    std::int64_t plane_;                 // channel stride of the padded image
    std::int64_t used_;                  // Ho * S: the output columns and the dropped ones
    std::int64_t columns_;               // forward: columns computed, whole tiles >= used_
    std::int64_t padded_;                // floats of the padded image and the tail its rows reach
    std::int64_t tile_rows_;             // forward: result block rows (og up to MR); else rows_g up
    std::int64_t block_cols_;            // forward: result block columns (a multiple of NR)
    std::int64_t kc_;                    // depth of a k block (as the GEMM cuts it)
    std::int64_t scratch_;               // floats of scratch per image
    std::vector<std::int64_t> offsets_;  // offsets_[r]: where row r starts in the padded image
};

}  // namespace sg
