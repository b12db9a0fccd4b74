// test_conv2d.cpp: conv2d forward/backward and im2col/col2im against naive loops; geometry errors.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "check.hpp"
#include "conv2d.hpp"
#include "conv2d_direct.hpp"
#include "conv2d_winograd.hpp"
#include "gemm.hpp"
#include "gemm_kernels.hpp"
#include "im2col.hpp"
#include "threads.hpp"

using namespace sg;

namespace {

Conv2dGeometry make(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t o,
                    std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                    std::int64_t pt, std::int64_t pb, std::int64_t pl, std::int64_t pr,
                    std::int64_t dh, std::int64_t dw, std::int64_t groups) {
    Conv2dGeometry g;
    g.batch = n, g.channels = c, g.height = h, g.width = w, g.out_channels = o;
    g.weight_channels = groups > 0 ? c / groups : c;
    g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw;
    g.pad_top = pt, g.pad_bottom = pb, g.pad_left = pl, g.pad_right = pr;
    g.dh = dh, g.dw = dw, g.groups = groups;
    return g;
}

// The input value a tap reads: x[n, c, iy, ix], or the pad value outside the image.
double tap(const Conv2dGeometry& g, const std::vector<double>& x, std::int64_t n, std::int64_t c,
           std::int64_t iy, std::int64_t ix, double pad_value) {
    if (iy < 0 || iy >= g.height || ix < 0 || ix >= g.width) return pad_value;
    return x[std::size_t(((n * g.channels + c) * g.height + iy) * g.width + ix)];
}

struct Naive {
    std::vector<double> y, dx, dw, db;
};

// naive conv2d: x [N,C,H,W], w [O,C/groups,kh,kw], b [O] -> y [N,O,Ho,Wo], and the gradients for
// dy.
Naive naive_conv(const Conv2dGeometry& g, const std::vector<double>& x,
                 const std::vector<double>& w, const std::vector<double>& b,
                 const std::vector<double>& dy, double pad_value) {
    const std::int64_t cg = g.weight_channels, og = g.out_channels / g.groups;
    const std::int64_t ho = g.out_height, wo = g.out_width;
    Naive r{std::vector<double>(std::size_t(g.batch * g.out_channels * ho * wo)),
            std::vector<double>(x.size()), std::vector<double>(w.size()),
            std::vector<double>(std::size_t(g.out_channels))};
    for (std::int64_t n = 0; n < g.batch; ++n)
        for (std::int64_t o = 0; o < g.out_channels; ++o)
            for (std::int64_t oy = 0; oy < ho; ++oy)
                for (std::int64_t ox = 0; ox < wo; ++ox) {
                    const std::size_t yi =
                        std::size_t(((n * g.out_channels + o) * ho + oy) * wo + ox);
                    double sum = b[std::size_t(o)];
                    const double d = dy[yi];
                    r.db[std::size_t(o)] += d;
                    for (std::int64_t cl = 0; cl < cg; ++cl) {
                        const std::int64_t c = (o / og) * cg + cl;
                        for (std::int64_t ki = 0; ki < g.kh; ++ki)
                            for (std::int64_t kj = 0; kj < g.kw; ++kj) {
                                const std::int64_t iy = oy * g.sh - g.pad_top + ki * g.dh;
                                const std::int64_t ix = ox * g.sw - g.pad_left + kj * g.dw;
                                const std::size_t wi =
                                    std::size_t(((o * cg + cl) * g.kh + ki) * g.kw + kj);
                                const double v = tap(g, x, n, c, iy, ix, pad_value);
                                sum += w[wi] * v;
                                r.dw[wi] += d * v;
                                if (iy >= 0 && iy < g.height && ix >= 0 && ix < g.width)
                                    r.dx[std::size_t(
                                        ((n * g.channels + c) * g.height + iy) * g.width + ix)] +=
                                        d * w[wi];
                            }
                    }
                    r.y[yi] = sum;
                }
    return r;
}

template <typename T>
std::vector<T> cast(const std::vector<double>& v) {
    return std::vector<T>(v.begin(), v.end());
}

template <typename T>
void check_close(const std::vector<T>& got, const std::vector<double>& expected, double tol,
                 const std::string& what) {
    CHECK_MESSAGE(got.size() == expected.size(), what + " size");
    for (std::size_t i = 0; i < got.size() && i < expected.size(); ++i)
        if (!sg_test::near(got[i], expected[i], tol, tol)) {
            CHECK_MESSAGE(false, what + " at " + std::to_string(i) + ": " + std::to_string(got[i]) +
                                     " vs " + std::to_string(expected[i]));
            return;
        }
}

template <typename T>
void check_conv(Conv2dGeometry g, double pad_value, unsigned seed, const std::string& name,
                double tol = 0.0) {
    conv2d_check_geometry(g);
    const auto x = sg_test::random_values<double>(
        std::size_t(g.batch * g.channels * g.height * g.width), seed);
    const auto w = sg_test::random_values<double>(
        std::size_t(g.out_channels * g.weight_channels * g.kh * g.kw), seed + 1);
    const auto b = sg_test::random_values<double>(std::size_t(g.out_channels), seed + 2);
    const auto dy = sg_test::random_values<double>(
        std::size_t(g.batch * g.out_channels * g.out_height * g.out_width), seed + 3);
    // Round the inputs to T first so the reference sees exactly what the kernel sees.
    const auto xt = cast<T>(x), wt = cast<T>(w), bt = cast<T>(b), dyt = cast<T>(dy);
    const Naive ref = naive_conv(g, std::vector<double>(xt.begin(), xt.end()),
                                 std::vector<double>(wt.begin(), wt.end()),
                                 std::vector<double>(bt.begin(), bt.end()),
                                 std::vector<double>(dyt.begin(), dyt.end()), double(T(pad_value)));
    if (tol == 0.0) tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
    std::vector<T> y(ref.y.size()), dx(ref.dx.size()), dw(ref.dw.size()), db(ref.db.size());
    conv2d_forward(g, xt.data(), wt.data(), bt.data(), T(pad_value), y.data());
    check_close(y, ref.y, tol, name + " forward");
    conv2d_backward(g, xt.data(), wt.data(), dyt.data(), T(pad_value), dx.data(), dw.data(),
                    db.data());
    check_close(dx, ref.dx, tol, name + " dx");
    check_close(dw, ref.dw, tol, name + " dweight");
    check_close(db, ref.db, tol, name + " dbias");
}

// One geometry per edge case: (N,C,H,W,O, kh,kw, sh,sw, pads t/b/l/r, dh,dw, groups).
const Conv2dGeometry kCases[] = {
    make(2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),    // "same" 3x3
    make(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1),    // 1x1 image, 1x1 kernel
    make(3, 4, 5, 7, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1),    // pointwise
    make(2, 2, 9, 11, 3, 3, 2, 2, 3, 0, 0, 0, 0, 1, 1, 1),   // odd strides, rectangular kernel
    make(1, 3, 10, 9, 5, 3, 3, 1, 2, 2, 0, 1, 3, 2, 1, 1),   // asymmetric padding, dilation
    make(2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2),    // groups
    make(1, 6, 5, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6),    // depthwise
    make(5, 3, 12, 12, 8, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1),  // batch larger than the thread count
    make(1, 2, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),    // 1x1 image, 3x3 kernel, all padding
    make(2, 3, 9, 40, 4, 3, 2, 2, 1, 1, 0, 2, 1, 1, 2, 1),   // row stride only, rows past 32 lanes
};

}  // namespace

TEST(conv2d_matches_naive_loops_float64) {
    int i = 0;
    for (const Conv2dGeometry& g : kCases)
        check_conv<double>(g, 0.0, 100 + 10 * i, "case " + std::to_string(i++));
}

TEST(conv2d_matches_naive_loops_float32) {
    int i = 0;
    for (const Conv2dGeometry& g : kCases)
        check_conv<float>(g, 0.0, 200 + 10 * i, "case " + std::to_string(i++));
}

TEST(conv2d_constant_pad_value_is_folded_in) {
    check_conv<double>(kCases[0], 0.75, 300, "pad 0.75");
    check_conv<float>(kCases[4], -2.0, 310, "pad -2");
}

TEST(conv2d_generic_isa_matches_too) {
    set_gemm_isa("generic");
    check_conv<float>(kCases[7], 0.0, 400, "generic");
    set_gemm_isa(gemm_supported_isas().back());
}

namespace {

// Geometries the direct forward (conv2d_direct.hpp) takes on a CPU with its in-place kernel.
// (The weight gradient's also need Ho * S >= 512: one k block per image.)
const Conv2dGeometry kDirectCases[] = {
    make(2, 64, 24, 24, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),  // depth 576: two k blocks
    make(2, 3, 30, 30, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),  // og not whole tiles, 3 column blocks
    make(2, 5, 31, 17, 24, 3, 2, 1, 1, 0, 3, 2, 0, 2, 1, 1),  // asymmetric pads, dilation
    make(2, 4, 40, 12, 16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),  // pad wider than the kernel reach
    make(3, 6, 24, 24, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2),  // groups
    make(2, 2, 28, 28, 40, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1),  // no padding
};

// Whether both direct forms take geometry g (for input x); they must exactly on AVX-512.
void direct_applies(Conv2dGeometry g, const std::vector<float>& x, const std::string& name) {
    conv2d_check_geometry(g);
    const std::int64_t og = g.out_channels / g.groups, depth = g.weight_channels * g.kh * g.kw;
    const std::vector<float> w(std::size_t(og * depth), 1.0f);
    const PackedA<float> packed(false, og, depth, w.data(), depth);
    const bool avx512 = gemm_isa() == "avx512";
    CHECK_MESSAGE((DirectConv2d::forward_plan(g, packed) != nullptr) == avx512,
                  name + ": direct forward taken only on AVX-512, isa " + gemm_isa());
    CHECK_MESSAGE((DirectConv2d::weight_grad_plan(g, x.data(), 0.0f) != nullptr) == avx512,
                  name + ": direct weight gradient taken only on AVX-512, isa " + gemm_isa());
}

std::vector<float> random_input(const Conv2dGeometry& g, unsigned seed) {
    return sg_test::random_values<float>(std::size_t(g.batch * g.channels * g.height * g.width),
                                         seed);
}

// The weight and bias gradients alone (dx not wanted: the direct weight gradient's case) against
// the naive loops; the reference's infinities and NaNs must be matched exactly.
void check_weight_grad(Conv2dGeometry g, const std::vector<float>& x, unsigned seed,
                       const std::string& name) {
    conv2d_check_geometry(g);
    const auto w = sg_test::random_values<float>(
        std::size_t(g.out_channels * g.weight_channels * g.kh * g.kw), seed);
    const auto dy = sg_test::random_values<float>(
        std::size_t(g.batch * g.out_channels * g.out_pixels()), seed + 1);
    const std::vector<double> b(std::size_t(g.out_channels), 0.0);
    const Naive ref = naive_conv(g, std::vector<double>(x.begin(), x.end()),
                                 std::vector<double>(w.begin(), w.end()), b,
                                 std::vector<double>(dy.begin(), dy.end()), 0.0);
    std::vector<float> dw(ref.dw.size()), db(ref.db.size());
    conv2d_backward(g, x.data(), w.data(), dy.data(), 0.0f, nullptr, dw.data(), db.data());
    for (std::size_t e = 0; e < dw.size(); ++e) {
        const bool same = std::isfinite(ref.dw[e]) ? sg_test::near(dw[e], ref.dw[e], 2e-5, 2e-5)
                          : std::isnan(ref.dw[e])  ? std::isnan(dw[e])
                                                   : dw[e] == ref.dw[e];
        if (!same) {
            CHECK_MESSAGE(false, name + " dweight at " + std::to_string(e) + ": " +
                                     std::to_string(dw[e]) + " vs " + std::to_string(ref.dw[e]));
            return;
        }
    }
    check_close(db, ref.db, 2e-5, name + " dbias");
}

}  // namespace

TEST(conv2d_direct_forward_matches_naive_loops) {
    int i = 0;
    for (const Conv2dGeometry& g : kDirectCases) {
        const std::string name = "direct case " + std::to_string(i);
        Conv2dGeometry checked = g;
        conv2d_check_geometry(checked);
        const std::vector<float> x = random_input(checked, 650 + i);
        direct_applies(g, x, name);
        check_weight_grad(g, x, 660 + 10 * i, name);
        check_conv<float>(g, 0.0, 600 + 10 * i++, name);
    }
    check_conv<float>(kDirectCases[2], 1.5, 690, "direct, pad 1.5");
}

TEST(conv2d_direct_forward_keeps_infinities_where_they_are) {
    // The direct forward also computes (and drops) columns past each output row, which read the
    // next row's first pixels: an infinity there must reach only the outputs that really read it.
    Conv2dGeometry g = kDirectCases[0];
    conv2d_check_geometry(g);
    std::vector<float> x = random_input(g, 700);
    direct_applies(g, x, "infinity case");
    const std::vector<float> w =
        sg_test::random_values<float>(std::size_t(g.out_channels * g.channels * 9), 701);
    x[std::size_t(5 * g.width)] = std::numeric_limits<float>::infinity();  // image 0, row 5, col 0
    const std::vector<double> b(std::size_t(g.out_channels), 0.0);
    const std::vector<double> dy(std::size_t(g.batch * g.out_channels * g.out_pixels()), 0.0);
    const Naive ref = naive_conv(g, std::vector<double>(x.begin(), x.end()),
                                 std::vector<double>(w.begin(), w.end()), b, dy, 0.0);
    std::vector<float> y(ref.y.size());
    conv2d_forward(g, x.data(), w.data(), static_cast<const float*>(nullptr), 0.0f, y.data());
    for (std::size_t e = 0; e < y.size(); ++e) {
        if (std::isinf(ref.y[e])) {
            CHECK_MESSAGE(std::isinf(y[e]), "infinity lost at " + std::to_string(e));
        } else if (!sg_test::near(y[e], ref.y[e], 2e-5, 2e-5)) {
            CHECK_MESSAGE(false, "at " + std::to_string(e) + ": " + std::to_string(y[e]) + " vs " +
                                     std::to_string(ref.y[e]));
            return;
        }
    }
    // The direct weight gradient multiplies the dropped columns' reads by a zero dy: it must step
    // aside for an infinity there (column 0 is read by the previous row's dropped column), and
    // only there (column 4 is not).
    CHECK(DirectConv2d::weight_grad_plan(g, x.data(), 0.0f) == nullptr);
    check_weight_grad(g, x, 710, "infinity in column 0");
    std::vector<float> inner = random_input(g, 720);
    inner[std::size_t(5 * g.width + 4)] = std::numeric_limits<float>::infinity();
    CHECK((DirectConv2d::weight_grad_plan(g, inner.data(), 0.0f) != nullptr) ==
          (gemm_isa() == "avx512"));
    check_weight_grad(g, inner, 730, "infinity in column 4");
    CHECK(DirectConv2d::weight_grad_plan(g, inner.data(), NAN) == nullptr);
}

namespace {

// Geometries the Winograd forward (conv2d_winograd.hpp) takes: 3x3, stride 1, >= 32 channels.
const Conv2dGeometry kWinogradCases[] = {
    make(2, 128, 7, 9, 136, 3, 3, 1, 1, 2, 0, 1, 2, 1, 1, 1),    // odd Ho, asymmetric pads, O edge
    make(1, 130, 3, 70, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),   // 35 tiles a row: two segments
    make(5, 128, 14, 14, 128, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),  // blocks across image borders
    make(2, 32, 10, 10, 32, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1),    // the fewest channels, no padding
    make(3, 64, 30, 30, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),    // 675 tiles: two dweight blocks
};

}  // namespace

TEST(conv2d_winograd_matches_naive_loops) {
    // 1152-term sums of values in [-1, 1): the direct sum's own float32 error reaches 2e-5 here.
    // Every ISA: the portable transforms on "generic", the vector ones on "avx512".
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        int i = 0;
        for (const Conv2dGeometry& geometry : kWinogradCases) {
            Conv2dGeometry g = geometry;
            conv2d_check_geometry(g);
            const std::string name = isa + " winograd case " + std::to_string(i);
            CHECK_MESSAGE(winograd_applies(g), name + " takes the Winograd form");
            check_conv<float>(g, 0.0, 900 + 10 * i++, name, 1e-4);
        }
        check_conv<float>(kWinogradCases[0], -1.5, 990, isa + " winograd, pad -1.5", 1e-4);
    }
    set_gemm_isa(gemm_supported_isas().back());
    Conv2dGeometry few = kWinogradCases[2];
    few.out_channels = 31;  // one channel short: the direct forms
    CHECK(!winograd_applies(few));
}

TEST(winograd_transforms_give_the_portable_bits_on_every_isa) {
    // Each ISA's tile transforms against the portable ones (gemm_kernels.hpp: the same sums in
    // the same order), bit for bit: every tile count up to a segment's 32, patches starting
    // before, inside and past the row, rows past the image, odd ends, and non-finite values.
    using namespace gemm_detail;
    const std::int64_t plane = 40, width = 23;
    const std::vector<float> row_values = sg_test::random_values<float>(4 * width, 1300);
    const float inf = std::numeric_limits<float>::infinity();
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        const KernelSet& ks = active_kernels();
        for (std::int64_t count = 1; count <= kWinogradSegmentTiles; ++count)
            for (std::int64_t first : {std::int64_t(-2), std::int64_t(-1), std::int64_t(0),
                                       std::int64_t(5), std::int64_t(width - 1), width + 3}) {
                const std::string name = isa + " count " + std::to_string(count) + " first " +
                                         std::to_string(first);
                std::vector<float> values = row_values;
                if (count % 5 == 0) values[std::size_t(width + count % width)] = inf;
                const float* rows[4] = {values.data(), values.data() + width,
                                        count % 3 == 0 ? nullptr : values.data() + 2 * width,
                                        values.data() + 3 * width};
                std::vector<float> v(16 * plane, 7.0f), v_ref(16 * plane, 7.0f);
                ks.winograd_input_f32(rows, width, first, count, -0.5f, v.data(), plane);
                winograd_input_portable_f32(rows, width, first, count, -0.5f, v_ref.data(), plane);
                bool same = true;  // NaN-aware, bit for bit
                for (std::size_t q = 0; q < v.size(); ++q)
                    same = same && std::memcmp(&v[q], &v_ref[q], sizeof(float)) == 0;
                CHECK_MESSAGE(same, name + ": input transform bits");

                const std::int64_t cols = 2 * count - (first % 2 == 0 ? 0 : 1);
                std::vector<float> out(2 * 2 * count, 3.0f), out_ref(out);
                float* out_rows[2] = {out.data(), first < 0 ? nullptr : out.data() + 2 * count};
                float* ref_rows[2] = {out_ref.data(),
                                      first < 0 ? nullptr : out_ref.data() + 2 * count};
                const float check = ks.winograd_output_f32(v_ref.data(), plane, count, 0.25f,
                                                           out_rows, cols);
                const float check_ref = winograd_output_portable_f32(v_ref.data(), plane, count,
                                                                     0.25f, ref_rows, cols);
                same = std::isnan(check) == std::isnan(check_ref) &&
                       (check == 0.0f || std::isnan(check));
                for (std::size_t q = 0; q < out.size(); ++q)
                    same = same && std::memcmp(&out[q], &out_ref[q], sizeof(float)) == 0;
                CHECK_MESSAGE(same, name + ": output transform bits and finiteness check");

                const float* g[2] = {values.data() + 1, first < 0 ? nullptr : values.data() + width};
                const std::int64_t g_cols = std::min(cols, width - 1);
                std::vector<float> d(16 * plane, 5.0f), d_ref(16 * plane, 5.0f);
                ks.winograd_gradient_f32(g, g_cols, count, d.data(), plane);
                winograd_gradient_portable_f32(g, g_cols, count, d_ref.data(), plane);
                same = true;
                for (std::size_t q = 0; q < d.size(); ++q)
                    same = same && std::memcmp(&d[q], &d_ref[q], sizeof(float)) == 0;
                CHECK_MESSAGE(same, name + ": gradient transform bits");
            }
    }
    set_gemm_isa(gemm_supported_isas().back());
}

TEST(conv2d_winograd_leaves_infinities_to_the_direct_sum) {
    // An infinity spreads over whole 4x4 tiles in the transforms (and inf - inf is NaN): any
    // output that is not finite sends the forward, dx and dweight back to the direct sum.
    Conv2dGeometry g = kWinogradCases[2];
    conv2d_check_geometry(g);
    std::vector<float> x = random_input(g, 1000);
    x[std::size_t(3 * g.width + 6)] = std::numeric_limits<float>::infinity();  // image 0, (3, 6)
    const auto w =
        sg_test::random_values<float>(std::size_t(g.out_channels * g.channels * 9), 1001);
    auto dy =
        sg_test::random_values<float>(std::size_t(g.batch * g.out_channels * g.out_pixels()), 1002);
    dy[std::size_t(4 * g.out_width + 4)] = -std::numeric_limits<float>::infinity();
    const std::vector<double> b(std::size_t(g.out_channels), 0.0);
    const Naive ref = naive_conv(g, std::vector<double>(x.begin(), x.end()),
                                 std::vector<double>(w.begin(), w.end()), b,
                                 std::vector<double>(dy.begin(), dy.end()), 0.0);
    std::vector<float> y(ref.y.size()), dx(ref.dx.size()), dw(ref.dw.size());
    conv2d_forward(g, x.data(), w.data(), static_cast<const float*>(nullptr), 0.0f, y.data());
    conv2d_backward(g, x.data(), w.data(), dy.data(), 0.0f, dx.data(), dw.data(), nullptr);
    for (const auto& [got, expected, what] :
         {std::make_tuple(&y, &ref.y, "y"), std::make_tuple(&dx, &ref.dx, "dx"),
          std::make_tuple(&dw, &ref.dw, "dweight")}) {
        int infinite = 0;
        for (std::size_t e = 0; e < got->size(); ++e) {
            const double want = (*expected)[e], have = (*got)[e];
            infinite += std::isinf(want) ? 1 : 0;
            const bool same = std::isfinite(want) ? sg_test::near(have, want, 1e-4, 1e-4)
                              : std::isnan(want)  ? std::isnan(have)
                                                  : have == want;
            if (!same) {
                CHECK_MESSAGE(false, std::string(what) + " at " + std::to_string(e) + ": " +
                                         std::to_string(have) + " vs " + std::to_string(want));
                break;
            }
        }
        CHECK_MESSAGE(infinite > 0, std::string(what) + ": the reference has infinities");
    }
}

TEST(conv2d_input_gradient_as_a_forward_from_16_channels) {
    // From 16 input channels dx is the forward of dy where that forward reads dy in place (on
    // AVX-512); with a batch below the thread count it gathers instead: the same bits either way.
    const int saved = num_threads();
    int i = 0;
    for (const Conv2dGeometry& geometry :
         {make(2, 16, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
          make(1, 16, 9, 11, 8, 3, 3, 1, 1, 2, 0, 1, 2, 1, 1, 1)}) {
        Conv2dGeometry g = geometry;
        conv2d_check_geometry(g);
        const std::string name = "16+ channels, case " + std::to_string(i);
        check_conv<float>(g, 0.0, 1200 + 10 * i++, name);
        const auto w = sg_test::random_values<float>(
            std::size_t(g.out_channels * g.weight_channels * 9), 1250);
        const auto dy = sg_test::random_values<float>(
            std::size_t(g.batch * g.out_channels * g.out_pixels()), 1251);
        std::vector<float> dx1(std::size_t(g.batch * g.channels * g.height * g.width)), dx2(dx1);
        set_num_threads(1);
        conv2d_backward(g, nullptr, w.data(), dy.data(), 0.0f, dx1.data(), nullptr, nullptr);
        set_num_threads(2);
        conv2d_backward(g, nullptr, w.data(), dy.data(), 0.0f, dx2.data(), nullptr, nullptr);
        CHECK_MESSAGE(dx1 == dx2, name + ": 1 and 2 threads");
    }
    set_num_threads(saved);
}

TEST(conv2d_backward_is_thread_count_independent) {
    const int saved = num_threads();
    Conv2dGeometry g = make(16, 8, 20, 20, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
    conv2d_check_geometry(g);
    const auto x = sg_test::random_values<float>(std::size_t(16 * 8 * 20 * 20), 500);
    const auto w = sg_test::random_values<float>(std::size_t(16 * 8 * 9), 501);
    const auto dy = sg_test::random_values<float>(std::size_t(16 * 16 * 20 * 20), 502);
    std::vector<float> dx1(x.size()), dw1(w.size()), db1(16), dx2(x.size()), dw2(w.size()), db2(16);
    set_num_threads(1);
    conv2d_backward(g, x.data(), w.data(), dy.data(), 0.0f, dx1.data(), dw1.data(), db1.data());
    set_num_threads(2);
    conv2d_backward(g, x.data(), w.data(), dy.data(), 0.0f, dx2.data(), dw2.data(), db2.data());
    CHECK(dx1 == dx2);
    CHECK(dw1 == dw2);
    CHECK(db1 == db2);
    set_num_threads(saved);
}

TEST(conv2d_winograd_is_thread_count_independent) {
    const int saved = num_threads();
    Conv2dGeometry g = kWinogradCases[4];
    conv2d_check_geometry(g);
    const auto x = random_input(g, 1100);
    const auto w =
        sg_test::random_values<float>(std::size_t(g.out_channels * g.channels * 9), 1101);
    const auto dy =
        sg_test::random_values<float>(std::size_t(g.batch * g.out_channels * g.out_pixels()), 1102);
    std::vector<float> y1(dy.size()), y2(dy.size()), dx1(x.size()), dx2(x.size());
    std::vector<float> dw1(w.size()), dw2(w.size());
    set_num_threads(1);
    conv2d_forward(g, x.data(), w.data(), static_cast<const float*>(nullptr), 0.0f, y1.data());
    conv2d_backward(g, x.data(), w.data(), dy.data(), 0.0f, dx1.data(), dw1.data(), nullptr);
    set_num_threads(2);
    conv2d_forward(g, x.data(), w.data(), static_cast<const float*>(nullptr), 0.0f, y2.data());
    conv2d_backward(g, x.data(), w.data(), dy.data(), 0.0f, dx2.data(), dw2.data(), nullptr);
    CHECK(y1 == y2);
    CHECK(dx1 == dx2);
    CHECK(dw1 == dw2);
    set_num_threads(saved);
}

TEST(conv2d_direct_weight_gradient_is_thread_count_independent) {
    // Batch 1: the threads share one image's row blocks; batch 3: chunks of images per thread.
    const int saved = num_threads();
    for (std::int64_t batch : {1, 3}) {
        Conv2dGeometry g = make(batch, 16, 24, 24, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
        conv2d_check_geometry(g);
        const auto x = random_input(g, 800);
        direct_applies(g, x, "thread case");
        const auto w = sg_test::random_values<float>(std::size_t(24 * 16 * 9), 801);
        const auto dy = sg_test::random_values<float>(std::size_t(batch * 24 * 24 * 24), 802);
        std::vector<float> dw1(w.size()), dw2(w.size());
        set_num_threads(1);
        conv2d_backward(g, x.data(), w.data(), dy.data(), 0.0f, nullptr, dw1.data(), nullptr);
        set_num_threads(2);
        conv2d_backward(g, x.data(), w.data(), dy.data(), 0.0f, nullptr, dw2.data(), nullptr);
        CHECK_MESSAGE(dw1 == dw2, "batch " + std::to_string(batch));
    }
    set_num_threads(saved);
}

TEST(im2col_matches_naive_gather_and_col2im_is_its_adjoint) {
    for (const Conv2dGeometry& geometry : kCases) {
        Conv2dGeometry g = geometry;
        g.batch = 1;
        conv2d_check_geometry(g);
        const std::int64_t pixels = g.out_pixels(), rows = g.cols_rows();
        const auto x =
            sg_test::random_values<double>(std::size_t(g.channels * g.height * g.width), 600);
        // A tile of the columns [p0, p1): the middle third of the output pixels (at least one).
        const std::int64_t p0 = pixels / 3, p1 = std::max(p0 + 1, 2 * pixels / 3), width = p1 - p0;
        std::vector<double> cols(std::size_t(rows * width));
        im2col(g, x.data(), 0.5, p0, p1, cols.data(), 2);
        bool ok = true;
        for (std::int64_t c = 0; c < g.channels && ok; ++c)
            for (std::int64_t ki = 0; ki < g.kh; ++ki)
                for (std::int64_t kj = 0; kj < g.kw; ++kj)
                    for (std::int64_t p = p0; p < p1; ++p) {
                        const std::int64_t oy = p / g.out_width, ox = p % g.out_width;
                        const double expected = tap(g, x, 0, c, oy * g.sh - g.pad_top + ki * g.dh,
                                                    ox * g.sw - g.pad_left + kj * g.dw, 0.5);
                        const std::int64_t row = (c * g.kh + ki) * g.kw + kj;
                        if (cols[std::size_t(row * width + p - p0)] != expected) ok = false;
                    }
        CHECK_MESSAGE(ok,
                      "im2col C=" + std::to_string(g.channels) + " H=" + std::to_string(g.height));
        // <im2col0(x), r> == <x, col2im(r)> with zero padding (col2im drops the padded taps).
        std::vector<double> zero_pad_cols(cols.size());
        im2col(g, x.data(), 0.0, p0, p1, zero_pad_cols.data(), 1);
        const auto r = sg_test::random_values<double>(cols.size(), 601);
        std::vector<double> back(x.size(), 0.0);
        col2im(g, r.data(), p0, p1, back.data(), 2);
        double lhs = 0, rhs = 0;
        for (std::size_t i = 0; i < r.size(); ++i) lhs += zero_pad_cols[i] * r[i];
        for (std::size_t i = 0; i < x.size(); ++i) rhs += x[i] * back[i];
        CHECK_MESSAGE(sg_test::near(lhs, rhs, 1e-12, 1e-12),
                      std::to_string(lhs) + " vs " + std::to_string(rhs));
    }
}

namespace {

// im2col_panels of a block of images side by side against the naive gather, in T, with panels of
// `width` lanes (0: as wide as the block).
template <typename T>
bool panels_match(const Conv2dGeometry& geometry, std::int64_t width) {
    Conv2dGeometry g = geometry;
    g.batch = 3;
    conv2d_check_geometry(g);
    const std::int64_t pixels = g.out_pixels(), image = g.channels * g.height * g.width;
    const std::int64_t rows_g = g.weight_channels * g.kh * g.kw;
    const auto x64 = sg_test::random_values<double>(std::size_t(3 * image), 610);
    const std::vector<T> x(x64.begin(), x64.end());
    // Images side by side, a tail of each image's pixels; a block inside the rows and columns.
    const std::int64_t first = pixels / 4, span = pixels - first, total = 3 * span;
    const std::int64_t r0 = rows_g > 2 ? 1 : 0, rows = rows_g > 2 ? rows_g - 2 : rows_g;
    const std::int64_t q0 = total > 2 ? 1 : 0, cols = total > 2 ? total - 2 : total;
    if (width == 0) width = cols;
    const std::int64_t panels = (cols + width - 1) / width;
    std::vector<T> dst(std::size_t(panels * rows * width), T(-1));
    im2col_panels(g, x.data(), {image, first, span}, T(0.5), r0, rows, q0, cols, width, dst.data());
    for (std::int64_t r = r0; r < r0 + rows; ++r)
        for (std::int64_t q = 0; q < panels * width; ++q) {
            double expected = 0.0;  // zero past the block's columns
            if (q < cols) {
                const std::int64_t col = q0 + q, n = col / span, p = first + col % span;
                const std::int64_t c = r / (g.kh * g.kw), ki = r / g.kw % g.kh, kj = r % g.kw;
                const std::int64_t iy = p / g.out_width * g.sh - g.pad_top + ki * g.dh;
                const std::int64_t ix = p % g.out_width * g.sw - g.pad_left + kj * g.dw;
                expected = double(T(tap(g, x64, n, c, iy, ix, 0.5)));
            }
            if (double(dst[std::size_t((q / width * rows + r - r0) * width + q % width)]) !=
                expected)
                return false;
        }
    return true;
}

}  // namespace

TEST(im2col_panels_matches_naive_gather_in_every_layout) {
    // float64 and the portable loops; float32 on every ISA (AVX-512: whole 16-lane panels go
    // through its vector routine) with panels of 8, 16 and 32 lanes and as wide as the block.
    for (const Conv2dGeometry& g : kCases) {
        for (std::int64_t width : {std::int64_t(8), std::int64_t(0)})
            CHECK_MESSAGE(panels_match<double>(g, width),
                          "float64 C=" + std::to_string(g.channels) +
                              " H=" + std::to_string(g.height) + " width=" + std::to_string(width));
        for (const std::string& isa : gemm_supported_isas()) {
            set_gemm_isa(isa);
            for (std::int64_t width :
                 {std::int64_t(8), std::int64_t(16), std::int64_t(32), std::int64_t(0)})
                CHECK_MESSAGE(panels_match<float>(g, width),
                              "float32 " + isa + " C=" + std::to_string(g.channels) + " H=" +
                                  std::to_string(g.height) + " width=" + std::to_string(width));
        }
        set_gemm_isa(gemm_supported_isas().back());
    }
    Conv2dGeometry g = kCases[0];
    conv2d_check_geometry(g);
    std::vector<double> x(std::size_t(g.channels * g.height * g.width)), dst(64);
    CHECK_THROWS(
        im2col_panels(g, x.data(), {0, 0, g.out_pixels() + 1}, 0.0, 0, 1, 0, 1, 8, dst.data()),
        std::invalid_argument, "conv2d: im2col_panels");
    CHECK_THROWS(
        im2col_panels(g, x.data(), {0, 0, 4}, 0.0, 0, g.cols_rows() + 1, 0, 1, 8, dst.data()),
        std::invalid_argument, "conv2d: im2col_panels");
}

TEST(conv2d_geometry_errors) {
    Conv2dGeometry g = make(1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1);
    g.weight_channels = 4;  // weight has 4 input channels but x has 3
    CHECK_THROWS(conv2d_check_geometry(g), std::invalid_argument, "conv2d: ");
    g = make(1, 3, 8, 8, 4, 3, 3, 0, 1, 0, 0, 0, 0, 1, 1, 1);  // zero stride
    CHECK_THROWS(conv2d_check_geometry(g), std::invalid_argument, "conv2d: ");
    g = make(1, 3, 2, 2, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1);  // kernel larger than the image
    CHECK_THROWS(conv2d_check_geometry(g), std::invalid_argument, "conv2d: ");
    g = make(1, 3, 8, 8, 4, 3, 3, 1, 1, -1, 0, 0, 0, 1, 1, 1);  // negative padding
    CHECK_THROWS(conv2d_check_geometry(g), std::invalid_argument, "conv2d: ");
    g = make(1, 4, 8, 8, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1,
             2);  // out_channels not divisible by groups
    CHECK_THROWS(conv2d_check_geometry(g), std::invalid_argument, "conv2d: ");
    g = make(std::int64_t(1) << 40, 1 << 20, 1 << 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1);
    CHECK_THROWS(conv2d_check_geometry(g), std::length_error, "conv2d: ");
    g = make(1, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1);
    conv2d_check_geometry(g);
    CHECK(g.out_height == 6 && g.out_width == 6);
}
