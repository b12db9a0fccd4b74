// conv2d_direct.cpp: float32 conv2d forward and weight gradient read in place from a padded image.
#include "conv2d_direct.hpp"

#include <algorithm>
#include <cmath>

#include "checked_math.hpp"
#include "gemm_kernels.hpp"

#ifdef SIMPLEGRAD_OPENMP
#include <omp.h>
#endif

namespace sg {

namespace {

// What gathering one im2col element into a packed panel costs, in multiply-adds of the GEMM (each
// element then feeds og of them): the direct forms pay when their dropped columns cost less,
// computed / pixels - 1 < kGatherFmas / og. Measured (benchmarks/NOTES.md, item 10): a win at
// og = 64 with 14% dropped, level at og = 256 with 14% dropped (which this rejects: 32/256 = 12.5%).
constexpr double kGatherFmas = 32.0;
// The weight gradient's depth is one image's Ho * S columns: below a full k block the result
// tiles are read and written too often for their multiply-adds (measured: 16x256x14x14, depth 210,
// 10% slower than the gather; 32x128x28x28, depth 812, 9% faster).
constexpr std::int64_t kWeightGradMinDepth = 512;

std::int64_t round_up(std::int64_t x, std::int64_t step) { return (x + step - 1) / step * step; }

std::int64_t checked_mul(std::int64_t a, std::int64_t b) { return sg::checked_mul(a, b, "conv2d"); }

}  // namespace

DirectConv2d::DirectConv2d(const Conv2dGeometry& g, const void* kernels, bool forward)
    : g_(g), kernels_(kernels) {
    const auto& set = *static_cast<const gemm_detail::KernelSet*>(kernels);
    const std::int64_t cg = g.weight_channels, og = g.out_channels / g.groups;
    const std::int64_t rows_g = cg * g.kh * g.kw;
    wp_ = std::max(g.width + std::max(g.pad_left, g.pad_right), g.out_width);
    // A plane: the top border and row 0's left border, each image row and the gap after it, the
    // bottom border.
    const std::int64_t rows = g.height + g.pad_top + g.pad_bottom;
    plane_ = sg::checked_add(checked_mul(rows, wp_), g.pad_left, "conv2d");
    used_ = checked_mul(g.out_height, wp_);
    columns_ = round_up(used_, set.f32.nr);
    for (std::int64_t c = 0; c < cg; ++c)
        for (std::int64_t i = 0; i < g.kh; ++i)
            for (std::int64_t j = 0; j < g.kw; ++j)
                offsets_.push_back(c * plane_ + i * g.dh * wp_ + j * g.dw);
    // The forward's rows are read up to `columns_` long, the weight gradient's `used_`; the last
    // group's from its base + the last row's offset.
    const std::int64_t last_group = checked_mul((g.groups - 1) * cg, plane_);
    const std::int64_t reach =
        sg::checked_add(sg::checked_add(last_group, offsets_.back(), "conv2d"),
                        forward ? columns_ : used_, "conv2d");
    padded_ = round_up(std::max(checked_mul(g.channels, plane_), reach), 16);
    const std::int64_t depth = forward ? rows_g : used_;
    const std::int64_t k_blocks = (depth + set.f32.kc - 1) / set.f32.kc;
    kc_ = (depth + k_blocks - 1) / k_blocks;  // the GEMM's cut: the same sums, the same bits
    if (forward) {
        tile_rows_ = round_up(og, set.f32.mr);
        block_cols_ = std::min<std::int64_t>(set.f32.nc, columns_);
        scratch_ = sg::checked_add(padded_, checked_mul(tile_rows_, block_cols_), "conv2d");
    } else {
        tile_rows_ = round_up(rows_g, set.f32.mr);
        const std::int64_t first_row = offsets_[0];
        offsets_.resize(std::size_t(tile_rows_), first_row);  // rows past rows_g: dropped
        block_cols_ = 0;
        const std::int64_t dy_rows = round_up(checked_mul(og, used_), 16);
        const std::int64_t panels = checked_mul(used_, round_up(og, set.f32.nr));
        scratch_ = sg::checked_add(padded_, sg::checked_add(dy_rows, panels, "conv2d"), "conv2d");
    }
    checked_mul(scratch_, 4);
}

namespace {

bool direct_shape(const Conv2dGeometry& g) {
    const std::int64_t og = g.out_channels / g.groups, depth = g.weight_channels * g.kh * g.kw;
    // The padded image the direct forms copy each image into (the constructor's sizes, in double
    // so that nothing overflows): more than 4x the image and its output, past a 4 MB allowance,
    // is padding the general path never stores (huge paddings, which dilated kernels span).
    const double wp = std::max(double(g.width) + double(std::max(g.pad_left, g.pad_right)),
                               double(g.out_width));
    const double padded =
        (double(g.height) + double(g.pad_top) + double(g.pad_bottom)) * wp * double(g.channels);
    const double image = double(g.channels) * double(g.height) * double(g.width) +
                         double(g.out_channels) * double(g.out_pixels());
    return g.sh == 1 && g.sw == 1 && !g.pointwise() && og > 0 && depth > 0 &&
           g.out_pixels() > 0 && padded <= 4.0 * image + 0x1p20;
}

// Whether `computed` columns for every output pixel cost less than gathering them (the model at
// kGatherFmas).
bool dropped_pay(const Conv2dGeometry& g, std::int64_t computed) {
    const double dropped = double(computed) / double(g.out_pixels()) - 1.0;
    return dropped < kGatherFmas / double(g.out_channels / g.groups);
}

// Whether every value the weight gradient's dropped columns read is finite: the padding, and the
// image columns that output columns ox in [Wo, S) reach with some tap (past S: the next row's).
bool dropped_reads_finite(const Conv2dGeometry& g, std::int64_t wp, const float* x,
                          float pad_value) {
    if (!std::isfinite(pad_value)) return false;
    std::vector<std::int64_t> columns;
    for (std::int64_t ix = 0; ix < g.width; ++ix)
        for (std::int64_t ox = g.out_width; ox < wp; ++ox)
            for (std::int64_t j = 0; j < g.kw; ++j) {
                const std::int64_t col = ox + j * g.dw - g.pad_left;
                if (col == ix || col - wp == ix) {
                    columns.push_back(ix);
                    ox = wp, j = g.kw;  // found: on to the next column
                }
            }
    const std::int64_t rows = g.batch * g.channels * g.height;
    for (std::int64_t r = 0; r < rows; ++r)
        for (const std::int64_t ix : columns)
            if (!std::isfinite(x[r * g.width + ix])) return false;
    return true;
}

}  // namespace

std::unique_ptr<DirectConv2d> DirectConv2d::forward_plan(const Conv2dGeometry& g,
                                                         const PackedA<float>& weights) {
    const auto& set = *static_cast<const gemm_detail::KernelSet*>(weights.kernels());
    if (set.kernel_in_place_f32 == nullptr || !direct_shape(g)) return nullptr;
    auto direct = std::make_unique<DirectConv2d>(g, weights.kernels(), true);
    if (!dropped_pay(g, direct->columns_)) return nullptr;
    return direct;
}

bool DirectConv2d::forward_applies(const Conv2dGeometry& g) {
    const gemm_detail::KernelSet& set = gemm_detail::active_kernels();
    if (set.kernel_in_place_f32 == nullptr || !direct_shape(g)) return false;
    return dropped_pay(g, DirectConv2d(g, &set, true).columns_);
}

std::unique_ptr<DirectConv2d> DirectConv2d::weight_grad_plan(const Conv2dGeometry& g,
                                                             const float* x, float pad_value) {
    const gemm_detail::KernelSet& set = gemm_detail::active_kernels();
    if (set.kernel_in_place_a_f32 == nullptr || set.pack_rows_f32 == nullptr || !direct_shape(g))
        return nullptr;
    auto direct = std::make_unique<DirectConv2d>(g, &set, false);
    if (direct->used_ < kWeightGradMinDepth || !dropped_pay(g, direct->used_) ||
        !dropped_reads_finite(g, direct->wp_, x, pad_value))
        return nullptr;
    return direct;
}

void DirectConv2d::pad_image(const float* x, float pad_value, float* xp) const {
    const Conv2dGeometry& g = g_;
    // Channel c's plane: its top border and the first row's left border, then each image row and
    // the gap after it (the row's right and the next row's left border), then the bottom border.
    const std::int64_t front = g.pad_top * wp_ + g.pad_left, gap = wp_ - g.width;
    for (std::int64_t c = 0; c < g.channels; ++c) {
        float* to = std::fill_n(xp + c * plane_, front, pad_value);
        for (std::int64_t iy = 0; iy < g.height; ++iy) {
            const float* row = x + (c * g.height + iy) * g.width;
            to = std::fill_n(std::copy(row, row + g.width, to), gap, pad_value);
        }
        std::fill_n(to, g.pad_bottom * wp_, pad_value);
    }
    std::fill(xp + g.channels * plane_, xp + padded_, pad_value);
}

void DirectConv2d::weight_grad(const float* x, const float* dy, float pad_value, float beta,
                               float* acc, float* scratch, int threads) const {
    const auto& set = *static_cast<const gemm_detail::KernelSet*>(kernels_);
    const int mr = set.f32.mr, nr = set.f32.nr;
    const Conv2dGeometry& g = g_;
    const std::int64_t cg = g.weight_channels, og = g.out_channels / g.groups;
    const std::int64_t rows_g = cg * g.kh * g.kw, pixels = g.out_pixels();
    const std::int64_t og_panels = round_up(og, nr), row_blocks = (rows_g + mr - 1) / mr;
    float* xp = scratch;
    float* dyp = scratch + padded_;  // [og, used_]: dy_g with zeros in the dropped columns
    float* panels = dyp + round_up(og * used_, 16);  // dy_g^T packed, k block q0 at q0 * og_panels
    pad_image(x, pad_value, xp);
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
        for (std::int64_t o = 0; o < og; ++o)
            for (std::int64_t oy = 0; oy < g.out_height; ++oy) {
                const float* from = dy + (grp * og + o) * pixels + oy * g.out_width;
                float* to = std::copy(from, from + g.out_width, dyp + o * used_ + oy * wp_);
                std::fill_n(to, wp_ - g.out_width, 0.0f);
            }
        for (std::int64_t q0 = 0; q0 < used_; q0 += kc_)
            set.pack_rows_f32(dyp + q0, used_, og, std::min(kc_, used_ - q0), nr,
                              panels + q0 * og_panels);
        const float* xg = xp + grp * cg * plane_;
        float* acc_g = acc + grp * rows_g * og;
        // acc_g [rows_g, og] (+)= rows [rows_g, used_] @ dyp^T [used_, og]: k blocks of the
        // columns (B's block in L2), then MR-row blocks of A read in place (in L1). Each thread
        // owns a fixed range of row blocks through all k blocks, so each result tile sums its k
        // blocks in order on one thread: the same bits for any thread count.
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            int t = 0, team = 1;
#ifdef SIMPLEGRAD_OPENMP
            t = omp_get_thread_num(), team = omp_get_num_threads();
#endif
            const std::int64_t first = row_blocks * t / team, last = row_blocks * (t + 1) / team;
            alignas(64) float tile[gemm_detail::kMaxTileElements];
            for (std::int64_t q0 = 0; q0 < used_; q0 += kc_) {
                const std::int64_t kc = std::min(kc_, used_ - q0);
                const float b = q0 == 0 ? beta : 1.0f;
                for (std::int64_t block = first; block < last; ++block) {
                    const std::int64_t r0 = block * mr;
                    const std::int64_t rows = std::min<std::int64_t>(mr, rows_g - r0);
                    const std::int64_t* offsets = offsets_.data() + r0;
                    for (std::int64_t n0 = 0; n0 < og; n0 += nr) {
                        const std::int64_t cols = std::min<std::int64_t>(nr, og - n0);
                        const float* bp = panels + q0 * og_panels + n0 * kc;
                        float* c = acc_g + r0 * og + n0;
                        if (rows == mr && cols == nr) {
                            set.kernel_in_place_a_f32(kc, xg + q0, offsets, bp, b, c, og);
                            continue;
                        }
                        set.kernel_in_place_a_f32(kc, xg + q0, offsets, bp, 0.0f, tile,
                                                  nr);  // edge: a local tile, merged
                        for (std::int64_t r = 0; r < rows; ++r)
                            for (std::int64_t j = 0; j < cols; ++j) {
                                float& out = c[r * og + j];
                                out = b == 0.0f ? tile[r * nr + j] : tile[r * nr + j] + b * out;
                            }
                    }
                }
            }
        }
    }
}

void DirectConv2d::forward(const std::vector<std::unique_ptr<PackedA<float>>>& weights,
                           const float* x, const float* bias, float pad_value, float* y,
                           float* scratch) const {
    const auto& set = *static_cast<const gemm_detail::KernelSet*>(kernels_);
    const int mr = set.f32.mr, nr = set.f32.nr;
    const Conv2dGeometry& g = g_;
    const std::int64_t pixels = g.out_pixels();
    const std::int64_t cg = g.weight_channels, og = g.out_channels / g.groups;
    const std::int64_t depth = cg * g.kh * g.kw;
    float* xp = scratch;  // the padded image, then the tail the last tiles read (values dropped)
    float* result = scratch + padded_;  // [tile_rows, block_cols]: one block of output columns
    pad_image(x, pad_value, xp);
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
        const float* a = weights[std::size_t(grp)]->panels();
        const float* xg = xp + grp * cg * plane_;
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
                        set.kernel_in_place_f32(kc, panel, xg + q0 + t, offsets_.data() + k0, beta,
                                                result + m * block_cols_ + t, block_cols_);
                }
            }
            // The block's output columns (not the dropped ones) to y, plus the bias.
            const std::int64_t end = std::min(q0 + cols, used_);
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
