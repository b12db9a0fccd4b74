// gemm.hpp: C = alpha * op(A) @ op(B) + beta * C for row-major float32/float64 matrices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "buffer.hpp"

namespace sg {

// gemm: op(A) [m,k] @ op(B) [k,n] -> C [m,n], all row-major; op(X) = X, or X^T when trans_x.
// lda/ldb/ldc are the row strides (elements) of A, B, C as stored. beta == 0 never reads C.
// `threads`: the most threads to use (0: the core's setting, 1: run on the calling thread only).
// Throws std::invalid_argument for negative sizes or leading dimensions too small.
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc, int threads = 0);
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc, int threads = 0);

// PackedA: op(A) [m,k] packed once into the GEMM's MR-row micro-panels over the whole depth, for
// several products with the same left operand (conv2d's weights across images and tiles). Holds
// its own copy (A may change afterwards) and the kernel set it was packed for, which the products
// then use even if the ISA is switched meanwhile. Throws like gemm for bad sizes.
template <typename T>
class PackedA {
public:
    PackedA(bool trans_a, std::int64_t m, std::int64_t k, const T* a, std::int64_t lda);
    std::int64_t rows() const { return m_; }
    std::int64_t depth() const { return k_; }
    const T* panels() const { return panels_.as<T>(); }  // [ceil(m / MR)][k][MR], zero-padded
    const void* kernels() const { return kernels_; }

private:
    std::int64_t m_, k_;
    const void* kernels_;  // the gemm_detail::KernelSet packed for
    Scratch panels_;
};

// C [m,n] = alpha * A @ op(B) + beta * C with A packed beforehand (m = a.rows(), k = a.depth()).
void gemm(const PackedA<float>& a, bool trans_b, std::int64_t n, float alpha, const float* b,
          std::int64_t ldb, float beta, float* c, std::int64_t ldc, int threads = 0);
void gemm(const PackedA<double>& a, bool trans_b, std::int64_t n, double alpha, const double* b,
          std::int64_t ldb, double beta, double* c, std::int64_t ldc, int threads = 0);

// PanelSource: op(B) produced block by block straight into the GEMM's packed NR-column
// micro-panels, instead of read from a stored matrix (conv2d's im2col matrix is never stored).
// pack(context, pack_rows, p0, kc, j0, cols, nr, dst) writes op(B)[p0:p0+kc, j0:j0+cols] as
// ceil(cols / nr) panels dst[panel][p][j] (64-byte aligned), zero past `cols`; `pack_rows` is the
// GEMM's own transposing packer (dst[panel][p][i] = src[(panel * width + i) * ld + p], see
// gemm_kernels.hpp), for a source that has the values as rows; `work` is the calling thread's own
// kc * nr elements (64-byte aligned) to gather such rows in. Called concurrently from the GEMM's
// threads (for disjoint blocks), inside its parallel region: it must be thread-safe, and must not
// throw or allocate (an exception cannot leave the region).
template <typename T>
using PackRows = void (*)(const T* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                          int width, T* dst);
template <typename T>
struct PanelSource {
    void (*pack)(const void* context, PackRows<T> pack_rows, std::int64_t p0, std::int64_t kc,
                 std::int64_t j0, std::int64_t cols, int nr, T* dst, T* work);
    const void* context;
};

// C [m,n] = alpha * op(A) @ B + beta * C with B [k,n] from a PanelSource; A stored or packed.
void gemm(bool trans_a, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const PanelSource<float>& b, float beta, float* c,
          std::int64_t ldc, int threads = 0);
void gemm(bool trans_a, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const PanelSource<double>& b, double beta, double* c,
          std::int64_t ldc, int threads = 0);
void gemm(const PackedA<float>& a, const PanelSource<float>& b, std::int64_t n, float alpha,
          float beta, float* c, std::int64_t ldc, int threads = 0);
void gemm(const PackedA<double>& a, const PanelSource<double>& b, std::int64_t n, double alpha,
          double beta, double* c, std::int64_t ldc, int threads = 0);

// The register tile and cache blocks the active kernels use for one dtype (see gemm_kernels.hpp).
struct GemmBlockSizes {
    int mr, nr, kc, mc, nc;
};
GemmBlockSizes gemm_block_sizes(bool float64);

// The micro-kernel ISA in use: "generic", "avx2" or "avx512". Chosen once from the CPU flags; the
// environment variable SIMPLEGRAD_ISA (read at first use) forces one. A forced ISA the CPU cannot
// run, or an unknown name, falls back to the best supported one and gemm_isa_warning() says so.
std::string gemm_isa();
std::vector<std::string> gemm_supported_isas();  // every ISA this CPU can run, "generic" first
// Switches the kernels for later calls; throws std::invalid_argument for an unknown name or an ISA
// this CPU cannot run.
void set_gemm_isa(const std::string& name);
std::string gemm_isa_warning();  // why SIMPLEGRAD_ISA was ignored, or "" when it was not

}  // namespace sg
