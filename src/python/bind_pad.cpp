// bind_pad.cpp: the pad kernels' bindings (argument checks, GIL release, kernel call).
#include <pybind11/stl.h>

#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "bind.hpp"
#include "pad.hpp"

namespace sg::python {

namespace {

using Widths = std::vector<std::int64_t>;

void check_width_count(std::size_t ndim, const Widths& before, const Widths& after) {
    if (before.size() != ndim || after.size() != ndim)
        throw py::value_error("pad: expected " + std::to_string(ndim) +
                              " (before, after) widths, one per axis, got " +
                              std::to_string(before.size()) + " and " +
                              std::to_string(after.size()));
}

// pad_forward: x [d0, ..., dk] -> [d0+b0+a0, ..., dk+bk+ak]
py::array pad_forward_py(const py::array& x, const Widths& before, const Widths& after,
                         const std::string& mode_name, double value) {
    DType dtype = float_dtype_of(x, "pad", "x");
    const void* data = checked_data(x, dtype, -1, "pad", "x");
    std::vector<std::int64_t> shape = shape_of(x);
    check_width_count(shape.size(), before, after);
    PadMode mode = pad_mode_from_name(mode_name);
    std::vector<std::int64_t> out_shape =
        pad_output_shape(shape.data(), shape.size(), before.data(), after.data(), mode);
    py::array out = allocate_array(out_shape, dtype, "pad");
    void* out_data = out.mutable_data();
    {
        py::gil_scoped_release release;
        if (dtype == DType::float32)
            pad_forward(static_cast<const float*>(data), shape.data(), shape.size(), before.data(),
                        after.data(), mode, float(value), static_cast<float*>(out_data));
        else
            pad_forward(static_cast<const double*>(data), shape.data(), shape.size(),
                        before.data(), after.data(), mode, value, static_cast<double*>(out_data));
    }
    return out;
}

// pad_backward: grad_out [d0+b0+a0, ..., dk+bk+ak] -> grad_x [d0, ..., dk]
py::array pad_backward_py(const py::array& grad_out, const std::vector<std::int64_t>& shape,
                          const Widths& before, const Widths& after, const std::string& mode_name) {
    DType dtype = float_dtype_of(grad_out, "pad", "grad_out");
    const void* data = checked_data(grad_out, dtype, int(shape.size()), "pad", "grad_out");
    check_width_count(shape.size(), before, after);
    PadMode mode = pad_mode_from_name(mode_name);
    std::vector<std::int64_t> out_shape =
        pad_output_shape(shape.data(), shape.size(), before.data(), after.data(), mode);
    if (shape_of(grad_out) != out_shape)
        throw py::value_error("pad: grad_out does not have the padded shape");
    py::array grad_x = allocate_array(shape, dtype, "pad");
    void* grad_data = grad_x.mutable_data();
    {
        py::gil_scoped_release release;
        if (dtype == DType::float32)
            pad_backward(static_cast<const float*>(data), shape.data(), shape.size(),
                         before.data(), after.data(), mode, static_cast<float*>(grad_data));
        else
            pad_backward(static_cast<const double*>(data), shape.data(), shape.size(),
                         before.data(), after.data(), mode, static_cast<double*>(grad_data));
    }
    return grad_x;
}

}  // namespace

void bind_pad(py::module_& m) {
    m.def("pad_forward", &pad_forward_py, py::arg("x"), py::arg("before"), py::arg("after"),
          py::arg("mode") = "constant", py::arg("value") = 0.0,
          "x padded by before[i]/after[i] on axis i, as numpy.pad(x, mode=mode) does.");
    m.def("pad_backward", &pad_backward_py, py::arg("grad_out"), py::arg("shape"),
          py::arg("before"), py::arg("after"), py::arg("mode") = "constant",
          "The gradient w.r.t. x (of `shape`) of pad_forward, given the gradient of its output.");
    m.def("pad_index_map", [](std::int64_t n, std::int64_t before, std::int64_t after,
                              const std::string& mode) {
              try {
                  return pad_index_map(n, before, after, pad_mode_from_name(mode));
              } catch (const std::bad_alloc&) {
                  throw std::length_error("pad: out of memory for an index map of " +
                                          std::to_string(n) + " + " + std::to_string(before) +
                                          " + " + std::to_string(after) + " entries");
              }
          },
          py::arg("n"), py::arg("before"), py::arg("after"), py::arg("mode") = "constant",
          "Source index of every output index of one padded axis (-1: constant fill).");
}

}  // namespace sg::python
