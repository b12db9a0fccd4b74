// conv2d_winograd.cpp: F(2x2, 3x3) forward and weight gradient: transforms around 16 GEMMs.
#include "conv2d_winograd.hpp"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <limits>
#include <vector>

#include "buffer.hpp"
#include "checked_math.hpp"
#include "gemm.hpp"
#include "gemm_kernels.hpp"
#include "threads.hpp"

namespace sg {

namespace gemm_detail {  // the portable transforms (the contracts: gemm_kernels.hpp)

// B^T d B for each tile, B^T = [[1,0,-1,0], [0,1,1,0], [0,-1,1,0], [0,1,0,-1]]: the padded patch
// rows d, then B^T d per column, then (B^T d) B per tile.
void winograd_input_portable_f32(const float* const rows[4], std::int64_t width,
                                 std::int64_t first, std::int64_t count, float pad, float* v,
                                 std::int64_t plane) {
    constexpr std::int64_t kWidth = 2 * kWinogradSegmentTiles + 2;
    const std::int64_t cols = 2 * count + 2;
    const std::int64_t lo = std::clamp<std::int64_t>(-first, 0, cols);
    const std::int64_t hi = std::clamp<std::int64_t>(width - first, lo, cols);
    float d[4][kWidth];
    for (int i = 0; i < 4; ++i) {
        std::fill(d[i], d[i] + cols, pad);
        if (rows[i] != nullptr && hi > lo)
            std::copy(rows[i] + (first + lo), rows[i] + (first + hi), d[i] + lo);
    }
    float e[4][kWidth];  // B^T d
    for (std::int64_t q = 0; q < cols; ++q) {
        e[0][q] = d[0][q] - d[2][q];
        e[1][q] = d[1][q] + d[2][q];
        e[2][q] = d[2][q] - d[1][q];
        e[3][q] = d[1][q] - d[3][q];
    }
    for (int i = 0; i < 4; ++i) {  // (B^T d) B, row i
        float *v0 = v + (4 * i) * plane, *v1 = v0 + plane, *v2 = v1 + plane, *v3 = v2 + plane;
        const float* r = e[i];
        for (std::int64_t k = 0; k < count; ++k) {
            const float a0 = r[2 * k], a1 = r[2 * k + 1], a2 = r[2 * k + 2], a3 = r[2 * k + 3];
            v0[k] = a0 - a2;
            v1[k] = a1 + a2;
            v2[k] = a2 - a1;
            v3[k] = a1 - a3;
        }
    }
}

// A^T m A + bias for each tile, A^T = [[1,1,1,0], [0,1,-1,-1]].
float winograd_output_portable_f32(const float* m, std::int64_t plane, std::int64_t count,
                                   float bias, float* const out[2], std::int64_t cols) {
    float r[4][kWinogradSegmentTiles];  // the tiles' outputs (0,0), (0,1), (1,0), (1,1)
    for (std::int64_t k = 0; k < count; ++k) {
        float top[4], bottom[4];  // A^T m
        for (int j = 0; j < 4; ++j) {
            top[j] = m[j * plane + k] + m[(4 + j) * plane + k] + m[(8 + j) * plane + k];
            bottom[j] = m[(4 + j) * plane + k] - m[(8 + j) * plane + k] - m[(12 + j) * plane + k];
        }
        r[0][k] = top[0] + top[1] + top[2] + bias;
        r[1][k] = top[1] - top[2] - top[3] + bias;
        r[2][k] = bottom[0] + bottom[1] + bottom[2] + bias;
        r[3][k] = bottom[1] - bottom[2] - bottom[3] + bias;
    }
    float check = 0.0f;  // x * 0 is 0 for finite x, NaN for an inf or a NaN
    for (int half = 0; half < 2; ++half) {
        if (out[half] == nullptr) continue;
        const float *left = r[2 * half], *right = r[2 * half + 1];
        for (std::int64_t q = 0; q < cols; ++q) {
            const float value = q % 2 == 0 ? left[q / 2] : right[q / 2];
            out[half][q] = value;
            check += value * 0.0f;
        }
    }
    return check;
}

// A g A^T for each tile, A = [[1,0], [1,1], [1,-1], [0,-1]] (the adjoint of the output transform).
void winograd_gradient_portable_f32(const float* const g[2], std::int64_t cols,
                                    std::int64_t count, float* d, std::int64_t plane) {
    float rows[2][2 * kWinogradSegmentTiles];
    for (int half = 0; half < 2; ++half) {
        std::fill(rows[half], rows[half] + 2 * count, 0.0f);
        if (g[half] != nullptr) std::copy(g[half], g[half] + cols, rows[half]);
    }
    for (std::int64_t k = 0; k < count; ++k) {
        const float g00 = rows[0][2 * k], g01 = rows[0][2 * k + 1];
        const float g10 = rows[1][2 * k], g11 = rows[1][2 * k + 1];
        const float ag[4][2] = {
            {g00, g01}, {g00 + g10, g01 + g11}, {g00 - g10, g01 - g11}, {-g10, -g11}};  // A g
        for (int i = 0; i < 4; ++i) {  // (A g) A^T, row i
            d[(4 * i + 0) * plane + k] = ag[i][0];
            d[(4 * i + 1) * plane + k] = ag[i][0] + ag[i][1];
            d[(4 * i + 2) * plane + k] = ag[i][0] - ag[i][1];
            d[(4 * i + 3) * plane + k] = -ag[i][1];
        }
    }
}

}  // namespace gemm_detail

namespace {

// Input and output channels from which the forward takes this form. Measured (benchmarks/NOTES.md,
// items 19 and 21, forward + backward against the direct forms): 64 to 256 channels 20-30% faster
// with the portable transforms; with the AVX-512 ones 32 channels 4-26% faster, 16 32-44% slower.
constexpr std::int64_t kWinogradMinChannels = 32;
// Bytes of one block's V and M together (per thread): the block's tiles are sized to this.
constexpr std::int64_t kBlockBytes = std::int64_t(2) << 20;
// The weight gradient's blocks (V and D, shared by the threads): the block's tiles are the depth
// of its products, so they are longer, up to the GEMM's 512-deep k block.
constexpr std::int64_t kGradBlockBytes = std::int64_t(8) << 20;
constexpr std::int64_t kGradBlockTiles = 512;
// Most tiles of one segment: a run of tiles along one tile row, transformed together.
constexpr std::int64_t kSegmentTiles = gemm_detail::kWinogradSegmentTiles;
// Floats between the 16 planes of U, V and M. The planes are often a power of two long, and 16
// streams at such a stride fall into one L1 set: the weight transform ran 4x slower unpadded.
constexpr std::int64_t kPlanePad = 16;

// The sizes of one call, and where the tiles of a block are.
struct Plan {
    std::int64_t channels, out_channels, height, width, out_height, out_width;
    std::int64_t pad_top, pad_left;
    std::int64_t tile_rows, tile_cols, tiles;  // tiles: 2x2 output blocks of all images
    std::int64_t block;                        // tiles per block (the last block may be shorter)
    std::int64_t u_plane, v_plane, m_plane;    // plane strides of U, V and M or D (floats)
    const gemm_detail::KernelSet* kernels;     // the transforms of the ISA in use
};

// A run of `count` tiles of one tile row: image `image`, tile row `ty`, tile columns from `tx`;
// `column` is its first tile's column in the block's V and M.
struct Segment {
    std::int64_t image, ty, tx, count, column;
};

// Runs body(), keeping the first exception in `error`: no exception may leave an OpenMP region.
template <typename Body>
void guarded(std::exception_ptr& error, Body&& body) {
    try {
        body();
    } catch (...) {
#pragma omp critical(sg_conv2d_winograd_error)
        if (!error) error = std::current_exception();
    }
}

// The segments of every block of tiles, in order: block b's are list[starts[b]] up to
// list[starts[b + 1]] (computed once per call; every channel's transforms walk them).
struct BlockSegments {
    std::vector<Segment> list;
    std::vector<std::int64_t> starts;
    std::int64_t blocks() const { return std::int64_t(starts.size()) - 1; }
};

BlockSegments block_segments(const Plan& p) {
    BlockSegments out;
    const std::int64_t per_image = p.tile_rows * p.tile_cols;
    for (std::int64_t first = 0; first < p.tiles; first += p.block) {
        out.starts.push_back(std::int64_t(out.list.size()));
        const std::int64_t end = std::min(p.tiles, first + p.block);
        for (std::int64_t t = first; t < end;) {
            const std::int64_t rest = t % per_image;
            Segment s{t / per_image, rest / p.tile_cols, rest % p.tile_cols, 0, t - first};
            s.count = std::min({p.tile_cols - s.tx, end - t, kSegmentTiles});
            out.list.push_back(s);
            t += s.count;
        }
    }
    out.starts.push_back(std::int64_t(out.list.size()));
    return out;
}

// transform_weight: weight [O,C,3,3] (flip: [C,O,3,3] read flipped) -> u [16][O, C], output
// channel o: u[xi][o][c] = (G w[o,c] G^T)[xi], G = [[1,0,0], [.5,.5,.5], [.5,-.5,.5], [0,0,1]].
void transform_weight(const Plan& p, const float* weight, bool flip, std::int64_t o, float* u) {
    const std::int64_t c_count = p.channels, o_count = p.out_channels;
    for (std::int64_t c = 0; c < c_count; ++c) {
        float k[9];
        if (flip) {
            const float* src = weight + (c * o_count + o) * 9;
            for (int t = 0; t < 9; ++t) k[t] = src[8 - t];
        } else {
            const float* src = weight + (o * c_count + c) * 9;
            for (int t = 0; t < 9; ++t) k[t] = src[t];
        }
        float gk[4][3];  // G k
        for (int j = 0; j < 3; ++j) {
            gk[0][j] = k[j];
            gk[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
            gk[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
            gk[3][j] = k[6 + j];
        }
        float* out = u + o * c_count + c;
        for (int i = 0; i < 4; ++i) {  // (G k) G^T, row i
            out[(4 * i + 0) * p.u_plane] = gk[i][0];
            out[(4 * i + 1) * p.u_plane] = 0.5f * (gk[i][0] + gk[i][1] + gk[i][2]);
            out[(4 * i + 2) * p.u_plane] = 0.5f * (gk[i][0] - gk[i][1] + gk[i][2]);
            out[(4 * i + 3) * p.u_plane] = gk[i][2];
        }
    }
}

// transform_input: the tiles of segment s of channel c, x [N,C,H,W] -> v [16][C, block]:
// v[xi][c][column + k] = (B^T d B)[xi], d the 4x4 patch of the padded image at (2 ty - pad_top,
// 2 (tx + k) - pad_left). Past the image (borders, and the rows and columns beyond the last output)
// reads pad_value.
void transform_input(const Plan& p, const float* x, float pad_value, const Segment& s,
                     std::int64_t c, float* v) {
    const float* plane = x + (s.image * p.channels + c) * p.height * p.width;
    const float* rows[4];
    for (int i = 0; i < 4; ++i) {
        const std::int64_t row = 2 * s.ty - p.pad_top + i;
        rows[i] = row < 0 || row >= p.height ? nullptr : plane + row * p.width;
    }
    p.kernels->winograd_input_f32(rows, p.width, 2 * s.tx - p.pad_left, s.count, pad_value,
                                  v + c * p.block + s.column, p.v_plane);
}

// The two rows of segment s's tiles in channel o of an output-shaped tensor t [N,O,Ho,Wo] (y or
// dy), from column 2 tx (null for the row past an odd Ho); returns the columns the tiles cover.
template <typename T>
std::int64_t tile_rows(const Plan& p, T* t, const Segment& s, std::int64_t o, T* rows[2]) {
    for (int half = 0; half < 2; ++half) {
        const std::int64_t row = 2 * s.ty + half;
        rows[half] = row >= p.out_height
                         ? nullptr
                         : t + ((s.image * p.out_channels + o) * p.out_height + row) * p.out_width +
                               2 * s.tx;
    }
    return std::min(2 * s.count, p.out_width - 2 * s.tx);
}

// transform_output: the tiles of segment s of output channel o, m [16][O, block] -> y [N,O,Ho,Wo]:
// the 2x2 blocks at (2 ty, 2 (tx + k)) plus bias; the row and column past an odd Ho or Wo are
// dropped. Returns 0 when every value written is finite, else NaN.
float transform_output(const Plan& p, const float* m, float bias, const Segment& s, std::int64_t o,
                       float* y) {
    float* out[2];
    const std::int64_t cols = tile_rows(p, y, s, o, out);
    return p.kernels->winograd_output_f32(m + o * p.block + s.column, p.m_plane, s.count, bias, out,
                                          cols);
}

// transform_gradient: the tiles of segment s of output channel o, dy [N,O,Ho,Wo] -> d [16][O,
// block]: d[xi][o][column + k] = (A g A^T)[xi], g the 2x2 block of dy at (2 ty, 2 (tx + k)), zero
// past Ho and Wo.
void transform_gradient(const Plan& p, const float* dy, const Segment& s, std::int64_t o,
                        float* d) {
    const float* g[2];
    const std::int64_t cols = tile_rows(p, dy, s, o, g);
    p.kernels->winograd_gradient_f32(g, cols, s.count, d + o * p.block + s.column, p.m_plane);
}

// transform_weight_grad: du [16][O, C] -> dweight [O,C,3,3] for output channel o: dweight[o,c] =
// G^T du[o,c] G (the adjoint of transform_weight). Returns 0 when every value is finite, else NaN.
float transform_weight_grad(const Plan& p, const float* du, std::int64_t o, float* dweight) {
    float check = 0.0f;
    for (std::int64_t c = 0; c < p.channels; ++c) {
        const float* in = du + o * p.channels + c;
        float u[4][4];
        for (int xi = 0; xi < 16; ++xi) u[xi / 4][xi % 4] = in[xi * p.u_plane];
        float gu[3][4];  // G^T u
        for (int j = 0; j < 4; ++j) {
            gu[0][j] = u[0][j] + 0.5f * (u[1][j] + u[2][j]);
            gu[1][j] = 0.5f * (u[1][j] - u[2][j]);
            gu[2][j] = 0.5f * (u[1][j] + u[2][j]) + u[3][j];
        }
        float* out = dweight + (o * p.channels + c) * 9;
        for (int i = 0; i < 3; ++i) {  // (G^T u) G, row i
            out[3 * i + 0] = gu[i][0] + 0.5f * (gu[i][1] + gu[i][2]);
            out[3 * i + 1] = 0.5f * (gu[i][1] - gu[i][2]);
            out[3 * i + 2] = 0.5f * (gu[i][1] + gu[i][2]) + gu[i][3];
            check += out[3 * i] * 0.0f + out[3 * i + 1] * 0.0f + out[3 * i + 2] * 0.0f;
        }
    }
    return check;
}

// The sizes of a call on geometry g: blocks of V and M (or D) within block_bytes, at most
// most_tiles tiles.
Plan make_plan(const Conv2dGeometry& g, std::int64_t block_bytes, std::int64_t most_tiles) {
    Plan p{};
    p.channels = g.channels;
    p.out_channels = g.out_channels;
    p.height = g.height;
    p.width = g.width;
    p.out_height = g.out_height;
    p.out_width = g.out_width;
    p.pad_top = g.pad_top;
    p.pad_left = g.pad_left;
    p.tile_rows = (g.out_height + 1) / 2;
    p.tile_cols = (g.out_width + 1) / 2;
    p.tiles = checked_mul(g.batch, checked_mul(p.tile_rows, p.tile_cols, "conv2d"), "conv2d");
    // Whole register tiles of the GEMM's width per block, sized by the bytes, never by the threads.
    const std::int64_t nr = gemm_block_sizes(false).nr;
    const std::int64_t per_tile = 16 * std::int64_t(sizeof(float)) * (p.channels + p.out_channels);
    p.block = std::min(most_tiles, std::max(nr, block_bytes / per_tile / nr * nr));
    p.block = std::min(p.block, (p.tiles + nr - 1) / nr * nr);
    p.u_plane = checked_add(checked_mul(p.out_channels, p.channels, "conv2d"), kPlanePad, "conv2d");
    p.v_plane = p.channels * p.block + kPlanePad;
    p.m_plane = p.out_channels * p.block + kPlanePad;
    p.kernels = &gemm_detail::active_kernels();
    return p;
}

}  // namespace

bool winograd_applies(const Conv2dGeometry& g) {
    return g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 &&
           g.groups == 1 && g.channels >= kWinogradMinChannels &&
           g.out_channels >= kWinogradMinChannels && g.batch > 0 && g.out_pixels() > 0;
}

bool winograd_forward(const Conv2dGeometry& g, const float* x, const float* weight, bool flip,
                      const float* bias, float pad_value, float* y, int threads) {
    const Plan p = make_plan(g, kBlockBytes, std::numeric_limits<std::int64_t>::max());
    const BlockSegments segments = block_segments(p);
    const std::int64_t per_worker = 16 * (p.v_plane + p.m_plane);
    Scratch u_scratch(std::size_t(checked_mul(16, p.u_plane, "conv2d")) * sizeof(float));
    Scratch work(std::size_t(checked_mul(per_worker, threads, "conv2d")) * sizeof(float));
    float* u = u_scratch.as<float>();

    std::exception_ptr error;
    int not_finite = 0;
#pragma omp parallel num_threads(threads) if (threads > 1) reduction(| : not_finite)
    {
        float* v = work.as<float>() + thread_index() * per_worker;
        float* m = v + 16 * p.v_plane;
        // U on all threads (complete after the loop's barrier); then each block: V, the 16
        // products, y.
#pragma omp for schedule(static)
        for (std::int64_t o = 0; o < p.out_channels; ++o) transform_weight(p, weight, flip, o, u);
#pragma omp for schedule(dynamic, 1)
        for (std::int64_t b = 0; b < segments.blocks(); ++b) {
            const std::int64_t first = b * p.block, end = std::min(p.tiles, first + p.block);
            const Segment *begin = segments.list.data() + segments.starts[b],
                          *stop = segments.list.data() + segments.starts[b + 1];
            guarded(error, [&] {
                for (std::int64_t c = 0; c < p.channels; ++c)
                    for (const Segment* s = begin; s < stop; ++s)
                        transform_input(p, x, pad_value, *s, c, v);
                for (int xi = 0; xi < 16; ++xi)  // M[xi] [O, tiles] = U[xi] [O, C] @ V[xi]
                    gemm(false, false, p.out_channels, end - first, p.channels, 1.0f,
                         u + xi * p.u_plane, p.channels, v + xi * p.v_plane, p.block, 0.0f,
                         m + xi * p.m_plane, p.block, 1);
                float check = 0.0f;
                for (std::int64_t o = 0; o < p.out_channels; ++o) {
                    const float b_o = bias != nullptr ? bias[o] : 0.0f;
                    for (const Segment* s = begin; s < stop; ++s)
                        check += transform_output(p, m, b_o, *s, o, y);
                }
                if (check != 0.0f) not_finite = 1;  // NaN != 0
            });
        }
    }
    if (error) std::rethrow_exception(error);
    return not_finite == 0;
}

bool winograd_weight_grad(const Conv2dGeometry& g, const float* x, const float* dy, float pad_value,
                          float* dweight, int threads) {
    const Plan p = make_plan(g, kGradBlockBytes, kGradBlockTiles);
    const BlockSegments segments = block_segments(p);
    // U holds dU; V and D (in M's place) one block of tiles, shared by the threads.
    Scratch u_scratch(std::size_t(checked_mul(16, p.u_plane, "conv2d")) * sizeof(float));
    Scratch work(std::size_t(16 * (p.v_plane + p.m_plane)) * sizeof(float));
    float *du = u_scratch.as<float>(), *v = work.as<float>(), *d = v + 16 * p.v_plane;

    std::exception_ptr error;
    int not_finite = 0;
#pragma omp parallel num_threads(threads) if (threads > 1) reduction(| : not_finite)
    {
        for (std::int64_t b = 0; b < segments.blocks(); ++b) {
            const std::int64_t first = b * p.block, end = std::min(p.tiles, first + p.block);
            const Segment *begin = segments.list.data() + segments.starts[b],
                          *stop = segments.list.data() + segments.starts[b + 1];
            // V of every input channel and D of every output channel, then (after the loop's
            // barrier) dU[xi] [O, C] += D[xi] [O, tiles] @ V[xi]^T, one plane per thread at a time.
#pragma omp for schedule(dynamic, 8)
            for (std::int64_t j = 0; j < p.channels + p.out_channels; ++j)
                guarded(error, [&] {
                    for (const Segment* s = begin; s < stop; ++s) {
                        if (j < p.channels)
                            transform_input(p, x, pad_value, *s, j, v);
                        else
                            transform_gradient(p, dy, *s, j - p.channels, d);
                    }
                });
#pragma omp for schedule(static)
            for (int xi = 0; xi < 16; ++xi)
                guarded(error, [&] {
                    gemm(false, true, p.out_channels, p.channels, end - first, 1.0f,
                         d + xi * p.m_plane, p.block, v + xi * p.v_plane, p.block,
                         b == 0 ? 0.0f : 1.0f, du + xi * p.u_plane, p.channels, 1);
                });
        }
        float check = 0.0f;
#pragma omp for schedule(static)
        for (std::int64_t o = 0; o < p.out_channels; ++o)
            check += transform_weight_grad(p, du, o, dweight);
        if (check != 0.0f) not_finite = 1;  // NaN != 0
    }
    if (error) std::rethrow_exception(error);
    return not_finite == 0;
}

}  // namespace sg
