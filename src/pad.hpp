// pad.hpp: N-d padding exactly as numpy.pad (constant, edge, reflect, symmetric, wrap) and its adjoint.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sg {

enum class PadMode : int { constant = 0, edge = 1, reflect = 2, symmetric = 3, wrap = 4 };

// NumPy's names and PyTorch's aliases ("zeros", "replicate", "circular") -> PadMode;
// throws std::invalid_argument("pad: unknown mode ...") for anything else.
PadMode pad_mode_from_name(const std::string& name);

// The padded shape: shape[i] + before[i] + after[i]. Throws std::invalid_argument for negative sizes
// or widths, ndim == 0, or a non-constant mode asked to extend an empty axis (as numpy.pad refuses),
// std::length_error when a padded size overflows.
std::vector<std::int64_t> pad_output_shape(const std::int64_t* shape, std::size_t ndim,
                                           const std::int64_t* before, const std::int64_t* after,
                                           PadMode mode);

// pad_index_map: one axis of n -> [before + n + after] source index of every output index (-1 where
// the constant is filled in), built by running numpy.pad's own algorithm (its iterated reflections
// and wraps for widths larger than n) on indices instead of values. map[before + i] == i.
std::vector<std::int64_t> pad_index_map(std::int64_t n, std::int64_t before, std::int64_t after,
                                        PadMode mode);

// pad_forward: x [d0, ..., dk] -> out [d0+b0+a0, ..., dk+bk+ak]; out[o] = x[map0[o0], ..., mapk[ok]],
// or `value` where any map is -1 (constant mode). Parallel over output rows; out must not alias x.
void pad_forward(const float* x, const std::int64_t* shape, std::size_t ndim,
                 const std::int64_t* before, const std::int64_t* after, PadMode mode, float value,
                 float* out);
void pad_forward(const double* x, const std::int64_t* shape, std::size_t ndim,
                 const std::int64_t* before, const std::int64_t* after, PadMode mode, double value,
                 double* out);

// pad_backward: grad_out [d0+b0+a0, ..., dk+bk+ak] -> grad_x [d0, ..., dk], the adjoint of pad_forward:
// each output gradient is added to the input element it was copied from (constant fills give none).
// Parallel over input rows, each summed in a fixed order: results do not depend on the thread count.
void pad_backward(const float* grad_out, const std::int64_t* shape, std::size_t ndim,
                  const std::int64_t* before, const std::int64_t* after, PadMode mode,
                  float* grad_x);
void pad_backward(const double* grad_out, const std::int64_t* shape, std::size_t ndim,
                  const std::int64_t* before, const std::int64_t* after, PadMode mode,
                  double* grad_x);

}  // namespace sg
