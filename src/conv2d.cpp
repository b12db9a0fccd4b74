// conv2d.cpp: conv2d forward (implicit im2col + GEMM) and backward (GEMM + col2im, chunked sums).
#include "conv2d.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "buffer.hpp"
#include "checked_math.hpp"
#include "conv2d_direct.hpp"
#include "conv2d_winograd.hpp"
#include "gemm.hpp"
#include "im2col.hpp"
#include "threads.hpp"

#ifdef SIMPLEGRAD_OPENMP
#include <omp.h>
#endif

namespace sg {

namespace {

// The forward and the weight gradient never store an im2col matrix: its blocks are produced
// straight into the GEMM's packed panels (ColumnSource). The input gradient's columns, and the
// transposed and 1x1 weight-gradient forms, use the stored matrix, tiled:
// most bytes of im2col columns one thread holds; larger images are processed in column tiles.
constexpr std::int64_t kColumnScratchBytes = std::int64_t(2) << 20;
// Most bytes of one group of small images side by side (im2col columns and staged outputs): small
// images are where one wide GEMM beats many narrow ones, and their tensors are small anyway.
constexpr std::int64_t kGroupScratchBytes = std::int64_t(8) << 20;
// GEMMs see at least this many columns where possible: images with fewer output pixels are put
// side by side in one im2col matrix (one GEMM per group of images, results copied out).
constexpr std::int64_t kGroupColumns = 1024;
// The weight and bias gradients are summed over the batch in this many chunks (fewer for small
// batches), each into its own accumulator, then reduced in chunk order: the result never depends
// on the thread count.
constexpr std::int64_t kWeightGradChunks = 8;
// Input channels per group from which dx is computed as a forward convolution of dy (see
// input_gradient_as_forward); below it, as weight^T @ dy and col2im, except from
// kTransposedDirectMinChannels where that forward reads dy in place (conv2d_direct.hpp).
constexpr std::int64_t kTransposedMinChannels = 64;
constexpr std::int64_t kTransposedDirectMinChannels = 16;

[[noreturn]] void fail(const std::string& message) {
    throw std::invalid_argument("conv2d: " + message);
}

std::int64_t checked_add(std::int64_t a, std::int64_t b) { return sg::checked_add(a, b, "conv2d"); }
std::int64_t checked_mul(std::int64_t a, std::int64_t b) { return sg::checked_mul(a, b, "conv2d"); }

std::string pair(std::int64_t a, std::int64_t b) {
    return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

// 2 x the multiply-adds of the forward of g (checked g): the thread count follows it.
std::int64_t forward_flops(const Conv2dGeometry& g) {
    return checked_mul(checked_mul(2 * g.batch, g.out_channels),
                       checked_mul(g.weight_channels * g.kh * g.kw, g.out_pixels()));
}

// Runs body(i, thread) for i in [0, count) on `threads` threads (dynamic schedule); the first
// exception thrown by any iteration is rethrown on the calling thread once the loop has finished.
template <typename Body>
void parallel_for(std::int64_t count, int threads, Body&& body) {
    if (threads <= 1 || count <= 1) {
        for (std::int64_t i = 0; i < count; ++i) body(i, 0);
        return;
    }
    std::exception_ptr error;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (std::int64_t i = 0; i < count; ++i) {
        try {
            body(i, thread_index());
        } catch (...) {
#pragma omp critical(sg_conv2d_error)
            if (!error) error = std::current_exception();
        }
    }
    if (error) std::rethrow_exception(error);
}

// Runs body(b, inner) for the `count` images of one block: spread over the images (one parallel
// region, inner = 1) when there are `threads` > 1 and several images, else on the images in turn
// with `threads` inside each. A parallel region per small image costs more than the image's work.
template <typename Body>
void for_images(std::int64_t count, int threads, Body&& body) {
    if (threads > 1 && count > 1) {
        parallel_for(count, threads, [&](std::int64_t b, int) { body(b, 1); });
    } else {
        for (std::int64_t b = 0; b < count; ++b) body(b, threads);
    }
}

// Output columns per tile: every pixel when the im2col matrix fits the scratch budget, else even
// tiles.
template <typename T>
std::int64_t tile_columns(const Conv2dGeometry& g) {
    const std::int64_t pixels = g.out_pixels();
    if (g.pointwise()) return pixels;
    const std::int64_t row_bytes =
        std::max<std::int64_t>(1, g.cols_rows()) * std::int64_t(sizeof(T));
    const std::int64_t fit = std::max<std::int64_t>(64, kColumnScratchBytes / row_bytes);
    const std::int64_t tiles = (pixels + fit - 1) / fit;
    return (pixels + tiles - 1) / tiles;
}

// Images per forward GEMM: 1, or enough small images to fill kGroupColumns (within the scratch
// budget). Depends on the sizes only, never on the thread count.
template <typename T>
std::int64_t images_per_gemm(const Conv2dGeometry& g) {
    const std::int64_t pixels = g.out_pixels();
    if (g.pointwise() || 2 * pixels > kGroupColumns) return 1;
    const std::int64_t row_bytes =
        std::max<std::int64_t>(1, g.cols_rows() + g.out_channels) * std::int64_t(sizeof(T));
    const std::int64_t fit = kGroupScratchBytes / row_bytes;
    return std::max<std::int64_t>(1, std::min({g.batch, kGroupColumns / pixels, fit / pixels}));
}

// Share of a GEMM's register tiles doing useful work for an m x n result (edge tiles are padded).
double tile_use(std::int64_t m, std::int64_t n, int mr, int nr) {
    const double rows = double((m + mr - 1) / mr * mr), cols = double((n + nr - 1) / nr * nr);
    return double(m) / rows * double(n) / cols;
}

// Whether the weight gradient [og, rows] is better computed as its transpose [rows, og].
template <typename T>
bool prefer_transposed(std::int64_t og, std::int64_t rows) {
    const GemmBlockSizes b = gemm_block_sizes(sizeof(T) == sizeof(double));
    return tile_use(rows, og, b.mr, b.nr) > tile_use(og, rows, b.mr, b.nr);
}

// Sum of p[0, count) in a fixed order: 8 interleaved partial sums (vectorisable), then combined.
template <typename T>
double fixed_order_sum(const T* p, std::int64_t count) {
    T lanes[8] = {};
    std::int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += p[i + l];
    double total = 0;
    for (int l = 0; l < 8; ++l) total += double(lanes[l]);
    for (; i < count; ++i) total += double(p[i]);
    return total;
}

template <typename T>
void fill(T* p, std::int64_t count, T value) {
    std::fill(p, p + count, value);
}

// The weights of each group packed once for the GEMMs of every image and tile: weight_g [og,
// rows_g] for the forward, or its transpose [rows_g, og] for the input gradient.
template <typename T>
std::vector<std::unique_ptr<PackedA<T>>> pack_weights(const Conv2dGeometry& g, const T* weight,
                                                      bool transposed) {
    const std::int64_t og = g.out_channels / g.groups, rows_g = g.weight_channels * g.kh * g.kw;
    std::vector<std::unique_ptr<PackedA<T>>> packed;
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
        const T* w = weight + grp * og * rows_g;
        const std::int64_t ld = std::max<std::int64_t>(1, rows_g);
        packed.push_back(transposed ? std::make_unique<PackedA<T>>(true, rows_g, og, w, ld)
                                    : std::make_unique<PackedA<T>>(false, og, rows_g, w, ld));
    }
    return packed;
}

// The im2col matrix of one conv group over a block of images side by side, produced straight into
// the GEMM's packed B panels (PanelSource): `x` is the group's first channel in the block's first
// image. No full im2col matrix is ever stored.
template <typename T>
struct ColumnSource {
    const Conv2dGeometry* g;
    const T* x;
    ColumnLayout layout;
    T pad_value;

    // For the forward, op(B) = cols [rows_g, columns]: the k range is rows, the n range columns.
    static void pack(const void* context, PackRows<T>, std::int64_t p0, std::int64_t kc,
                     std::int64_t j0, std::int64_t cols, int nr, T* dst, T*) {
        const auto& s = *static_cast<const ColumnSource*>(context);
        im2col_panels(*s.g, s.x, s.layout, s.pad_value, p0, kc, j0, cols, nr, dst);
    }
    // For the weight gradient, op(B) = cols^T [columns, rows_g]: each panel's rows of cols are
    // gathered side by side into the GEMM's work block (nr x kc), then transposed by its packer.
    static void pack_transposed(const void* context, PackRows<T> pack_rows, std::int64_t p0,
                                std::int64_t kc, std::int64_t j0, std::int64_t cols, int nr,
                                T* dst, T* rows) {
        const auto& s = *static_cast<const ColumnSource*>(context);
        for (std::int64_t r = 0; r < cols; r += nr) {
            const std::int64_t count = std::min<std::int64_t>(nr, cols - r);
            im2col_panels(*s.g, s.x, s.layout, s.pad_value, j0 + r, count, p0, kc, kc, rows);
            pack_rows(rows, kc, count, kc, nr, dst + r * kc);
        }
    }
};

// y = conv2d(x, weight) + bias; `winograd`: whether the Winograd form may be tried (not when this
// is already the direct sum's recomputation of a Winograd result that was not finite).
template <typename T>
void forward_impl(const Conv2dGeometry& geometry, const T* x, const T* weight, const T* bias,
                  T pad_value, T* y, bool winograd = true) {
    Conv2dGeometry g = geometry;
    conv2d_check_geometry(g);
    const std::int64_t n = g.batch, pixels = g.out_pixels(),
                       image = g.channels * g.height * g.width;
    const std::int64_t og = g.out_channels / g.groups, rows_g = g.weight_channels * g.kh * g.kw;
    if (n == 0 || g.out_channels == 0) return;
    if ((x == nullptr && image > 0) || (weight == nullptr && og * rows_g > 0) || y == nullptr)
        fail("forward: null pointer");
    const bool pointwise = g.pointwise();
    const int threads = threads_for(forward_flops(g));
    if constexpr (std::is_same_v<T, float>) {
        // float32 3x3 stride 1 with many channels: Winograd's F(2x2, 3x3) (conv2d_winograd.hpp),
        // unless an output came out inf or NaN, which the direct sum below then recomputes.
        if (winograd && winograd_applies(g) &&
            winograd_forward(g, x, weight, false, bias, pad_value, y, threads))
            return;
    }
    const auto weights = pack_weights(g, weight, false);
    if constexpr (std::is_same_v<T, float>) {
        // float32 with stride 1: read in place from a padded copy of each image, one image per
        // thread (when every thread gets one), when that beats the gather (see conv2d_direct.hpp).
        const auto direct = threads <= n ? DirectConv2d::forward_plan(g, *weights[0]) : nullptr;
        if (direct != nullptr) {
            const std::int64_t per_worker = direct->scratch_floats();
            Scratch scratch(std::size_t(checked_mul(per_worker, threads)) * sizeof(T));
            parallel_for(n, threads, [&](std::int64_t i, int worker) {
                direct->forward(weights, x + i * image, bias, pad_value,
                                y + i * g.out_channels * pixels,
                                scratch.as<T>() + worker * per_worker);
            });
            return;
        }
    }
    // Blocks of `per_gemm` images, one GEMM per conv group each: y_g [og, count * pixels] =
    // weight_g [og, rows_g] @ cols_g [rows_g, count * pixels], written to y directly for one image
    // or to a staging block [O, count * pixels] copied out for several.
    // Block b holds images [b * n / blocks, (b + 1) * n / blocks). When the threads share out the
    // blocks, their number is a multiple of the threads, so no thread gets a block more. (No
    // element's sum depends on the blocks: the forward's bits never depend on the thread count.)
    const std::int64_t group = images_per_gemm<T>(g);
    std::int64_t blocks = (n + group - 1) / group;
    const bool over_blocks = threads > 1 && blocks >= threads;
    if (over_blocks) blocks = std::min(n, (blocks + threads - 1) / threads * threads);
    const int workers = over_blocks ? threads : 1;
    const std::int64_t per_gemm = (n + blocks - 1) / blocks;  // the most images in a block
    const std::int64_t per_worker = per_gemm > 1 ? g.out_channels * per_gemm * pixels : 0;
    Scratch scratch(std::size_t(std::max<std::int64_t>(1, per_worker * workers)) * sizeof(T));

    auto one_block = [&](std::int64_t block, int worker, int inner) {
        const std::int64_t first = block * n / blocks, count = (block + 1) * n / blocks - first;
        const std::int64_t width = count * pixels;
        T* out =
            count > 1 ? scratch.as<T>() + worker * per_worker : y + first * g.out_channels * pixels;
        for (std::int64_t grp = 0; grp < g.groups; ++grp) {
            T* c = out + grp * og * width;
            const T* xg = x + first * image + grp * g.weight_channels * g.height * g.width;
            if (rows_g == 0) {
                fill(c, og * width, T(0));
            } else if (pointwise) {  // x is its own im2col matrix [C, H*W]
                gemm(*weights[std::size_t(grp)], false, width, T(1), xg, pixels, T(0), c, width,
                     inner);
            } else {
                const ColumnSource<T> cols{&g, xg, {image, 0, pixels}, pad_value};
                const PanelSource<T> source{ColumnSource<T>::pack, &cols};
                gemm(*weights[std::size_t(grp)], source, width, T(1), T(0), c, width, inner);
            }
        }
        // Bias (and, for several images, the copy out of the staging block).
        if (count == 1 && bias == nullptr) return;
        for_images(count, inner, [&](std::int64_t b, int) {
            for (std::int64_t o = 0; o < g.out_channels; ++o) {
                const T* from = out + o * width + b * pixels;
                T* to = y + ((first + b) * g.out_channels + o) * pixels;
                const T value = bias != nullptr ? bias[o] : T(0);
                for (std::int64_t p = 0; p < pixels; ++p) to[p] = from[p] + value;
            }
        });
    };
    if (over_blocks) {
        parallel_for(blocks, threads,
                     [&](std::int64_t block, int worker) { one_block(block, worker, 1); });
    } else {
        for (std::int64_t block = 0; block < blocks; ++block) one_block(block, 0, threads);
    }
}

// The geometry of dx as a forward convolution of dy (see transposed_forward), checked.
Conv2dGeometry transposed_geometry(const Conv2dGeometry& g) {
    Conv2dGeometry t = g;
    t.channels = g.out_channels;
    t.height = g.out_height;
    t.width = g.out_width;
    t.out_channels = g.channels;
    t.weight_channels = g.out_channels / g.groups;
    t.pad_top = g.dh * (g.kh - 1) - g.pad_top;
    t.pad_bottom = g.dh * (g.kh - 1) - g.pad_bottom;
    t.pad_left = g.dw * (g.kw - 1) - g.pad_left;
    t.pad_right = g.dw * (g.kw - 1) - g.pad_right;
    conv2d_check_geometry(t);
    return t;
}

// Whether all `count` values are finite (no inf, no NaN).
template <typename T>
bool all_finite(const T* values, std::int64_t count) {
    constexpr int kLanes = 16;  // independent sums: a loop the compiler vectorizes
    T check[kLanes] = {};       // v * 0 is 0 for finite v, NaN for an inf or a NaN
    std::int64_t i = 0;
    for (; i + kLanes <= count; i += kLanes)
        for (int l = 0; l < kLanes; ++l) check[l] += values[i + l] * T(0);
    for (; i < count; ++i) check[0] += values[i] * T(0);
    T total = T(0);
    for (int l = 0; l < kLanes; ++l) total += check[l];
    return total == T(0);
}

// Whether dx is better computed as the forward convolution of dy with the flipped, transposed
// weights (no col2im; the forward's implicit im2col): with stride 1, padding within the dilated
// kernel, and enough input channels per group that the GEMM's M = C/groups keeps it efficient (its
// im2col matrix has O/groups * kh * kw rows); from 16 channels where that forward can read dy
// in place (float32 on AVX-512, conv2d_direct.hpp; through the gather instead, for a batch below
// the thread count, it still beats col2im). Measured in benchmarks/NOTES.md (items 4 and 20).
// Never depends on the thread count: the two forms' sums differ.
template <typename T>
bool input_gradient_as_forward(const Conv2dGeometry& g) {
    const std::int64_t reach_h = g.dh * (g.kh - 1), reach_w = g.dw * (g.kw - 1);
    // An empty image has an empty dx (and its dy, all padding, may be wider than the kernel allows
    // the transposed form's padded dy to be): col2im's path, which writes nothing.
    if (g.sh != 1 || g.sw != 1 || g.pointwise() || g.pad_top > reach_h || g.pad_bottom > reach_h ||
        g.pad_left > reach_w || g.pad_right > reach_w || g.height == 0 || g.width == 0)
        return false;
    if (g.weight_channels >= kTransposedMinChannels) return true;
    if constexpr (std::is_same_v<T, float>)
        return g.weight_channels >= kTransposedDirectMinChannels &&
               DirectConv2d::forward_applies(transposed_geometry(g));
    return false;
}

// dx [N,C,H,W] = conv2d(dy [N,O,Ho,Wo], w' [C, O/groups, kh, kw]) with stride 1, the same dilation
// and groups, padding reach - pad on each side (reach = dilation * (k - 1)), and
// w'[grp*Cg + c, o, ki, kj] = weight[grp*og + o, c, kh-1-ki, kw-1-kj]: each dx element sums
// dy[o, iy + pad_top - ki*dh, ix + pad_left - kj*dw] * weight[o, c, ki, kj], as col2im would.
template <typename T>
void transposed_forward(const Conv2dGeometry& g, const T* weight, const T* dy, T* dx) {
    const std::int64_t og = g.out_channels / g.groups, cg = g.weight_channels;
    const std::int64_t taps = g.kh * g.kw;
    const Conv2dGeometry t = transposed_geometry(g);
    if constexpr (std::is_same_v<T, float>) {  // the Winograd form reads the weights flipped itself
        const int threads = threads_for(forward_flops(t));
        if (winograd_applies(t) &&
            winograd_forward(t, dy, weight, true, nullptr, T(0), dx, threads))
            return;
    }
    Scratch flipped(std::size_t(g.out_channels * cg * taps) * sizeof(T));
    T* w = flipped.as<T>();
    // A strided copy from a weight that is usually cold in cache: on all threads from 128K values
    // (16x256x14x14, 2 threads: 1.0 -> 0.4-0.7 ms of a 60 ms forward+backward).
    const int threads = threads_for(checked_mul(g.out_channels * cg * taps, 8));
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static) if (threads > 1)
    for (std::int64_t grp = 0; grp < g.groups; ++grp)
        for (std::int64_t c = 0; c < cg; ++c)
            for (std::int64_t o = 0; o < og; ++o)
                for (std::int64_t tap = 0; tap < taps; ++tap)
                    w[((grp * cg + c) * og + o) * taps + tap] =
                        weight[((grp * og + o) * cg + c) * taps + (taps - 1 - tap)];
    forward_impl(t, dy, w, static_cast<const T*>(nullptr), T(0), dx, false);
}

template <typename T>
void backward_impl(const Conv2dGeometry& geometry, const T* x, const T* weight, const T* dy,
                   T pad_value, T* dx, T* dweight, T* dbias) {
    Conv2dGeometry g = geometry;
    conv2d_check_geometry(g);
    const std::int64_t n = g.batch, pixels = g.out_pixels(),
                       image = g.channels * g.height * g.width;
    const std::int64_t og = g.out_channels / g.groups, rows_g = g.weight_channels * g.kh * g.kw;
    const std::int64_t weight_size = g.out_channels * rows_g;
    if (dy == nullptr && n > 0 && g.out_channels > 0) fail("backward: null dy");
    if (dx != nullptr && weight == nullptr && weight_size > 0) fail("backward: null weight");
    if (dweight != nullptr && x == nullptr && image > 0 && n > 0) fail("backward: null x");
    const int threads = threads_for(forward_flops(g));

    // The weight and bias gradients are summed over the batch in `reduced_chunks` chunks of images,
    // each into its own accumulator, then over the chunks in order: any thread count, same bits.
    const std::int64_t reduced_chunks = std::min(n, kWeightGradChunks);
    // Bias gradient of image i added to acc [O] (doubles, one per chunk), each row in fixed order.
    auto bias_image = [&](std::int64_t i, double* acc) {
        for (std::int64_t o = 0; o < g.out_channels; ++o)
            acc[o] += fixed_order_sum(dy + (i * g.out_channels + o) * pixels, pixels);
    };
    std::vector<double> bias_partials(
        std::size_t(dbias != nullptr ? reduced_chunks * g.out_channels : 0), 0.0);
    auto reduce_bias = [&]() {
        for (std::int64_t o = 0; o < g.out_channels; ++o) {
            double total = 0;
            for (std::int64_t chunk = 0; chunk < reduced_chunks; ++chunk)
                total += bias_partials[std::size_t(chunk * g.out_channels + o)];
            dbias[o] = T(total);
        }
    };
    auto bias_only = [&]() {
        if (dbias == nullptr) return;
        parallel_for(reduced_chunks, threads, [&](std::int64_t chunk, int) {
            for (std::int64_t i = chunk * n / reduced_chunks; i < (chunk + 1) * n / reduced_chunks;
                 ++i)
                bias_image(i, bias_partials.data() + chunk * g.out_channels);
        });
        reduce_bias();
    };
    if ((dx == nullptr && dweight == nullptr) || n == 0 || g.out_channels == 0 || rows_g == 0) {
        if (dx != nullptr) fill(dx, n * image, T(0));
        if (dweight != nullptr) fill(dweight, weight_size, T(0));
        bias_only();
        return;
    }

    // The forward of dy reads dy's zero padding too: 0 * inf or 0 * NaN in the weight would give
    // NaN where the true sum has no such term, so a weight that is not finite goes to col2im.
    if (dx != nullptr && input_gradient_as_forward<T>(g) && all_finite(weight, weight_size)) {
        transposed_forward(g, weight, dy, dx);
        if (dweight == nullptr && dbias == nullptr) return;
        dx = nullptr;  // done: the chunks below compute the weight and bias gradients only
    }
    if constexpr (std::is_same_v<T, float>) {
        // float32 3x3 stride 1 with many channels: the weight gradient by the Winograd form too
        // (conv2d_winograd.hpp), unless a value came out inf or NaN: then the chunks below.
        if (dx == nullptr && dweight != nullptr && winograd_applies(g) &&
            winograd_weight_grad(g, x, dy, pad_value, dweight, threads)) {
            bias_only();
            return;
        }
    }
    const bool pointwise = g.pointwise();
    const std::int64_t tile = tile_columns<T>(g);
    // Work units: chunks of images. The weight/bias gradients need the fixed chunking; dx does not.
    const std::int64_t chunks = dweight != nullptr || dbias != nullptr ? reduced_chunks : n;
    const bool over_chunks = threads > 1 && chunks >= threads;
    const int workers = over_chunks ? threads : 1;
    // Small images go side by side into one im2col matrix (and one dy block) per GEMM.
    const std::int64_t per_gemm = images_per_gemm<T>(g);
    // The weight gradient per group is either dy_g @ cols_g^T [og, rows_g] straight into dweight
    // (chunk 0) and chunk accumulators, or, when the GEMM's register tile fits the transposed shape
    // better, cols_g @ dy_g^T [rows_g, og] in accumulators for every chunk, transposed by the
    // reduction.
    // float32 with stride 1 and no dx left to do: each image's transposed weight gradient read in
    // place from its padded copy (see conv2d_direct.hpp).
    std::unique_ptr<DirectConv2d> direct;
    if constexpr (std::is_same_v<T, float>)
        if (dx == nullptr && dweight != nullptr)
            direct = DirectConv2d::weight_grad_plan(g, x, pad_value);
    const bool transposed =
        dweight != nullptr && (direct != nullptr || prefer_transposed<T>(og, rows_g));
    // Per worker: stored columns (dx's, or the transposed weight gradient's) for a tile or a block
    // of images, then a block's dy gathered side by side; or the direct form's scratch.
    const bool stored_cols = direct == nullptr && !pointwise && (dx != nullptr || transposed);
    const std::int64_t block_columns = per_gemm > 1 ? per_gemm * pixels : tile;
    const std::int64_t cols_size = stored_cols ? g.cols_rows() * block_columns : 0;
    const std::int64_t per_worker =
        direct != nullptr ? direct->scratch_floats()
                          : cols_size + (per_gemm > 1 ? g.out_channels * per_gemm * pixels : 0);
    Scratch scratch(std::size_t(std::max<std::int64_t>(1, checked_mul(per_worker, workers))) *
                    sizeof(T));
    const std::int64_t partial_count = dweight == nullptr ? 0 : transposed ? chunks : chunks - 1;
    Scratch partials(std::size_t(std::max<std::int64_t>(1, partial_count * weight_size)) *
                     sizeof(T));
    const auto weights_t =
        dx != nullptr ? pack_weights(g, weight, true) : std::vector<std::unique_ptr<PackedA<T>>>();

    auto one_chunk = [&](std::int64_t chunk, int worker, int inner) {
        const std::int64_t first_image = chunk * n / chunks, end_image = (chunk + 1) * n / chunks;
        T* cols = scratch.as<T>() + worker * per_worker;
        T* dw = dweight == nullptr ? nullptr
                : transposed       ? partials.as<T>() + chunk * weight_size
                : chunk == 0       ? dweight
                                   : partials.as<T>() + (chunk - 1) * weight_size;
        double* db = dbias == nullptr ? nullptr : bias_partials.data() + chunk * g.out_channels;
        if (direct != nullptr) {
            if constexpr (std::is_same_v<T, float>)
                for (std::int64_t i = first_image; i < end_image; ++i) {
                    if (db != nullptr) bias_image(i, db);
                    direct->weight_grad(x + i * image, dy + i * g.out_channels * pixels, pad_value,
                                        i == first_image ? 0.0f : 1.0f, dw, cols, inner);
                }
            return;
        }
        bool first = true;
        // Blocks of work: column tiles of one image, or `count` small images side by side.
        for (std::int64_t i = first_image; i < end_image; i += per_gemm) {
            const std::int64_t count = std::min(per_gemm, end_image - i);
            if (dx != nullptr && !pointwise)  // col2im adds
                for_images(count, inner,
                           [&](std::int64_t b, int) { fill(dx + (i + b) * image, image, T(0)); });
            if (db != nullptr)
                for (std::int64_t b = i; b < i + count; ++b) bias_image(b, db);
            for (std::int64_t p0 = 0; p0 < pixels; p0 += tile) {
                const std::int64_t p1 = std::min(pixels, p0 + tile), span = p1 - p0;
                const std::int64_t width = count * span;
                // The block's dy [O, width]: in place for one image, else gathered after the cols.
                const T* dyb = dy + i * g.out_channels * pixels + p0;
                std::int64_t lddy = pixels;
                if (count > 1) {
                    T* staging = cols + cols_size;
                    for_images(count, inner, [&](std::int64_t b, int) {
                        for (std::int64_t o = 0; o < g.out_channels; ++o) {
                            const T* from = dy + ((i + b) * g.out_channels + o) * pixels + p0;
                            std::copy(from, from + span, staging + o * width + b * span);
                        }
                    });
                    dyb = staging;
                    lddy = width;
                }
                if (dw != nullptr && !pointwise && !transposed) {
                    // dweight_g [og, rows_g] += dy_g [og, width] @ cols_g^T [width, rows_g], the
                    // columns produced straight into the GEMM's panels
                    const T beta = first ? T(0) : T(1);
                    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
                        const T* xg = x + i * image + grp * g.weight_channels * g.height * g.width;
                        const ColumnSource<T> cols_g{&g, xg, {image, p0, span}, pad_value};
                        gemm(false, og, rows_g, width, T(1), dyb + grp * og * lddy, lddy,
                             PanelSource<T>{ColumnSource<T>::pack_transposed, &cols_g}, beta,
                             dw + grp * og * rows_g, rows_g, inner);
                    }
                    first = false;
                } else if (dw != nullptr) {
                    // dweight_g [og, rows_g] += dy_g [og, width] @ cols_g^T [width, rows_g], or
                    // its transpose [rows_g, og] += cols_g [rows_g, width] @ dy_g^T [width, og]
                    const T* bmat = x + i * image + p0;  // pointwise: x is the im2col matrix
                    std::int64_t ldb = pixels;
                    if (!pointwise) {
                        for_images(count, inner, [&](std::int64_t b, int threads_in) {
                            im2col(g, x + (i + b) * image, pad_value, p0, p1, cols + b * span,
                                   threads_in, width);
                        });
                        bmat = cols;
                        ldb = width;
                    }
                    const T beta = first ? T(0) : T(1);
                    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
                        const T* dy_g = dyb + grp * og * lddy;
                        const T* cols_g = bmat + grp * rows_g * ldb;
                        T* dw_g = dw + grp * og * rows_g;
                        if (transposed)
                            gemm(false, true, rows_g, og, width, T(1), cols_g, ldb, dy_g, lddy,
                                 beta, dw_g, og, inner);
                        else
                            gemm(false, true, og, rows_g, width, T(1), dy_g, lddy, cols_g, ldb,
                                 beta, dw_g, rows_g, inner);
                    }
                    first = false;
                }
                if (dx != nullptr) {
                    // dcols_g [rows_g, width] = weight_g^T [rows_g, og] @ dy_g [og, width]; col2im
                    T* c = pointwise ? dx + i * image + p0 : cols;
                    const std::int64_t ldc = pointwise ? pixels : width;
                    for (std::int64_t grp = 0; grp < g.groups; ++grp)
                        gemm(*weights_t[std::size_t(grp)], false, width, T(1),
                             dyb + grp * og * lddy, lddy, T(0), c + grp * rows_g * ldc, ldc, inner);
                    if (!pointwise)
                        for_images(count, inner, [&](std::int64_t b, int threads_in) {
                            col2im(g, cols + b * span, p0, p1, dx + (i + b) * image, threads_in,
                                   width);
                        });
                }
            }
        }
    };
    if (over_chunks) {
        parallel_for(chunks, threads,
                     [&](std::int64_t chunk, int worker) { one_chunk(chunk, worker, 1); });
    } else {
        for (std::int64_t chunk = 0; chunk < chunks; ++chunk) one_chunk(chunk, 0, threads);
    }
    if (dbias != nullptr) reduce_bias();
    // Reduce the chunk accumulators into dweight in chunk order (element-wise: any thread count).
    if (transposed) {
        // Blocks of 16 rows r of [groups, rows_g, og]: their og-long rows stay in L1 across the
        // block while dweight [groups, og, rows_g] is written 16 contiguous values at a time.
        const T* part = partials.as<T>();
        constexpr std::int64_t kRows = 16;
        const std::int64_t blocks = (rows_g + kRows - 1) / kRows;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
        for (std::int64_t b = 0; b < g.groups * blocks; ++b) {
            const std::int64_t grp = b / blocks, r0 = b % blocks * kRows;
            const std::int64_t r1 = std::min(rows_g, r0 + kRows);
            for (std::int64_t o = 0; o < og; ++o)
                for (std::int64_t r = r0; r < r1; ++r) {
                    const std::int64_t source = (grp * rows_g + r) * og + o;
                    T total = part[source];
                    for (std::int64_t k = 1; k < partial_count; ++k)
                        total += part[k * weight_size + source];
                    dweight[(grp * og + o) * rows_g + r] = total;
                }
        }
    } else if (partial_count > 0) {
        const T* part = partials.as<T>();
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
        for (std::int64_t e = 0; e < weight_size; ++e) {
            T total = dweight[e];
            for (std::int64_t k = 0; k < partial_count; ++k) total += part[k * weight_size + e];
            dweight[e] = total;
        }
    }
}

}  // namespace

void conv2d_check_geometry(Conv2dGeometry& g) {
    if (g.batch < 0 || g.channels < 0 || g.height < 0 || g.width < 0 || g.out_channels < 0 ||
        g.weight_channels < 0)
        fail("negative dimension");
    if (g.kh < 1 || g.kw < 1) fail("kernel size must be positive, got " + pair(g.kh, g.kw));
    if (g.sh < 1 || g.sw < 1) fail("stride must be positive, got " + pair(g.sh, g.sw));
    if (g.dh < 1 || g.dw < 1) fail("dilation must be positive, got " + pair(g.dh, g.dw));
    if (g.groups < 1) fail("groups must be positive, got " + std::to_string(g.groups));
    if (g.pad_top < 0 || g.pad_bottom < 0 || g.pad_left < 0 || g.pad_right < 0)
        fail("padding must be non-negative, got (" + std::to_string(g.pad_top) + ", " +
             std::to_string(g.pad_bottom) + ", " + std::to_string(g.pad_left) + ", " +
             std::to_string(g.pad_right) + ")");
    if (g.channels % g.groups != 0)
        fail("x has " + std::to_string(g.channels) +
             " channels, not divisible by groups=" + std::to_string(g.groups));
    if (g.out_channels % g.groups != 0)
        fail("weight has " + std::to_string(g.out_channels) +
             " output channels, not divisible by groups=" + std::to_string(g.groups));
    if (checked_mul(g.weight_channels, g.groups) != g.channels) {
        if (g.groups == 1)
            fail("weight has " + std::to_string(g.weight_channels) + " input channels but x has " +
                 std::to_string(g.channels));
        fail("weight has " + std::to_string(g.weight_channels) +
             " input channels per group but x has " + std::to_string(g.channels) + " channels in " +
             std::to_string(g.groups) + " groups (expected " +
             std::to_string(g.channels / g.groups) + ")");
    }
    const std::int64_t kernel_h = checked_add(checked_mul(g.dh, g.kh - 1), 1);
    const std::int64_t kernel_w = checked_add(checked_mul(g.dw, g.kw - 1), 1);
    const std::int64_t padded_h = checked_add(checked_add(g.height, g.pad_top), g.pad_bottom);
    const std::int64_t padded_w = checked_add(checked_add(g.width, g.pad_left), g.pad_right);
    if (kernel_h > padded_h || kernel_w > padded_w)
        fail("kernel of size " + pair(kernel_h, kernel_w) +
             " (with dilation) is larger than the padded input " + pair(padded_h, padded_w));
    g.out_height = (padded_h - kernel_h) / g.sh + 1;
    g.out_width = (padded_w - kernel_w) / g.sw + 1;
    // Every array the kernels index (in float64, the wider type) must fit in memory.
    const std::int64_t x_shape[4] = {g.batch, g.channels, g.height, g.width};
    const std::int64_t y_shape[4] = {g.batch, g.out_channels, g.out_height, g.out_width};
    const std::int64_t w_shape[4] = {g.out_channels, g.weight_channels, g.kh, g.kw};
    checked_nbytes(x_shape, 4, DType::float64, "conv2d");
    checked_nbytes(y_shape, 4, DType::float64, "conv2d");
    checked_nbytes(w_shape, 4, DType::float64, "conv2d");
    const std::int64_t cols_shape[3] = {std::max<std::int64_t>(g.channels, 1),
                                        checked_mul(g.kh, g.kw), 64};
    checked_nbytes(cols_shape, 3, DType::float64, "conv2d");
}

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* weight, const float* bias,
                    float pad_value, float* y) {
    forward_impl(g, x, weight, bias, pad_value, y);
}
void conv2d_forward(const Conv2dGeometry& g, const double* x, const double* weight,
                    const double* bias, double pad_value, double* y) {
    forward_impl(g, x, weight, bias, pad_value, y);
}
void conv2d_backward(const Conv2dGeometry& g, const float* x, const float* weight, const float* dy,
                     float pad_value, float* dx, float* dweight, float* dbias) {
    backward_impl(g, x, weight, dy, pad_value, dx, dweight, dbias);
}
void conv2d_backward(const Conv2dGeometry& g, const double* x, const double* weight,
                     const double* dy, double pad_value, double* dx, double* dweight,
                     double* dbias) {
    backward_impl(g, x, weight, dy, pad_value, dx, dweight, dbias);
}

}  // namespace sg
