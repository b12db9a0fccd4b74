// conv2d_direct.cpp: the float32 conv2d forward read in place from a padded image (no im2col).
#include "conv2d_direct.hpp"

#include <algorithm>

#include "checked_math.hpp"
#include "gemm_kernels.hpp"

namespace sg {

namespace {

// What gathering one im2col element into a packed panel costs, in multiply-adds of the GEMM (each
// element then feeds og of them): the direct forward pays when its dropped columns cost less,
// columns / pixels - 1 < kGatherFmas / og. Measured (benchmarks/NOTES.md): a win at og = 64 with
// 14% dropped, even at og = 256 with 14% dropped.
constexpr double kGatherFmas = 32.0;

std::int64_t round_up(std::int64_t x, std::int64_t step) { return (x + step - 1) / step * step; }

std::int64_t checked_mul(std::int64_t a, std::int64_t b) {
    return sg::checked_mul(a, b, "conv2d");
}

}  // namespace

DirectForward::DirectForward(const Conv2dGeometry& g, const void* kernels)
    : g_(g), kernels_(kernels) {
    const auto& set = *static_cast<const gemm_detail::KernelSet*>(kernels);
    const std::int64_t cg = g.weight_channels, og = g.out_channels / g.groups;
    // Row stride: the image row and one gap of padding shared by the row's right border and the
    // next row's left border (both read pad_value); at least an output row.
    wp_ = std::max(g.width + std::max(g.pad_left, g.pad_right), g.out_width);
    // A plane: the top border and row 0's left border, each image row and the gap after it, the
    // bottom border.
    const std::int64_t rows = g.height + g.pad_top + g.pad_bottom;
    const std::int64_t plane = sg::checked_add(checked_mul(rows, wp_), g.pad_left, "conv2d");
    plane_ = plane;
    columns_ = round_up(checked_mul(g.out_height, wp_), set.f32.nr);
    for (std::int64_t c = 0; c < cg; ++c)
        for (std::int64_t i = 0; i < g.kh; ++i)
            for (std::int64_t j = 0; j < g.kw; ++j)
                offsets_.push_back(c * plane + i * g.dh * wp_ + j * g.dw);
    // The last group's tiles read up to its base + the last row's offset + columns.
    const std::int64_t last_group = checked_mul((g.groups - 1) * cg, plane);
    const std::int64_t reach = sg::checked_add(last_group + offsets_.back(), columns_, "conv2d");
    padded_ = round_up(std::max(checked_mul(g.channels, plane), reach), 16);
    tile_rows_ = round_up(og, set.f32.mr);
    block_cols_ = std::min<std::int64_t>(set.f32.nc, columns_);
    const std::int64_t depth = cg * g.kh * g.kw, k_blocks = (depth + set.f32.kc - 1) / set.f32.kc;
    kc_ = (depth + k_blocks - 1) / k_blocks;  // the GEMM's cut: the same sums, the same bits
    checked_mul(sg::checked_add(padded_, checked_mul(tile_rows_, block_cols_), "conv2d"), 4);
}

std::unique_ptr<DirectForward> DirectForward::plan(const Conv2dGeometry& g,
                                                   const PackedA<float>& weights) {
    const auto& set = *static_cast<const gemm_detail::KernelSet*>(weights.kernels());
    const std::int64_t og = g.out_channels / g.groups, depth = g.weight_channels * g.kh * g.kw;
    const bool pointwise = g.kh == 1 && g.kw == 1 && g.pad_top == 0 && g.pad_bottom == 0 &&
                           g.pad_left == 0 && g.pad_right == 0;
    if (set.kernel_in_place_f32 == nullptr || g.sh != 1 || g.sw != 1 || pointwise || og == 0 ||
        depth == 0 || g.out_pixels() == 0)
        return nullptr;
    auto direct = std::make_unique<DirectForward>(g, weights.kernels());
    const double dropped = double(direct->columns_) / double(g.out_pixels()) - 1.0;
    if (dropped >= kGatherFmas / double(og)) return nullptr;
    return direct;
}

void DirectForward::image(const std::vector<std::unique_ptr<PackedA<float>>>& weights,
                          const float* x, const float* bias, float pad_value, float* y,
                          float* scratch) const {
    const auto& set = *static_cast<const gemm_detail::KernelSet*>(kernels_);
    const int mr = set.f32.mr, nr = set.f32.nr;
    const Conv2dGeometry& g = g_;
    const std::int64_t plane = plane_, pixels = g.out_pixels();
    const std::int64_t cg = g.weight_channels, og = g.out_channels / g.groups;
    const std::int64_t depth = cg * g.kh * g.kw;
    float* xp = scratch;  // [C, Hp, Wp], then the tail the last tiles read (their values dropped)
    float* result = scratch + padded_;  // [tile_rows, block_cols]: one block of output columns

    // Channel c's plane: its top border and the first row's left border, then each image row and
    // the gap after it (the row's right and the next row's left border), then the bottom border.
    const std::int64_t front = g.pad_top * wp_ + g.pad_left, gap = wp_ - g.width;
    for (std::int64_t c = 0; c < g.channels; ++c) {
        float* to = std::fill_n(xp + c * plane, front, pad_value);
        for (std::int64_t iy = 0; iy < g.height; ++iy) {
            const float* row = x + (c * g.height + iy) * g.width;
            to = std::fill_n(std::copy(row, row + g.width, to), gap, pad_value);
        }
        std::fill_n(to, g.pad_bottom * wp_, pad_value);
    }
    std::fill(xp + g.channels * plane, xp + padded_, pad_value);

    const std::int64_t used = g.out_height * wp_;  // computed columns that are outputs or dropped
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
        const float* a = weights[std::size_t(grp)]->panels();
        const float* xg = xp + grp * cg * plane;
        float* yg = y + grp * og * pixels;
        for (std::int64_t q0 = 0; q0 < columns_; q0 += block_cols_) {
            const std::int64_t cols = std::min(block_cols_, columns_ - q0);
            // result [tile_rows, cols] = weight_g [og, depth] @ B [depth, cols], B row r read at
            // xg + offsets_[r] + q0: k blocks, A micro-panels (in L1), tiles of NR columns.
            for (std::int64_t k0 = 0; k0 < depth; k0 += kc_) {
                const std::int64_t kc = std::min(kc_, depth - k0);
                const float beta = k0 == 0 ? 0.0f : 1.0f;
                for (std::int64_t m = 0; m < tile_rows_; m += mr) {
                    const float* panel = a + (m * depth + k0 * mr);
                    for (std::int64_t t = 0; t < cols; t += nr)
                        set.kernel_in_place_f32(kc, panel, xg + q0 + t, offsets_.data() + k0,
                                                beta, result + m * block_cols_ + t, block_cols_);
                }
            }
            // The block's output columns (not the dropped ones) to y, plus the bias.
            const std::int64_t end = std::min(q0 + cols, used);
            for (std::int64_t o = 0; o < og; ++o) {
                const float* from = result + o * block_cols_ - q0;
                float* to = yg + o * pixels;
                const float value = bias != nullptr ? bias[grp * og + o] : 0.0f;
                for (std::int64_t q = q0; q < end;) {
                    const std::int64_t oy = q / wp_, ox = q - oy * wp_;
                    const std::int64_t count = std::min(g.out_width - ox, end - q);
                    if (count <= 0) {  // a dropped column: on to the next output row
                        q = (oy + 1) * wp_;
                        continue;
                    }
                    float* out = to + oy * g.out_width + ox;
                    if (bias != nullptr)
                        for (std::int64_t e = 0; e < count; ++e) out[e] = from[q + e] + value;
                    else
                        std::copy(from + q, from + q + count, out);
                    q += count;
                }
            }
        }
    }
}

}  // namespace sg
