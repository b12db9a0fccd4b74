// bind.hpp: what the binding files share: array checks that turn bad input into Python exceptions, new core arrays.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "buffer.hpp"

namespace sg::python {

namespace py = pybind11;

// A NumPy array of `shape` and `dtype` whose memory is a fresh core Buffer (uninitialised).
py::array new_array(const std::vector<std::int64_t>& shape, DType dtype, const char* op);

// new_array, with any allocation failure reported as a MemoryError naming `op` and the shape.
py::array allocate_array(const std::vector<std::int64_t>& shape, DType dtype, const char* op);

// The DType of `a`, or a TypeError naming `op` and `name` when it is not one of ours.
DType dtype_of(const py::array& a, const char* op, const char* name);

// dtype_of, restricted to float32 / float64 (a TypeError naming `op` and `name` otherwise).
DType float_dtype_of(const py::array& a, const char* op, const char* name);

// Checks `a` is C-contiguous, of `dtype`, with `ndim` dims (-1: any) and returns its data pointer.
// `writable` also demands a writable array. Raises ValueError/TypeError naming `op` and `name`.
void* checked_data(const py::array& a, DType dtype, int ndim, const char* op, const char* name,
                   bool writable = false);

std::vector<std::int64_t> shape_of(const py::array& a);

// True when the byte ranges of `a` and `b` overlap (kernels refuse aliased outputs).
bool overlaps(const py::array& a, const py::array& b);

// Each file below adds its ops to the module.
void bind_gemm(py::module_& m);
void bind_conv2d(py::module_& m);
void bind_pad(py::module_& m);
void bind_pool(py::module_& m);
void bind_erf(py::module_& m);
void bind_adam(py::module_& m);
void bind_channel_norm(py::module_& m);

}  // namespace sg::python
