// pad.cpp: numpy.pad-exact per-axis index maps, the padding gather (forward) and scatter-add (backward).
#include "pad.hpp"

#include <algorithm>
#include <stdexcept>

#include "checked_math.hpp"
#include "threads.hpp"

#ifdef SIMPLEGRAD_OPENMP
#include <omp.h>
#endif

namespace sg {

PadMode pad_mode_from_name(const std::string& name) {
    if (name == "constant" || name == "zeros") return PadMode::constant;
    if (name == "edge" || name == "replicate") return PadMode::edge;
    if (name == "reflect") return PadMode::reflect;
    if (name == "symmetric") return PadMode::symmetric;
    if (name == "wrap" || name == "circular") return PadMode::wrap;
    throw std::invalid_argument(
        "pad: unknown mode '" + name +
        "' (expected constant, edge, reflect, symmetric, wrap, zeros, replicate or circular)");
}

namespace {

const char* mode_name(PadMode mode) {
    switch (mode) {
        case PadMode::constant: return "constant";
        case PadMode::edge: return "edge";
        case PadMode::reflect: return "reflect";
        case PadMode::symmetric: return "symmetric";
        case PadMode::wrap: return "wrap";
    }
    return "?";
}

// One pass of numpy's _set_reflect_both on an index array `p` of length `total`; returns the widths
// still to fill as (left, right).
void reflect_step(std::int64_t* p, std::int64_t total, std::int64_t& left, std::int64_t& right,
                  std::int64_t period, bool include_edge) {
    std::int64_t old_length = total - right - left;
    std::int64_t edge_offset;
    if (include_edge) {
        old_length = old_length / period * period;
        edge_offset = 1;
    } else {
        old_length = (old_length - 1) / (period - 1) * (period - 1) + 1;
        edge_offset = 0;
        old_length -= 1;
    }
    if (left > 0) {
        std::int64_t chunk = std::min(old_length, left);
        std::int64_t start = left - edge_offset + chunk;  // read start, start-1, ... (chunk values)
        for (std::int64_t t = 0; t < chunk; ++t) p[left - chunk + t] = p[start - t];
        left -= chunk;
    }
    if (right > 0) {
        std::int64_t chunk = std::min(old_length, right);
        std::int64_t start = total - right + edge_offset - 2;  // read start, start-1, ...
        for (std::int64_t t = 0; t < chunk; ++t) p[total - right + t] = p[start - t];
        right -= chunk;
    }
}

// One pass of numpy's _set_wrap_both on an index array.
void wrap_step(std::int64_t* p, std::int64_t total, std::int64_t& left, std::int64_t& right,
               std::int64_t original_period) {
    std::int64_t period = (total - right - left) / original_period * original_period;
    std::int64_t new_left = 0, new_right = 0;
    if (left > 0) {
        std::int64_t chunk = std::min(period, left);
        std::int64_t source = left + period - chunk;
        std::int64_t dest = left > period ? left - period : 0;
        if (left > period) new_left = left - period;
        for (std::int64_t t = 0; t < chunk; ++t) p[dest + t] = p[source + t];
    }
    if (right > 0) {
        std::int64_t chunk = std::min(period, right);
        std::int64_t source = total - right - period;
        std::int64_t dest = total - right;
        if (right > period) new_right = right - period;
        for (std::int64_t t = 0; t < chunk; ++t) p[dest + t] = p[source + t];
    }
    left = new_left;
    right = new_right;
}

}  // namespace

std::vector<std::int64_t> pad_output_shape(const std::int64_t* shape, std::size_t ndim,
                                           const std::int64_t* before, const std::int64_t* after,
                                           PadMode mode) {
    if (ndim == 0) throw std::invalid_argument("pad: cannot pad a 0-dimensional array");
    std::vector<std::int64_t> out(ndim);
    for (std::size_t i = 0; i < ndim; ++i) {
        if (shape[i] < 0)
            throw std::invalid_argument("pad: negative size " + std::to_string(shape[i]) +
                                        " in axis " + std::to_string(i));
        if (before[i] < 0 || after[i] < 0)
            throw std::invalid_argument("pad: widths must be non-negative, got (" +
                                        std::to_string(before[i]) + ", " +
                                        std::to_string(after[i]) + ") for axis " +
                                        std::to_string(i));
        if (mode != PadMode::constant && shape[i] == 0 && (before[i] > 0 || after[i] > 0))
            throw std::invalid_argument(std::string("pad: cannot extend the empty axis ") +
                                        std::to_string(i) + " with mode '" + mode_name(mode) +
                                        "' (only constant padding can)");
        if (!add_fits(shape[i], before[i], out[i]) || !add_fits(out[i], after[i], out[i]))
            throw std::length_error("pad: padded size of axis " + std::to_string(i) +
                                    " overflows");
    }
    return out;
}

std::vector<std::int64_t> pad_index_map(std::int64_t n, std::int64_t before, std::int64_t after,
                                        PadMode mode) {
    if (n < 0 || before < 0 || after < 0)
        throw std::invalid_argument("pad: negative size or width in an index map");
    std::int64_t total;
    if (!add_fits(before, n, total) || !add_fits(total, after, total))
        throw std::length_error("pad: the padded axis has too many elements");
    if (std::uint64_t(total) > std::vector<std::int64_t>().max_size())
        throw std::length_error("pad: an index map of " + std::to_string(total) +
                                " entries is too large");
    if (mode != PadMode::constant && n == 0 && (before > 0 || after > 0))
        throw std::invalid_argument(std::string("pad: cannot extend an empty axis with mode '") +
                                    mode_name(mode) + "'");
    std::vector<std::int64_t> map(std::size_t(total), -1);
    for (std::int64_t i = 0; i < n; ++i) map[std::size_t(before + i)] = i;
    if (before == 0 && after == 0) return map;
    std::int64_t* p = map.data();
    std::int64_t left = before, right = after;
    switch (mode) {
        case PadMode::constant: break;
        case PadMode::edge:
            std::fill(p, p + before, 0);
            std::fill(p + before + n, p + total, n - 1);
            break;
        case PadMode::reflect:
        case PadMode::symmetric:
            if (n == 1) {  // numpy's legacy rule: a single element is extended as by 'edge'
                std::fill(p, p + total, 0);
                break;
            }
            while (left > 0 || right > 0)
                reflect_step(p, total, left, right, n, mode == PadMode::symmetric);
            break;
        case PadMode::wrap:
            while (left > 0 || right > 0) wrap_step(p, total, left, right, n);
            break;
    }
    return map;
}

namespace {

struct PadPlan {
    std::vector<std::int64_t> in_shape, out_shape;
    std::vector<std::vector<std::int64_t>> maps;  // per axis, output index -> input index or -1
    std::int64_t out_count = 1, in_count = 1;
    // The last axis, which both kernels walk row by row (set by build_maps).
    std::size_t last = 0;
    std::int64_t width_out = 0, n_last = 0, b_last = 0;  // its padded size, size, width before
};

PadPlan make_plan(const std::int64_t* shape, std::size_t ndim, const std::int64_t* before,
                  const std::int64_t* after, PadMode mode) {
    PadPlan plan;
    plan.out_shape = pad_output_shape(shape, ndim, before, after, mode);
    plan.in_shape.assign(shape, shape + ndim);
    for (std::size_t i = 0; i < ndim; ++i)
        plan.in_count *= plan.in_shape[i];  // no overflow: the caller holds this many elements
    if (!count_fits(plan.out_shape.data(), ndim, plan.out_count))
        throw std::length_error("pad: the padded array has too many elements");
    return plan;
}

// Fills plan.maps and the last-axis fields (only called when there is work: no size is zero on
// the relevant side; ndim >= 1, as pad_output_shape checked).
void build_maps(PadPlan& plan, const std::int64_t* before, const std::int64_t* after,
                PadMode mode) {
    std::size_t ndim = plan.in_shape.size();
    plan.maps.resize(ndim);
    for (std::size_t i = 0; i < ndim; ++i)
        plan.maps[i] = pad_index_map(plan.in_shape[i], before[i], after[i], mode);
    plan.last = ndim - 1;
    plan.width_out = plan.out_shape[plan.last];
    plan.n_last = plan.in_shape[plan.last];
    plan.b_last = before[plan.last];
}

template <typename T>
void pad_forward_impl(const T* x, const std::int64_t* shape, std::size_t ndim,
                      const std::int64_t* before, const std::int64_t* after, PadMode mode, T value,
                      T* out) {
    PadPlan plan = make_plan(shape, ndim, before, after, mode);
    if (plan.out_count == 0) return;
    if ((x == nullptr && plan.in_count != 0) || out == nullptr)
        throw std::invalid_argument("pad: null data pointer");
    build_maps(plan, before, after, mode);
    const std::size_t last = plan.last;
    const std::int64_t width_out = plan.width_out, n_last = plan.n_last, b_last = plan.b_last;
    std::int64_t rows = 1;
    for (std::size_t k = 0; k < last; ++k) rows *= plan.out_shape[k];
    std::vector<std::int64_t> in_stride(ndim, 1);  // element strides of x
    for (std::size_t k = last; k-- > 0;) in_stride[k] = in_stride[k + 1] * plan.in_shape[k + 1];
    std::vector<const std::int64_t*> maps(ndim);
    for (std::size_t k = 0; k < ndim; ++k) maps[k] = plan.maps[k].data();
    const std::int64_t* out_shape = plan.out_shape.data();
    const std::int64_t* stride = in_stride.data();
    const std::int64_t* map_last = maps[last];
    const std::int64_t* const* axis_maps = maps.data();
    int threads = threads_for(plan.out_count * std::int64_t(sizeof(T)));

#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
        std::int64_t rest = r, source = 0;
        bool fill = false;
        for (std::size_t k = last; k-- > 0;) {
            std::int64_t o = rest % out_shape[k];
            rest /= out_shape[k];
            std::int64_t s = axis_maps[k][o];
            if (s < 0) fill = true;
            source += s * stride[k];
        }
        T* row = out + r * width_out;
        if (fill) {
            std::fill(row, row + width_out, value);
            continue;
        }
        const T* x_row = x + source;
        for (std::int64_t j = 0; j < b_last; ++j)
            row[j] = map_last[j] < 0 ? value : x_row[map_last[j]];
        std::copy(x_row, x_row + n_last, row + b_last);
        for (std::int64_t j = b_last + n_last; j < width_out; ++j)
            row[j] = map_last[j] < 0 ? value : x_row[map_last[j]];
    }
}

// For each axis except the last: the output indices copied from each input index (CSR lists).
struct InverseMap {
    std::vector<std::int64_t> offsets;  // [n + 1]
    std::vector<std::int64_t> outputs;  // output indices grouped by source, ascending in each group
};

InverseMap invert(const std::vector<std::int64_t>& map, std::int64_t n) {
    InverseMap inv;
    inv.offsets.assign(std::size_t(n + 1), 0);
    for (std::int64_t s : map)
        if (s >= 0) ++inv.offsets[std::size_t(s + 1)];
    for (std::int64_t i = 0; i < n; ++i) inv.offsets[i + 1] += inv.offsets[i];
    inv.outputs.resize(std::size_t(inv.offsets[std::size_t(n)]));
    std::vector<std::int64_t> cursor(inv.offsets.begin(), inv.offsets.end() - 1);
    for (std::size_t o = 0; o < map.size(); ++o)
        if (map[o] >= 0) inv.outputs[std::size_t(cursor[std::size_t(map[o])]++)] = std::int64_t(o);
    return inv;
}

template <typename T>
void pad_backward_impl(const T* grad_out, const std::int64_t* shape, std::size_t ndim,
                       const std::int64_t* before, const std::int64_t* after, PadMode mode,
                       T* grad_x) {
    PadPlan plan = make_plan(shape, ndim, before, after, mode);
    if (plan.in_count == 0) return;
    if (grad_out == nullptr || grad_x == nullptr)
        throw std::invalid_argument("pad: null data pointer");
    build_maps(plan, before, after, mode);
    const std::size_t last = plan.last;
    const std::int64_t width_out = plan.width_out, n_last = plan.n_last, b_last = plan.b_last;
    std::vector<InverseMap> inverse(last);
    for (std::size_t k = 0; k < last; ++k) inverse[k] = invert(plan.maps[k], plan.in_shape[k]);
    std::vector<std::int64_t> out_stride(ndim, 1);  // element strides of grad_out
    for (std::size_t k = last; k-- > 0;) out_stride[k] = out_stride[k + 1] * plan.out_shape[k + 1];
    std::int64_t rows = 1;
    for (std::size_t k = 0; k < last; ++k) rows *= plan.in_shape[k];
    const std::int64_t* map_last = plan.maps[last].data();
    const std::int64_t* in_shape = plan.in_shape.data();
    const std::int64_t* stride = out_stride.data();
    const InverseMap* inv = inverse.data();
    int threads = threads_for(plan.out_count * std::int64_t(sizeof(T)));
    // Odometer state per thread, allocated here: nothing may throw inside the parallel region.
    const std::size_t state = std::max<std::size_t>(last, 1);
    std::vector<std::int64_t> odometers(std::size_t(threads) * 3 * state);

#pragma omp parallel num_threads(threads)
    {
        std::int64_t* index = odometers.data() + std::size_t(thread_index()) * 3 * state;
        std::int64_t* position = index + state;
        std::int64_t* end = position + state;
#pragma omp for schedule(static)
        for (std::int64_t r = 0; r < rows; ++r) {
            T* g = grad_x + r * n_last;
            std::fill(g, g + n_last, T(0));
            std::int64_t rest = r;
            bool empty = false;
            for (std::size_t k = last; k-- > 0;) {
                index[k] = rest % in_shape[k];
                rest /= in_shape[k];
                position[k] = inv[k].offsets[std::size_t(index[k])];
                end[k] = inv[k].offsets[std::size_t(index[k] + 1)];
                if (position[k] == end[k]) empty = true;
            }
            if (empty) continue;
            bool done = false;
            while (!done) {  // every output row copied from this input row, in odometer order
                std::int64_t offset = 0;
                for (std::size_t k = 0; k < last; ++k)
                    offset += inv[k].outputs[std::size_t(position[k])] * stride[k];
                const T* go = grad_out + offset;
                for (std::int64_t j = 0; j < b_last; ++j)
                    if (map_last[j] >= 0) g[map_last[j]] += go[j];
                for (std::int64_t i = 0; i < n_last; ++i) g[i] += go[b_last + i];
                for (std::int64_t j = b_last + n_last; j < width_out; ++j)
                    if (map_last[j] >= 0) g[map_last[j]] += go[j];
                std::size_t k = last;  // advance the odometer; done when every axis wrapped
                while (true) {
                    if (k == 0) {
                        done = true;
                        break;
                    }
                    --k;
                    if (++position[k] < end[k]) break;
                    position[k] = inv[k].offsets[std::size_t(index[k])];
                }
            }
        }
    }
}

}  // namespace

void pad_forward(const float* x, const std::int64_t* shape, std::size_t ndim,
                 const std::int64_t* before, const std::int64_t* after, PadMode mode, float value,
                 float* out) {
    pad_forward_impl(x, shape, ndim, before, after, mode, value, out);
}
void pad_forward(const double* x, const std::int64_t* shape, std::size_t ndim,
                 const std::int64_t* before, const std::int64_t* after, PadMode mode,
                 double value, double* out) {
    pad_forward_impl(x, shape, ndim, before, after, mode, value, out);
}
void pad_backward(const float* grad_out, const std::int64_t* shape, std::size_t ndim,
                  const std::int64_t* before, const std::int64_t* after, PadMode mode,
                  float* grad_x) {
    pad_backward_impl(grad_out, shape, ndim, before, after, mode, grad_x);
}
void pad_backward(const double* grad_out, const std::int64_t* shape, std::size_t ndim,
                  const std::int64_t* before, const std::int64_t* after, PadMode mode,
                  double* grad_x) {
    pad_backward_impl(grad_out, shape, ndim, before, after, mode, grad_x);
}

}  // namespace sg
