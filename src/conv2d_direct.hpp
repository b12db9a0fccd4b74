// conv2d_direct.hpp: the float32 conv2d forward read in place from a padded image (no im2col).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "conv2d.hpp"
#include "gemm.hpp"

namespace sg {

// With stride 1, output pixel (oy, ox) reads tap (c, i, j) of the padded image [C, Hp, Wp] at
// c*Hp*Wp + (oy + i*dh)*Wp + (ox + j*dw). Numbering the outputs q = oy*Wp + ox over the padded
// width (the columns ox >= Wo are computed too, then dropped), row (c, i, j) of the im2col matrix
// is the padded image itself from offset c*Hp*Wp + i*dh*Wp + j*dw: one contiguous run. The GEMM's
// in-place kernel (gemm_kernels.hpp) reads its B rows there, so nothing is gathered; the price is
// the Wp - Wo dropped columns of every output row.
class DirectForward {
public:
    // The plan for this geometry, or null where the im2col forward is the better choice (a kernel
    // set without the in-place kernel, a stride, a 1x1 kernel without padding, or dropped columns
    // costing more than the gather they save). `weights` are the groups' packed weights.
    static std::unique_ptr<DirectForward> plan(const Conv2dGeometry& g,
                                               const PackedA<float>& weights);

    std::int64_t scratch_floats() const { return padded_ + tile_rows_ * block_cols_; }

    // y [O, Ho, Wo] = conv2d(x [C, H, W]) + bias[o] (bias may be null) for one image on the
    // calling thread; borders read `pad_value`. scratch: scratch_floats() floats, 64-byte aligned.
    void image(const std::vector<std::unique_ptr<PackedA<float>>>& weights, const float* x,
               const float* bias, float pad_value, float* y, float* scratch) const;

    explicit DirectForward(const Conv2dGeometry& g, const void* kernels);

private:
    Conv2dGeometry g_;
    const void* kernels_;                // the gemm_detail::KernelSet of the packed weights
    std::int64_t wp_;                    // row stride of the padded image
    std::int64_t plane_;                 // channel stride of the padded image
    std::int64_t columns_;               // output columns computed per group: whole tiles >= Ho*Wp
    std::int64_t padded_;                // floats of the padded image and the tail its tiles read
    std::int64_t tile_rows_;             // rows of the result block (og rounded up to MR)
    std::int64_t block_cols_;            // columns of the result block (a multiple of NR)
    std::int64_t kc_;                    // depth of a k block (as the GEMM cuts it)
    std::vector<std::int64_t> offsets_;  // offsets_[r]: where im2col row r starts in the padded image
};

}  // namespace sg
