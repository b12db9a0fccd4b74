// gemm_kernels.hpp: per-ISA routine contracts (micro-kernel, packing, im2col), block sizes, sets.
#pragma once
// This header is included by the per-ISA translation units (built with -mavx2 / -mavx512f ...), so
// it holds declarations and plain data only: no STL, no inline functions (the linker could pick an
// AVX-512 copy of an inline function for baseline callers).
#include <cstdint>

namespace sg::gemm_detail {

// ---- The micro-kernel contract ------------------------------------------------------------------
// kernel(k, a, b, alpha, beta, c, ldc): C[MR,NR] = alpha * A[MR,k] @ B[k,NR] + beta * C[MR,NR]
//   a: packed A micro-panel, k columns of MR contiguous values: a[p * MR + i] = A[i, p].
//   b: packed B micro-panel, k rows of NR contiguous values:    b[p * NR + j] = B[p, j].
//      Both are 64-byte aligned and zero-padded by the packing to full MR rows / NR columns.
//   c: row-major MR x NR tile with row stride ldc (elements). The kernel always writes the whole
//      tile; edge tiles (fewer than MR rows or NR columns of C left) are computed by the framework
//      into a local MR x NR tile with beta = 0 and the valid part is merged into C afterwards.
//   beta == 0 never reads C (NaN or garbage in C must not leak); beta == 1 adds C; otherwise
//   alpha * AB + beta * C. k == 0 is allowed (the product is then zero).
//   Each kernel sums over p = 0 .. k-1 in order, so a result depends only on the block sizes, never
//   on the number of threads.
using KernelF32 = void (*)(std::int64_t k, const float* a, const float* b, float alpha, float beta,
                           float* c, std::int64_t ldc);
using KernelF64 = void (*)(std::int64_t k, const double* a, const double* b, double alpha,
                           double beta, double* c, std::int64_t ldc);

// ---- The in-place micro-kernels (float32; conv2d_direct.cpp, and gemm.cpp for A) -------------
// kernel_in_place(k, a, b, offsets, beta, c, ldc): C[MR,NR] = A[MR,k] @ B[k,NR] + beta * C[MR,NR]
// with A packed as above and B row p the NR values b + offsets[p] .. b + offsets[p] + NR - 1, read
// where they are (no packing, no alignment). Same order of sums and beta rules as the kernel, so
// with the same A panels and k blocks its results are bit-identical to a packed product's.
using KernelInPlaceF32 = void (*)(std::int64_t k, const float* a, const float* b,
                                  const std::int64_t* offsets, float beta, float* c,
                                  std::int64_t ldc);
// kernel_in_place_a(k, a, offsets, b, beta, c, ldc): the same with B packed and A row i the k
// values a + offsets[i] .. a + offsets[i] + k - 1 read in place (conv2d's direct weight gradient;
// the GEMM's untransposed A when alpha == 1).
using KernelInPlaceAF32 = void (*)(std::int64_t k, const float* a, const std::int64_t* offsets,
                                   const float* b, float beta, float* c, std::int64_t ldc);

// ---- The packing contract (float32) ------------------------------------------------------------
// Both pack `count` values per step p = 0 .. kc-1 into ceil(count / width) consecutive micro-panels
// of kc x width values (width = MR or NR; dst 64-byte aligned), zero-padded from count up to the
// last panel's width; with q = panel * width + i:
//   pack_rows(src, ld, count, kc, width, dst): dst[panel][p][i] = src[q * ld + p]  (a transpose:
//       the stored rows become the panels' columns; A untransposed, B transposed)
//   pack_cols(src, ld, count, kc, width, dst): dst[panel][p][i] = src[p * ld + q]  (row copies:
//       A transposed, B untransposed)
// Only the first `count` rows (pack_rows) or columns (pack_cols) of src are read. A kernel set
// without them (null) uses the portable packing in gemm.cpp.
using PackF32 = void (*)(const float* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                         int width, float* dst);

// ---- im2col straight into packed panels (float32, unit column stride; see im2col_panels) ------
// A row of the im2col block: where its taps read in each image.
struct Im2colRow {
    std::int64_t channel;       // offset of the row's input channel plane
    std::int64_t iy_offset;     // input row = output row * stride_h + iy_offset
    std::int64_t ix_offset;     // input column = output column + ix_offset
    std::int64_t ox_lo, ox_hi;  // the output columns whose input column is inside the image
};
// A run of the block's columns within one output row of one image and one panel, at most 32
// lanes, the same for every row: output columns [ox, end) of output row oy, written from dst
// offset `out` (row 0).
struct Im2colPiece {
    std::int64_t image_offset;  // of the image in x
    std::int64_t oy, ox, end;
    std::int64_t out;
};
// im2col_pieces(x, height, width, stride_h, rows, row_count, row_stride, pieces, piece_count, pad,
// dst): for every row i and piece, dst[out + i * row_stride + (c - ox)] for c in [ox, end) is the
// input tap of output column c, or `pad` outside the image.
using Im2colPiecesF32 = void (*)(const float* x, std::int64_t height, std::int64_t width,
                                 std::int64_t stride_h, const Im2colRow* rows,
                                 std::int64_t row_count, std::int64_t row_stride,
                                 const Im2colPiece* pieces, std::int64_t piece_count, float pad,
                                 float* dst);
// The most lanes of one piece (the vector routine copies two 16-lane halves, without branches).
constexpr std::int64_t kIm2colPieceLanes = 32;

// ---- Winograd F(2x2, 3x3) tile transforms (float32; conv2d_winograd.cpp has the algorithm) -----
// Each works on `count` tiles side by side along one tile row (count <= kWinogradSegmentTiles);
// plane: the stride between the 16 planes xi = 4 i + j of V, M or D, where tile k is element k.
// Every vector form computes the portable form's sums in the same order: the same bits.
constexpr std::int64_t kWinogradSegmentTiles = 32;
// winograd_input(rows, width, first, count, pad, v, plane): v[xi][k] = (B^T d_k B)[xi], d_k the
// 4x4 patch whose row i is columns first + 2k .. first + 2k + 3 of rows[i] (an input row of
// `width` values, or null past the image); columns outside [0, width) read `pad`.
using WinogradInputF32 = void (*)(const float* const rows[4], std::int64_t width,
                                  std::int64_t first, std::int64_t count, float pad, float* v,
                                  std::int64_t plane);
// winograd_output(m, plane, count, bias, out, cols): out[r][2k + q] = (A^T m_k A)[r][q] + bias for
// the first `cols` output columns (2 count, or 2 count - 1 at an odd end) of the rows r with
// out[r] not null. Returns 0 when every value written is finite, else NaN.
using WinogradOutputF32 = float (*)(const float* m, std::int64_t plane, std::int64_t count,
                                    float bias, float* const out[2], std::int64_t cols);
// winograd_gradient(g, cols, count, d, plane): d[xi][k] = (A g_k A^T)[xi], g_k the 2x2 block at
// columns 2k, 2k + 1 of the rows g[0], g[1] (null: zeros), zero from column `cols` on.
using WinogradGradientF32 = void (*)(const float* const g[2], std::int64_t cols,
                                     std::int64_t count, float* d, std::int64_t plane);

// ---- The block sizes ----------------------------------------------------------------------------
// mr x nr: the register tile. kc: most depth of a packed block (the k range is cut into equal
// blocks of at most kc). An MR x KC micro-panel of A stays in L1 while the KC x NR micro-panels of
// the KC x NC block of B (in L2, one per thread) stream past it. mc: rows of the packed A block
// (MC x KC, shared by the threads, in L3). mc and nc are whole multiples of mr and nr.
struct BlockSizes {
    int mr, nr, kc, mc, nc;
};

// The one table of block sizes, one row per ISA and dtype.
//                                           mr  nr   kc    mc    nc
constexpr BlockSizes kGenericF32 = {         4,  8,  256,  1024,  256};
constexpr BlockSizes kGenericF64 = {         4,  4,  256,   512,  256};
constexpr BlockSizes kAvx2F32 = {            6, 16,  256,  1536,  384};
constexpr BlockSizes kAvx2F64 = {            6,  8,  256,   768,  256};
constexpr BlockSizes kAvx512F32 = {          8, 32,  512,  4080,  320};
constexpr BlockSizes kAvx512F64 = {          8, 16,  256,   960,  256};
// (AVX-512 float32 kc = 512: an A micro-panel is 16 KB of L1; a 512-deep product is one k block,
// so one barrier between the threads instead of two: +7% at n = 512, level at 1024 and 2048.)

// The largest register tile of any ISA (edge tiles are computed into a local buffer of this size).
constexpr int kMaxTileElements = 8 * 32;

// One ISA's kernels and block sizes, chosen once (see cpu_features.cpp).
struct KernelSet {
    const char* name;
    KernelF32 kernel_f32;
    BlockSizes f32;
    KernelF64 kernel_f64;
    BlockSizes f64;
    PackF32 pack_rows_f32;  // null: portable packing
    PackF32 pack_cols_f32;
    Im2colPiecesF32 im2col_pieces_f32;        // null: im2col.cpp's portable loop
    KernelInPlaceF32 kernel_in_place_f32;     // null: conv2d's forward gathers im2col blocks
    KernelInPlaceAF32 kernel_in_place_a_f32;  // null: so does its weight gradient; GEMMs pack A
    WinogradInputF32 winograd_input_f32;      // never null (the portable forms at least)
    WinogradOutputF32 winograd_output_f32;
    WinogradGradientF32 winograd_gradient_f32;
};

// The micro-kernels, one translation unit per ISA.
void kernel_generic_f32(std::int64_t k, const float* a, const float* b, float alpha, float beta,
                        float* c, std::int64_t ldc);
void kernel_generic_f64(std::int64_t k, const double* a, const double* b, double alpha,
                        double beta, double* c, std::int64_t ldc);
void kernel_avx2_f32(std::int64_t k, const float* a, const float* b, float alpha, float beta,
                     float* c, std::int64_t ldc);
void kernel_avx2_f64(std::int64_t k, const double* a, const double* b, double alpha, double beta,
                     double* c, std::int64_t ldc);
void kernel_avx512_f32(std::int64_t k, const float* a, const float* b, float alpha, float beta,
                       float* c, std::int64_t ldc);
void kernel_avx512_f64(std::int64_t k, const double* a, const double* b, double alpha,
                       double beta, double* c, std::int64_t ldc);

void kernel_in_place_avx512_f32(std::int64_t k, const float* a, const float* b,
                                const std::int64_t* offsets, float beta, float* c,
                                std::int64_t ldc);
void kernel_in_place_a_avx512_f32(std::int64_t k, const float* a, const std::int64_t* offsets,
                                  const float* b, float beta, float* c, std::int64_t ldc);

// The AVX-512 packing routines (8x8 transposes in ymm registers, masked row copies).
void pack_rows_avx512_f32(const float* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                          int width, float* dst);
void pack_cols_avx512_f32(const float* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                          int width, float* dst);
// The AVX-512 im2col gather (two masked 16-lane copies per piece).
void im2col_pieces_avx512_f32(const float* x, std::int64_t height, std::int64_t width,
                              std::int64_t stride_h, const Im2colRow* rows, std::int64_t row_count,
                              std::int64_t row_stride, const Im2colPiece* pieces,
                              std::int64_t piece_count, float pad, float* dst);

// The Winograd transforms: portable (conv2d_winograd.cpp) and AVX-512, 16 tiles per vector step
// (conv2d_winograd_avx512.cpp).
void winograd_input_portable_f32(const float* const rows[4], std::int64_t width,
                                 std::int64_t first, std::int64_t count, float pad, float* v,
                                 std::int64_t plane);
float winograd_output_portable_f32(const float* m, std::int64_t plane, std::int64_t count,
                                   float bias, float* const out[2], std::int64_t cols);
void winograd_gradient_portable_f32(const float* const g[2], std::int64_t cols,
                                    std::int64_t count, float* d, std::int64_t plane);
void winograd_input_avx512_f32(const float* const rows[4], std::int64_t width, std::int64_t first,
                               std::int64_t count, float pad, float* v, std::int64_t plane);
float winograd_output_avx512_f32(const float* m, std::int64_t plane, std::int64_t count,
                                 float bias, float* const out[2], std::int64_t cols);
void winograd_gradient_avx512_f32(const float* const g[2], std::int64_t cols, std::int64_t count,
                                  float* d, std::int64_t plane);

// The kernel set in use (never null; chosen at first use from the CPU and SIMPLEGRAD_ISA).
const KernelSet& active_kernels();

}  // namespace sg::gemm_detail
