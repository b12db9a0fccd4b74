// test_pad.cpp: pad forward vs a naive per-axis index rule, backward as its adjoint, errors.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "pad.hpp"

using namespace sg;

namespace {

// The source index of padded position `i` (relative to the original start) along an axis of n,
// for widths within one reflection (width < n for reflect, <= n for symmetric and wrap); -1:
// constant.
std::int64_t naive_source(std::int64_t i, std::int64_t n, PadMode mode) {
    if (i >= 0 && i < n) return i;
    switch (mode) {
        case PadMode::constant:
            return -1;
        case PadMode::edge:
            return i < 0 ? 0 : n - 1;
        case PadMode::reflect:
            return i < 0 ? -i : 2 * (n - 1) - i;
        case PadMode::symmetric:
            return i < 0 ? -i - 1 : 2 * n - 1 - i;
        case PadMode::wrap:
            return (i % n + n) % n;
    }
    return -2;
}

const PadMode kModes[] = {PadMode::constant, PadMode::edge, PadMode::reflect, PadMode::symmetric,
                          PadMode::wrap};
const char* const kModeNames[] = {"constant", "edge", "reflect", "symmetric", "wrap"};

}  // namespace

TEST(pad_mode_names_and_aliases) {
    for (int m = 0; m < 5; ++m) CHECK(pad_mode_from_name(kModeNames[m]) == kModes[m]);
    CHECK(pad_mode_from_name("zeros") == PadMode::constant);
    CHECK(pad_mode_from_name("replicate") == PadMode::edge);
    CHECK(pad_mode_from_name("circular") == PadMode::wrap);
    CHECK_THROWS(pad_mode_from_name("mirror"), std::invalid_argument, "pad: unknown mode");
}

TEST(pad_index_map_matches_the_naive_rule) {
    for (int m = 0; m < 5; ++m)
        for (std::int64_t n = 1; n <= 6; ++n)
            for (std::int64_t before = 0; before <= n; ++before)
                for (std::int64_t after = 0; after <= n; ++after) {
                    if (kModes[m] == PadMode::reflect && (n == 1 || before >= n || after >= n))
                        continue;
                    auto map = pad_index_map(n, before, after, kModes[m]);
                    CHECK(std::int64_t(map.size()) == before + n + after);
                    for (std::int64_t o = 0; o < std::int64_t(map.size()); ++o)
                        CHECK_MESSAGE(map[std::size_t(o)] == naive_source(o - before, n, kModes[m]),
                                      std::string(kModeNames[m]) + " n=" + std::to_string(n) +
                                          " before=" + std::to_string(before) + " after=" +
                                          std::to_string(after) + " o=" + std::to_string(o));
                }
}

TEST(pad_forward_3d_matches_the_naive_gather) {
    const std::int64_t shape[] = {2, 3, 4}, before[] = {1, 2, 0}, after[] = {0, 1, 3};
    const auto x = sg_test::random_values<double>(24, 700);
    for (int m = 0; m < 5; ++m) {
        auto out_shape = pad_output_shape(shape, 3, before, after, kModes[m]);
        CHECK(out_shape == (std::vector<std::int64_t>{3, 6, 7}));
        std::vector<double> out(3 * 6 * 7);
        pad_forward(x.data(), shape, 3, before, after, kModes[m], -9.0, out.data());
        bool ok = true;
        for (std::int64_t a = 0; a < 3; ++a)
            for (std::int64_t b = 0; b < 6; ++b)
                for (std::int64_t c = 0; c < 7; ++c) {
                    std::int64_t sa = naive_source(a - 1, 2, kModes[m]),
                                 sb = naive_source(b - 2, 3, kModes[m]),
                                 sc = naive_source(c, 4, kModes[m]);
                    double expected =
                        sa < 0 || sb < 0 || sc < 0 ? -9.0 : x[std::size_t((sa * 3 + sb) * 4 + sc)];
                    if (out[std::size_t((a * 6 + b) * 7 + c)] != expected) ok = false;
                }
        CHECK_MESSAGE(ok, kModeNames[m]);
    }
}

TEST(pad_backward_is_the_adjoint_of_forward) {
    // <pad(x), g> == <x, pad_backward(g)> (constant fills carry no gradient; pad with 0 for the
    // check).
    const std::int64_t shape[] = {3, 5, 4}, before[] = {2, 1, 3}, after[] = {1, 4, 2};
    const auto x = sg_test::random_values<float>(60, 710);
    for (int m = 0; m < 5; ++m) {
        std::vector<float> out(6 * 10 * 9);
        pad_forward(x.data(), shape, 3, before, after, kModes[m], 0.0f, out.data());
        const auto g = sg_test::random_values<float>(out.size(), 711);
        std::vector<float> back(x.size(), 123.0f);  // must be overwritten, not added to
        pad_backward(g.data(), shape, 3, before, after, kModes[m], back.data());
        double lhs = 0, rhs = 0;
        for (std::size_t i = 0; i < out.size(); ++i) lhs += double(out[i]) * g[i];
        for (std::size_t i = 0; i < x.size(); ++i) rhs += double(x[i]) * back[i];
        CHECK_MESSAGE(
            sg_test::near(lhs, rhs, 1e-5, 1e-5),
            std::string(kModeNames[m]) + ": " + std::to_string(lhs) + " vs " + std::to_string(rhs));
    }
    // reflect with widths below the axis sizes, float64.
    const std::int64_t shape2[] = {4, 6}, before2[] = {3, 2}, after2[] = {2, 5};
    const auto x2 = sg_test::random_values<double>(24, 720);
    std::vector<double> out2(9 * 13);
    pad_forward(x2.data(), shape2, 2, before2, after2, PadMode::reflect, 0.0, out2.data());
    const auto g2 = sg_test::random_values<double>(out2.size(), 721);
    std::vector<double> back2(x2.size());
    pad_backward(g2.data(), shape2, 2, before2, after2, PadMode::reflect, back2.data());
    double lhs = 0, rhs = 0;
    for (std::size_t i = 0; i < out2.size(); ++i) lhs += out2[i] * g2[i];
    for (std::size_t i = 0; i < x2.size(); ++i) rhs += x2[i] * back2[i];
    CHECK(sg_test::near(lhs, rhs, 1e-12, 1e-12));
}

TEST(pad_bad_arguments_throw) {
    const std::int64_t shape[] = {0, 3}, before[] = {1, 0}, after[] = {0, 0}, negative[] = {-1, 0};
    CHECK_THROWS(pad_output_shape(shape, 2, before, after, PadMode::edge), std::invalid_argument,
                 "pad: ");
    CHECK(pad_output_shape(shape, 2, before, after, PadMode::constant) ==
          (std::vector<std::int64_t>{1, 3}));
    CHECK_THROWS(pad_output_shape(shape, 2, negative, after, PadMode::constant),
                 std::invalid_argument, "pad: ");
    CHECK_THROWS(pad_output_shape(shape, 0, before, after, PadMode::constant),
                 std::invalid_argument, "pad: ");
    const std::int64_t big[] = {std::int64_t(1) << 62, 1}, wide[] = {std::int64_t(1) << 62, 0};
    CHECK_THROWS(pad_output_shape(big, 2, wide, after, PadMode::constant), std::length_error,
                 "pad: ");
}
