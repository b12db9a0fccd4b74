// pool.cpp: 2-D max and average pooling over [planes, h, w] with virtual padding, forward and backward.
#include "pool.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "checked_math.hpp"
#include "threads.hpp"

#ifdef SIMPLEGRAD_OPENMP
#include <omp.h>
#endif

namespace sg {

Pool2dGeometry pool2d_geometry(const char* op, std::int64_t planes, std::int64_t h, std::int64_t w,
                               std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                               std::int64_t pt, std::int64_t pb, std::int64_t pl, std::int64_t pr,
                               std::int64_t dh, std::int64_t dw) {
    auto fail = [op](const std::string& what) {
        throw std::invalid_argument(std::string(op) + ": " + what);
    };
    auto pair = [](std::int64_t a, std::int64_t b) {
        return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
    };
    if (planes < 0 || h < 0 || w < 0) fail("negative input size");
    if (kh <= 0 || kw <= 0) fail("kernel_size must be positive, got " + pair(kh, kw));
    if (sh <= 0 || sw <= 0) fail("stride must be positive, got " + pair(sh, sw));
    if (dh <= 0 || dw <= 0) fail("dilation must be positive, got " + pair(dh, dw));
    if (pt < 0 || pb < 0 || pl < 0 || pr < 0)
        fail("padding must be non-negative, got (" + std::to_string(pt) + ", " +
             std::to_string(pb) + ", " + std::to_string(pl) + ", " + std::to_string(pr) + ")");
    // Each size below 2^40 keeps a sum of three of them far from overflow; the window's extent
    // dilation * (kernel - 1) + 1 is a product, checked (past int64 it is larger than any input).
    const std::int64_t big = std::int64_t(1) << 40;
    for (std::int64_t v : {h, w, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw})
        if (v >= big) throw std::length_error(std::string(op) + ": sizes are too large");
    const std::int64_t padded_h = h + pt + pb, padded_w = w + pl + pr;
    std::int64_t reach_h = 0, reach_w = 0;
    if (!mul_fits(dh, kh - 1, reach_h) || !mul_fits(dw, kw - 1, reach_w) ||
        reach_h >= padded_h || reach_w >= padded_w)
        fail("kernel " + pair(kh, kw) + " with dilation " + pair(dh, dw) +
             " is larger than the padded input " + pair(padded_h, padded_w));
    const std::int64_t extent_h = reach_h + 1, extent_w = reach_w + 1;
    Pool2dGeometry g;
    g.planes = planes, g.h = h, g.w = w, g.kh = kh, g.kw = kw, g.sh = sh, g.sw = sw;
    g.pt = pt, g.pb = pb, g.pl = pl, g.pr = pr, g.dh = dh, g.dw = dw;
    g.oh = (padded_h - extent_h) / sh + 1;
    g.ow = (padded_w - extent_w) / sw + 1;
    return g;
}

namespace {

// The window taps k in [lo, hi) whose position start + k * step lies in [0, size).
struct TapRange {
    std::int64_t lo, hi;
};
inline TapRange taps(std::int64_t start, std::int64_t step, std::int64_t count, std::int64_t size) {
    std::int64_t lo = start >= 0 ? 0 : (-start + step - 1) / step;
    std::int64_t hi = size - start <= 0 ? 0 : (size - start + step - 1) / step;
    lo = std::min(lo, count);
    hi = std::min(hi, count);
    return {lo, std::max(lo, hi)};
}

void check_geometry(const Pool2dGeometry& g, const char* op) {
    Pool2dGeometry checked = pool2d_geometry(op, g.planes, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.pt,
                                             g.pb, g.pl, g.pr, g.dh, g.dw);
    if (checked.oh != g.oh || checked.ow != g.ow)
        throw std::invalid_argument(std::string(op) + ": output size does not match the geometry");
}

// Take v over best when it is greater (ties keep the first maximum) or is the first NaN:
// !(v <= best) holds for both, and a NaN best is never replaced. Used as a branch-free select:
// on real data this comparison is unpredictable.
template <typename T>
inline bool takes_over(T v, T best) {
    return !(v <= best) & (best == best);
}

// One window, any position (padding taps skipped): its max and the flat index of its first max.
template <typename T>
inline void max_window(const T* plane, const Pool2dGeometry& g, std::int64_t h0, std::int64_t w0,
                       TapRange rows, T* best_out, std::int64_t* index_out) {
    const TapRange cols = taps(w0, g.dw, g.kw, g.w);
    T best = -std::numeric_limits<T>::infinity();
    std::int64_t index = -1;
    for (std::int64_t kr = rows.lo; kr < rows.hi; ++kr) {
        const std::int64_t r = h0 + kr * g.dh;
        for (std::int64_t kc = cols.lo; kc < cols.hi; ++kc) {
            const std::int64_t c = w0 + kc * g.dw;
            const T v = plane[r * g.w + c];
            const bool take = takes_over(v, best);
            best = take ? v : best;
            index = take ? r * g.w + c : index;
        }
    }
    // Every value is -inf: the window's first position inside the image wins (padding never
    // beats a value of the input), and none when the window is all padding.
    if (index < 0 && rows.lo < rows.hi && cols.lo < cols.hi)
        index = (h0 + rows.lo * g.dh) * g.w + w0 + cols.lo * g.dw;
    *best_out = best;
    if (index_out) *index_out = index;
}

// Output columns [lo, hi) whose whole window lies inside the image horizontally:
// w0 = ocol*sw - pl >= 0 and w0 + (kw-1)*dw < w.
TapRange interior_columns(const Pool2dGeometry& g) {
    const std::int64_t last = g.w - 1 - (g.kw - 1) * g.dw + g.pl;
    std::int64_t lo = std::min(g.ow, (g.pl + g.sw - 1) / g.sw);
    std::int64_t hi = last < 0 ? 0 : last / g.sw + 1;
    return {lo, std::max(lo, std::min(hi, g.ow))};
}

// An integer as wide as T, so that tap-id selects vectorise next to T compares.
template <typename T>
using TapId = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;

// The interior windows of one output row, tap-major: each tap (in row-major window order) updates
// the whole row, so the columns are independent (no loop-carried select chain, vectorisable) and
// the first-maximum rule is kept. `tap` (when not null) receives kr * kw + kc of each first max.
template <typename T>
void max_row_interior(const T* plane, const Pool2dGeometry& g, std::int64_t h0, TapRange rows,
                      TapRange cols, T* __restrict out_row, TapId<T>* __restrict tap) {
    const std::int64_t sw = g.sw;
    if (cols.lo >= cols.hi) return;  // no interior window (kw may then exceed the image)
    for (std::int64_t ocol = cols.lo; ocol < cols.hi; ++ocol)
        out_row[ocol] = -std::numeric_limits<T>::infinity();
    if (tap) std::fill(tap + cols.lo, tap + cols.hi, TapId<T>(-1));
    for (std::int64_t kr = rows.lo; kr < rows.hi; ++kr) {
        const T* line = plane + (h0 + kr * g.dh) * g.w - g.pl;
        for (std::int64_t kc = 0; kc < g.kw; ++kc) {
            const T* __restrict source = line + kc * g.dw;
            const TapId<T> id = TapId<T>(kr * g.kw + kc);
            if (tap) {
                for (std::int64_t ocol = cols.lo; ocol < cols.hi; ++ocol) {
                    const T v = source[ocol * sw], best = out_row[ocol];
                    const bool take = takes_over(v, best);
                    out_row[ocol] = take ? v : best;
                    tap[ocol] = take ? id : tap[ocol];
                }
            } else {
                for (std::int64_t ocol = cols.lo; ocol < cols.hi; ++ocol) {
                    const T v = source[ocol * sw], best = out_row[ocol];
                    out_row[ocol] = takes_over(v, best) ? v : best;
                }
            }
        }
    }
}

// Runs row(p, orow, h0, rows) for every output row, planes x oh in parallel: h0 is the first input
// row of the row's windows (negative inside the top padding), rows their taps inside the image.
template <typename Row>
void for_each_output_row(const Pool2dGeometry& g, int threads, const Row& row) {
    const std::int64_t planes = g.planes, oh = g.oh;
#pragma omp parallel for collapse(2) num_threads(threads) schedule(static)
    for (std::int64_t p = 0; p < planes; ++p) {
        for (std::int64_t orow = 0; orow < oh; ++orow) {
            const std::int64_t h0 = orow * g.sh - g.pt;
            row(p, orow, h0, taps(h0, g.dh, g.kh, g.h));
        }
    }
}

template <typename T>
void max_forward_impl(const T* x, const Pool2dGeometry& g, T* out, std::int64_t* argmax) {
    check_geometry(g, "max_pool2d");
    const std::int64_t planes = g.planes, oh = g.oh, ow = g.ow, h = g.h, w = g.w;
    if (planes * oh * ow == 0) return;
    if (out == nullptr || (x == nullptr && h * w != 0))
        throw std::invalid_argument("max_pool2d: null data pointer");
    const std::int64_t window = saturating_mul(g.kh, g.kw);
    // The interior rows record tap ids as wide as T: windows of as many taps as an int32 (float32)
    // or int64 holds (or more: `window` saturates) take the per-window path for every column.
    const bool ids_fit = window < std::int64_t(std::numeric_limits<TapId<T>>::max());
    const TapRange cols = argmax && !ids_fit ? TapRange{0, 0} : interior_columns(g);
    int threads = threads_for(saturating_mul(planes * oh * ow, window));
    // Per-thread tap ids of one output row, allocated here: nothing may throw in the parallel region.
    std::vector<TapId<T>> tap_scratch(argmax ? std::size_t(threads) * std::size_t(ow) : 0);

    for_each_output_row(g, threads, [&](std::int64_t p, std::int64_t orow, std::int64_t h0,
                                        TapRange rows) {
        const T* plane = x + p * h * w;
        T* out_row = out + (p * oh + orow) * ow;
        std::int64_t* arg_row = argmax ? argmax + (p * oh + orow) * ow : nullptr;
        for (std::int64_t ocol = 0; ocol < cols.lo; ++ocol)
            max_window(plane, g, h0, ocol * g.sw - g.pl, rows, out_row + ocol,
                       arg_row ? arg_row + ocol : nullptr);
        TapId<T>* tap = arg_row ? tap_scratch.data() + std::size_t(thread_index()) * ow : nullptr;
        max_row_interior(plane, g, h0, rows, cols, out_row, tap);
        if (arg_row) {
            for (std::int64_t ocol = cols.lo; ocol < cols.hi; ++ocol) {
                const std::int64_t w0 = ocol * g.sw - g.pl;
                std::int64_t id = tap[ocol];
                // all -inf: the first tap inside the image wins (rows above it may be padding)
                if (id < 0 && rows.lo < rows.hi) id = TapId<T>(rows.lo * g.kw);
                arg_row[ocol] = id < 0 ? -1
                                       : (h0 + id / g.kw * g.dh) * w + w0 + id % g.kw * g.dw;
            }
        }
        for (std::int64_t ocol = cols.hi; ocol < ow; ++ocol)
            max_window(plane, g, h0, ocol * g.sw - g.pl, rows, out_row + ocol,
                       arg_row ? arg_row + ocol : nullptr);
    });
}

template <typename T>
void max_backward_impl(const T* grad_out, const std::int64_t* argmax, const Pool2dGeometry& g,
                       T* grad_x) {
    check_geometry(g, "max_pool2d");
    const std::int64_t planes = g.planes, hw = g.h * g.w, outputs = g.oh * g.ow;
    if (planes * hw == 0) return;
    if (grad_x == nullptr || (outputs != 0 && (grad_out == nullptr || argmax == nullptr)))
        throw std::invalid_argument("max_pool2d: null data pointer");
    int threads = threads_for(planes * (hw + outputs));
    int bad = 0;

#pragma omp parallel for num_threads(threads) schedule(static) reduction(| : bad)
    for (std::int64_t p = 0; p < planes; ++p) {
        T* gx = grad_x + p * hw;
        std::fill(gx, gx + hw, T(0));
        const T* go = grad_out + p * outputs;
        const std::int64_t* arg = argmax + p * outputs;
        for (std::int64_t i = 0; i < outputs; ++i) {
            const std::int64_t index = arg[i];
            if (index >= 0 && index < hw)
                gx[index] += go[i];
            else if (index != -1)
                bad = 1;
        }
    }
    if (bad) throw std::invalid_argument("max_pool2d: argmax index out of range");
}

// The mean of one window at any position (padding taps count as zeros).
template <typename T>
inline T avg_window(const T* plane, const Pool2dGeometry& g, std::int64_t h0, std::int64_t w0,
                    TapRange rows, T count) {
    const TapRange cols = taps(w0, g.dw, g.kw, g.w);
    T sum = 0;
    for (std::int64_t kr = rows.lo; kr < rows.hi; ++kr) {
        const T* line = plane + (h0 + kr * g.dh) * g.w + w0;
        for (std::int64_t kc = cols.lo; kc < cols.hi; ++kc) sum += line[kc * g.dw];
    }
    return sum / count;
}

template <typename T>
void avg_forward_impl(const T* x, const Pool2dGeometry& g, T* out) {
    check_geometry(g, "avg_pool2d");
    const std::int64_t planes = g.planes, oh = g.oh, ow = g.ow, h = g.h, w = g.w;
    if (planes * oh * ow == 0) return;
    if (out == nullptr || (x == nullptr && h * w != 0))
        throw std::invalid_argument("avg_pool2d: null data pointer");
    const T count = T(g.kh) * T(g.kw);  // padding counts as zeros (count_include_pad)
    const TapRange cols = interior_columns(g);
    int threads = threads_for(saturating_mul(planes * oh * ow, saturating_mul(g.kh, g.kw)));

    for_each_output_row(g, threads, [&](std::int64_t p, std::int64_t orow, std::int64_t h0,
                                        TapRange rows) {
        const T* plane = x + p * h * w;
        T* __restrict out_row = out + (p * oh + orow) * ow;
        for (std::int64_t ocol = 0; ocol < cols.lo; ++ocol)
            out_row[ocol] = avg_window(plane, g, h0, ocol * g.sw - g.pl, rows, count);
        // interior columns tap-major (the same summation order as avg_window); none when the
        // window is wider than the image (kw may then be huge)
        std::fill(out_row + cols.lo, out_row + cols.hi, T(0));
        for (std::int64_t kr = rows.lo; cols.lo < cols.hi && kr < rows.hi; ++kr) {
            const T* line = plane + (h0 + kr * g.dh) * w - g.pl;
            for (std::int64_t kc = 0; kc < g.kw; ++kc) {
                const T* __restrict source = line + kc * g.dw;
                for (std::int64_t ocol = cols.lo; ocol < cols.hi; ++ocol)
                    out_row[ocol] += source[ocol * g.sw];
            }
        }
        for (std::int64_t ocol = cols.lo; ocol < cols.hi; ++ocol) out_row[ocol] /= count;
        for (std::int64_t ocol = cols.hi; ocol < ow; ++ocol)
            out_row[ocol] = avg_window(plane, g, h0, ocol * g.sw - g.pl, rows, count);
    });
}

template <typename T>
void avg_backward_impl(const T* grad_out, const Pool2dGeometry& g, T* grad_x) {
    check_geometry(g, "avg_pool2d");
    const std::int64_t planes = g.planes, oh = g.oh, ow = g.ow, h = g.h, w = g.w;
    if (planes * h * w == 0) return;
    if (grad_x == nullptr || (oh * ow != 0 && grad_out == nullptr))
        throw std::invalid_argument("avg_pool2d: null data pointer");
    const T count = T(g.kh) * T(g.kw);
    const TapRange cols = interior_columns(g);
    int threads = threads_for(saturating_mul(planes * oh * ow, saturating_mul(g.kh, g.kw)));

#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t p = 0; p < planes; ++p) {
        T* gx = grad_x + p * h * w;
        std::fill(gx, gx + h * w, T(0));
        const T* go = grad_out + p * oh * ow;
        for (std::int64_t orow = 0; orow < oh; ++orow) {
            const std::int64_t h0 = orow * g.sh - g.pt;
            const TapRange rows = taps(h0, g.dh, g.kh, h);
            const T* go_row = go + orow * ow;
            auto scatter_window = [&](std::int64_t ocol) {
                const std::int64_t w0 = ocol * g.sw - g.pl;
                const TapRange window_cols = taps(w0, g.dw, g.kw, w);
                const T share = go_row[ocol] / count;
                for (std::int64_t kr = rows.lo; kr < rows.hi; ++kr) {
                    T* line = gx + (h0 + kr * g.dh) * w + w0;
                    for (std::int64_t kc = window_cols.lo; kc < window_cols.hi; ++kc)
                        line[kc * g.dw] += share;
                }
            };
            for (std::int64_t ocol = 0; ocol < cols.lo; ++ocol) scatter_window(ocol);
            // interior columns tap-major: within one tap the targets of different columns differ
            // (none when the window is wider than the image)
            for (std::int64_t kr = rows.lo; cols.lo < cols.hi && kr < rows.hi; ++kr) {
                T* line = gx + (h0 + kr * g.dh) * w - g.pl;
                for (std::int64_t kc = 0; kc < g.kw; ++kc) {
                    T* __restrict target = line + kc * g.dw;
                    for (std::int64_t ocol = cols.lo; ocol < cols.hi; ++ocol)
                        target[ocol * g.sw] += go_row[ocol] / count;
                }
            }
            for (std::int64_t ocol = cols.hi; ocol < ow; ++ocol) scatter_window(ocol);
        }
    }
}

}  // namespace

void max_pool2d_forward(const float* x, const Pool2dGeometry& g, float* out, std::int64_t* argmax) {
    max_forward_impl(x, g, out, argmax);
}
void max_pool2d_forward(const double* x, const Pool2dGeometry& g, double* out,
                        std::int64_t* argmax) {
    max_forward_impl(x, g, out, argmax);
}
void max_pool2d_backward(const float* grad_out, const std::int64_t* argmax,
                         const Pool2dGeometry& g, float* grad_x) {
    max_backward_impl(grad_out, argmax, g, grad_x);
}
void max_pool2d_backward(const double* grad_out, const std::int64_t* argmax,
                         const Pool2dGeometry& g, double* grad_x) {
    max_backward_impl(grad_out, argmax, g, grad_x);
}
void avg_pool2d_forward(const float* x, const Pool2dGeometry& g, float* out) {
    avg_forward_impl(x, g, out);
}
void avg_pool2d_forward(const double* x, const Pool2dGeometry& g, double* out) {
    avg_forward_impl(x, g, out);
}
void avg_pool2d_backward(const float* grad_out, const Pool2dGeometry& g, float* grad_x) {
    avg_backward_impl(grad_out, g, grad_x);
}
void avg_pool2d_backward(const double* grad_out, const Pool2dGeometry& g, double* grad_x) {
    avg_backward_impl(grad_out, g, grad_x);
}

}  // namespace sg
