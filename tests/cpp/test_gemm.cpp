// test_gemm.cpp: gemm (stored, packed-A and panel-source forms) vs a naive loop on every ISA this
// CPU runs: edge sizes, threads, errors.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.hpp"
#include "gemm.hpp"
#include "threads.hpp"

using namespace sg;

namespace {

// naive: op(A) [m,k] @ op(B) [k,n] -> C [m,n] in long double, alpha/beta as gemm defines them.
template <typename T>
std::vector<T> naive_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                          const std::vector<T>& a, std::int64_t lda, const std::vector<T>& b,
                          std::int64_t ldb, T beta, const std::vector<T>& c, std::int64_t ldc) {
    std::vector<T> out(c);
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
            long double sum = 0;
            for (std::int64_t p = 0; p < k; ++p) {
                long double x = ta ? a[p * lda + i] : a[i * lda + p];
                long double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                sum += x * y;
            }
            long double result = (long double)alpha * sum;
            if (beta != T(0)) result += (long double)beta * c[i * ldc + j];
            out[i * ldc + j] = T(result);
        }
    return out;
}

// One gemm call on padded (ld > width) operands, compared to the naive loop; C starts as NaN when
// beta == 0 (gemm must never read it then). Returns C.
template <typename T>
std::vector<T> check_case(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                          T beta, int threads, unsigned seed) {
    const std::int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
    const std::int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
    const std::int64_t lda = a_cols + 3, ldb = b_cols + 1, ldc = n + 2;
    auto a = sg_test::random_values<T>(std::size_t(a_rows * lda), seed);
    auto b = sg_test::random_values<T>(std::size_t(b_rows * ldb), seed + 1);
    auto c = sg_test::random_values<T>(std::size_t(std::max<std::int64_t>(m, 1) * ldc), seed + 2);
    if (beta == T(0))
        for (auto& v : c) v = std::numeric_limits<T>::quiet_NaN();
    auto expected = naive_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    std::vector<T> got(c);
    gemm(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, got.data(), ldc, threads);
    const double eps = std::numeric_limits<T>::epsilon();
    const double tol = 8 * eps * std::sqrt(double(k) + 1);
    const std::string where = std::string(" isa=") + gemm_isa() + " ta=" + std::to_string(ta) +
                              " tb=" + std::to_string(tb) + " m=" + std::to_string(m) +
                              " n=" + std::to_string(n) + " k=" + std::to_string(k);
    int bad = 0;
    for (std::int64_t i = 0; i < m && bad == 0; ++i)
        for (std::int64_t j = 0; j < ldc; ++j) {
            const std::size_t at = std::size_t(i * ldc + j);
            // Inside the matrix: close to the reference (scaled by the operands' size); the
            // padding columns past n: untouched.
            bool ok = j < n
                          ? sg_test::near(got[at], expected[at], tol, tol * (std::fabs(alpha) + 1))
                          : (std::isnan(c[at]) ? std::isnan(got[at]) : got[at] == c[at]);
            if (!ok) {
                CHECK_MESSAGE(ok, where + " at (" + std::to_string(i) + ", " + std::to_string(j) +
                                      "): " + std::to_string(got[at]) + " vs " +
                                      std::to_string(expected[at]));
                ++bad;
                break;
            }
        }
    return got;
}

// Sizes below, at and above every ISA's register tile (mr in 4..12, nr in 4..48, gemm_kernels.hpp);
// gemm_tiles_are_covered_by_the_edge_sizes checks the list still brackets the table.
const std::int64_t kEdgeSizes[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  11, 12, 13,
                                   15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49};

template <typename T>
void sweep_edge_sizes() {
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        unsigned seed = 1;
        for (std::int64_t m : kEdgeSizes)
            for (std::int64_t n : kEdgeSizes) {
                const std::int64_t k = (m * 7 + n * 3) % 37 + 1;
                const bool ta = (m + n) % 2 == 1, tb = (m * n) % 3 == 0;
                check_case<T>(ta, tb, m, n, k, T(1), T(0), 1, ++seed);
            }
    }
    set_gemm_isa(gemm_supported_isas().back());
}

}  // namespace

TEST(gemm_edge_sizes_float32) { sweep_edge_sizes<float>(); }
TEST(gemm_edge_sizes_float64) { sweep_edge_sizes<double>(); }

TEST(gemm_transposes_alpha_beta) {
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        for (int t = 0; t < 4; ++t) {
            check_case<float>(t & 1, t & 2, 37, 45, 29, 0.5f, 0.0f, 1, 10 + t);
            check_case<float>(t & 1, t & 2, 37, 45, 29, -1.5f, 1.0f, 1, 20 + t);
            check_case<double>(t & 1, t & 2, 19, 23, 41, 2.0, -0.25, 1, 30 + t);
        }
    }
    set_gemm_isa(gemm_supported_isas().back());
}

TEST(gemm_blocks_larger_than_the_cache_blocks) {
    // k beyond kc (<= 512), n beyond nc (<= 384), m beyond mc for the smaller tables.
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        check_case<float>(false, false, 70, 420, 600, 1.0f, 0.0f, 0, 40);
        check_case<double>(true, false, 1100, 20, 300, 1.0, 0.0, 0, 41);
    }
    set_gemm_isa(gemm_supported_isas().back());
}

TEST(gemm_empty_and_zero_depth) {
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        check_case<float>(false, false, 5, 7, 0, 1.0f, 0.0f, 1,
                          50);                                      // k == 0: C = 0 (NaN not read)
        check_case<double>(false, true, 6, 9, 0, 1.0, 0.5, 1, 51);  // k == 0, beta: C = beta * C
        check_case<float>(false, false, 0, 7, 4, 1.0f, 0.0f, 1, 52);  // nothing to compute
        check_case<float>(false, false, 3, 0, 4, 1.0f, 0.0f, 1, 53);
    }
    set_gemm_isa(gemm_supported_isas().back());
}

TEST(gemm_result_does_not_depend_on_thread_count) {
    const int saved = num_threads();
    set_num_threads(2);
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        auto one = check_case<float>(false, true, 300, 260, 270, 1.0f, 0.0f, 1, 60);
        auto two = check_case<float>(false, true, 300, 260, 270, 1.0f, 0.0f, 2, 60);
        // Bit-identical (memcmp: the untouched padding columns hold NaN, which == would reject).
        CHECK_MESSAGE(one.size() == two.size() &&
                          std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0,
                      "isa=" + isa);
    }
    set_gemm_isa(gemm_supported_isas().back());
    set_num_threads(saved);
}

TEST(gemm_idle_threads_take_panels_of_the_last_blocks) {
    // 2 threads, 3 column chunks of 2 register tiles, two or more k blocks: where the threads
    // claim chunks (A read in place: float32 on AVX-512), the thread with one chunk then takes A
    // panels of the other's blocks. Same bits as one thread, and the naive loop's values
    // (check_case), on every call of a few.
    const int saved = num_threads();
    set_num_threads(2);
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        const std::int64_t n = 6 * gemm_block_sizes(false).nr;
        auto one = check_case<float>(false, false, 500, n, 700, 1.0f, 0.5f, 1, 61);
        for (int call = 0; call < 5; ++call) {
            auto two = check_case<float>(false, false, 500, n, 700, 1.0f, 0.5f, 2, 61);
            CHECK_MESSAGE(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0,
                          "isa=" + isa + " call " + std::to_string(call));
        }
    }
    set_gemm_isa(gemm_supported_isas().back());
    set_num_threads(saved);
}

namespace {

// A PanelSource reading a stored row-major B [k, n] (ld = n), counting its calls; it fills its
// work area (kc * nr elements, 64-byte aligned, the thread's own) and counts misaligned ones.
template <typename T>
struct StoredSource {
    const T* b;
    std::int64_t ld;
    mutable std::atomic<int> calls{0}, misaligned{0};
    static void pack(const void* context, PackRows<T>, std::int64_t p0, std::int64_t kc,
                     std::int64_t j0, std::int64_t cols, int nr, T* dst, T* work) {
        const auto& s = *static_cast<const StoredSource*>(context);
        ++s.calls;
        if (reinterpret_cast<std::uintptr_t>(work) % 64 != 0) ++s.misaligned;
        for (std::int64_t i = 0; i < kc * nr; ++i) work[i] = T(-1);
        const std::int64_t padded = (cols + nr - 1) / nr * nr;
        for (std::int64_t q = 0; q < padded; ++q)
            for (std::int64_t p = 0; p < kc; ++p)
                dst[(q / nr * kc + p) * nr + q % nr] =
                    q < cols ? s.b[(p0 + p) * s.ld + j0 + q] : T(0);
    }
};

// The packed-A and panel-source forms give the stored form's bits: same blocks, same sums.
template <typename T>
void check_packed_forms(bool ta, std::int64_t m, std::int64_t n, std::int64_t k, T beta,
                        int threads, unsigned seed, T alpha = T(1.5)) {
    const std::int64_t lda = (ta ? m : k) + 2;
    auto a = sg_test::random_values<T>(std::size_t((ta ? k : m) * lda + 1), seed);
    auto b = sg_test::random_values<T>(std::size_t(k * n + 1), seed + 1);
    auto c0 = sg_test::random_values<T>(std::size_t(m * n + 1), seed + 2);
    auto stored = c0, packed = c0, sourced = c0, both = c0;
    gemm(ta, false, m, n, k, alpha, a.data(), lda, b.data(), n, beta, stored.data(), n, threads);
    const PackedA<T> pa(ta, m, k, a.data(), lda);
    gemm(pa, false, n, alpha, b.data(), n, beta, packed.data(), n, threads);
    const StoredSource<T> source{b.data(), n};
    const PanelSource<T> panels{StoredSource<T>::pack, &source};
    gemm(ta, m, n, k, alpha, a.data(), lda, panels, beta, sourced.data(), n, threads);
    gemm(pa, panels, n, alpha, beta, both.data(), n, threads);
    const std::size_t bytes = stored.size() * sizeof(T);
    const std::string where = " isa=" + gemm_isa() + " m=" + std::to_string(m) +
                              " n=" + std::to_string(n) + " k=" + std::to_string(k);
    CHECK_MESSAGE(std::memcmp(stored.data(), packed.data(), bytes) == 0, "PackedA" + where);
    CHECK_MESSAGE(std::memcmp(stored.data(), sourced.data(), bytes) == 0, "PanelSource" + where);
    CHECK_MESSAGE(std::memcmp(stored.data(), both.data(), bytes) == 0, "both" + where);
    CHECK_MESSAGE(m * n * k == 0 || source.calls > 0, "the source was used" + where);
    CHECK_MESSAGE(source.misaligned == 0, "the work area is 64-byte aligned" + where);
}

}  // namespace

TEST(gemm_packed_a_and_panel_source_match_the_stored_form) {
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        for (std::int64_t m : {1, 7, 8, 9, 33})
            for (std::int64_t n : {1, 31, 33, 70}) {
                check_packed_forms<float>((m + n) % 2 == 1, m, n, 29, 0.0f, 1, unsigned(m * n));
                check_packed_forms<double>((m + n) % 2 == 0, m, n, 13, 0.5, 1, unsigned(m + n));
            }
        check_packed_forms<float>(false, 300, 700, 500, 1.0f, 2, 70);  // several blocks, threads
        check_packed_forms<float>(true, 20, 900, 400, 0.0f, 2, 71);    // rows split, threads
        check_packed_forms<double>(false, 5, 6, 0, 0.5, 1, 72);        // k == 0: beta * C
        // alpha == 1 with A stored untransposed: read in place (AVX-512 float32), not packed --
        // edge rows, two k blocks, rows split over the threads, beta 0 / 1 / other.
        check_packed_forms<float>(false, 13, 45, 1100, 0.5f, 2, 73, 1.0f);
        check_packed_forms<float>(false, 100, 32, 600, 1.0f, 2, 74, 1.0f);  // rows split
        check_packed_forms<float>(false, 300, 700, 500, 0.0f, 2, 75, 1.0f);
        check_packed_forms<float>(false, 9, 33, 29, 0.0f, 1, 76, 1.0f);
    }
    set_gemm_isa(gemm_supported_isas().back());
}

TEST(gemm_packed_a_keeps_its_kernels_and_checks_its_input) {
    auto isas = gemm_supported_isas();
    std::vector<float> a(6 * 5), b(5 * 4), c1(6 * 4), c2(6 * 4);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i % 7) - 3.0f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(i % 5) - 2.0f;
    set_gemm_isa(isas.front());
    const PackedA<float> pa(false, 6, 5, a.data(), 5);
    gemm(false, false, 6, 4, 5, 1.0f, a.data(), 5, b.data(), 4, 0.0f, c1.data(), 4);
    set_gemm_isa(isas.back());  // packed for the first ISA's tiles: still used with its kernels
    gemm(pa, false, 4, 1.0f, b.data(), 4, 0.0f, c2.data(), 4);
    CHECK(c1 == c2);
    CHECK_THROWS(PackedA<float>(false, 6, 5, a.data(), 4), std::invalid_argument, "gemm: ");
    CHECK_THROWS(PackedA<float>(false, -1, 5, a.data(), 5), std::invalid_argument, "gemm: ");
    CHECK_THROWS(PackedA<float>(false, 2, 5, nullptr, 5), std::invalid_argument, "gemm: ");
}

TEST(gemm_isa_selection) {
    auto isas = gemm_supported_isas();
    CHECK(!isas.empty() && isas.front() == "generic");
    set_gemm_isa("generic");
    CHECK(gemm_isa() == "generic");
    GemmBlockSizes generic = gemm_block_sizes(false);
    CHECK(generic.mr > 0 && generic.nr > 0 && generic.mc % generic.mr == 0 &&
          generic.nc % generic.nr == 0);
    CHECK_THROWS(set_gemm_isa("sse9"), std::invalid_argument, "set_gemm_isa: unknown ISA");
    set_gemm_isa(isas.back());
    CHECK(gemm_isa() == isas.back());
}

TEST(gemm_bad_arguments_throw) {
    std::vector<float> a(64), b(64), c(64);
    CHECK_THROWS(gemm(false, false, -1, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2),
                 std::invalid_argument, "gemm: ");
    CHECK_THROWS(gemm(false, false, 4, 4, 4, 1.0f, a.data(), 3, b.data(), 4, 0.0f, c.data(), 4),
                 std::invalid_argument, "gemm: ");  // lda < k
    CHECK_THROWS(gemm(false, false, 4, 4, 4, 1.0f, a.data(), 4, b.data(), 4, 0.0f, c.data(), 3),
                 std::invalid_argument, "gemm: ");  // ldc < n
    CHECK_THROWS(gemm(true, false, 4, 5, 3, 1.0f, a.data(), 3, b.data(), 5, 0.0f, c.data(), 5),
                 std::invalid_argument, "gemm: ");  // A^T stored [k,m]: lda < m
}

TEST(gemm_tiles_are_covered_by_the_edge_sizes) {
    // Each active tile size t (every ISA, both dtypes) has t - 1, t and t + 1 in kEdgeSizes.
    auto listed = [](std::int64_t size) {
        for (std::int64_t s : kEdgeSizes)
            if (s == size) return true;
        return false;
    };
    for (const std::string& isa : gemm_supported_isas()) {
        set_gemm_isa(isa);
        for (bool float64 : {false, true}) {
            GemmBlockSizes b = gemm_block_sizes(float64);
            for (int t : {b.mr, b.nr})
                CHECK_MESSAGE(listed(t - 1) && listed(t) && listed(t + 1),
                              isa + " tile " + std::to_string(t));
        }
    }
    set_gemm_isa(gemm_supported_isas().back());
}
