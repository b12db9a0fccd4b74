// bind_pool.cpp: the pool kernels' bindings (argument checks, GIL release, kernel call).
#include <pybind11/stl.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "bind.hpp"
#include "checked_math.hpp"
#include "pool.hpp"

namespace sg::python {

namespace {

using Pair = std::array<std::int64_t, 2>;
using Quad = std::array<std::int64_t, 4>;

// The geometry of x's shape [..., h, w] (leading dims flattened into planes).
Pool2dGeometry geometry_of(const char* op, const std::vector<std::int64_t>& shape, Pair kernel,
                           Pair stride, Quad padding, Pair dilation) {
    if (shape.size() < 2)
        throw py::value_error(std::string(op) + ": x needs at least 2 dimensions (H, W), got " +
                              std::to_string(shape.size()));
    std::int64_t planes = 1;
    for (std::size_t i = 0; i + 2 < shape.size(); ++i) {
        if (shape[i] < 0)
            throw py::value_error(std::string(op) + ": negative input size " +
                                  std::to_string(shape[i]));
        if (!mul_fits(planes, shape[i], planes))
            throw std::length_error(std::string(op) + ": sizes are too large");
    }
    return pool2d_geometry(op, planes, shape[shape.size() - 2], shape.back(), kernel[0], kernel[1],
                           stride[0], stride[1], padding[0], padding[1], padding[2], padding[3],
                           dilation[0], dilation[1]);
}

std::vector<std::int64_t> output_shape(const std::vector<std::int64_t>& shape,
                                       const Pool2dGeometry& g) {
    std::vector<std::int64_t> out(shape.begin(), shape.end() - 2);
    out.push_back(g.oh);
    out.push_back(g.ow);
    return out;
}

// A forward call's checked input x [..., H, W]: its dtype, data, shape and pooling geometry.
struct PoolInput {
    DType dtype;
    const void* data;
    std::vector<std::int64_t> shape;
    Pool2dGeometry g;
};

PoolInput pool_input(const char* op, const py::array& x, Pair kernel, Pair stride, Quad padding,
                     Pair dilation) {
    PoolInput in;
    in.dtype = float_dtype_of(x, op, "x");
    in.data = checked_data(x, in.dtype, -1, op, "x");
    in.shape = shape_of(x);
    in.g = geometry_of(op, in.shape, kernel, stride, padding, dilation);
    return in;
}

void check_grad_shape(const char* op, const py::array& grad_out,
                      const std::vector<std::int64_t>& expected) {
    if (shape_of(grad_out) != expected)
        throw py::value_error(std::string(op) + ": grad_out does not have the pooled shape");
}

// max_pool2d: [..., H, W] -> [..., Ho, Wo] (+ argmax [..., Ho, Wo] int64 when asked)
py::tuple max_forward_py(const py::array& x, Pair kernel, Pair stride, Quad padding, Pair dilation,
                         bool with_argmax) {
    const char* op = "max_pool2d";
    const auto [dtype, data, shape, g] = pool_input(op, x, kernel, stride, padding, dilation);
    std::vector<std::int64_t> out_shape = output_shape(shape, g);
    py::array out = allocate_array(out_shape, dtype, op);
    py::object argmax = py::none();
    std::int64_t* argmax_data = nullptr;
    if (with_argmax) {
        py::array indices = allocate_array(out_shape, DType::int64, op);
        argmax_data = static_cast<std::int64_t*>(indices.mutable_data());
        argmax = indices;
    }
    void* out_data = out.mutable_data();
    {
        py::gil_scoped_release release;
        if (dtype == DType::float32)
            max_pool2d_forward(static_cast<const float*>(data), g, static_cast<float*>(out_data),
                               argmax_data);
        else
            max_pool2d_forward(static_cast<const double*>(data), g, static_cast<double*>(out_data),
                               argmax_data);
    }
    return py::make_tuple(out, argmax);
}

// max_pool2d backward: grad_out [..., Ho, Wo] + argmax -> grad_x [..., H, W]
py::array max_backward_py(const py::array& grad_out, const py::array& argmax,
                          const std::vector<std::int64_t>& shape, Pair kernel, Pair stride,
                          Quad padding, Pair dilation) {
    const char* op = "max_pool2d";
    DType dtype = float_dtype_of(grad_out, op, "grad_out");
    Pool2dGeometry g = geometry_of(op, shape, kernel, stride, padding, dilation);
    std::vector<std::int64_t> out_shape = output_shape(shape, g);
    const void* data = checked_data(grad_out, dtype, int(shape.size()), op, "grad_out");
    const void* indices = checked_data(argmax, DType::int64, int(shape.size()), op, "argmax");
    check_grad_shape(op, grad_out, out_shape);
    if (shape_of(argmax) != out_shape)
        throw py::value_error("max_pool2d: argmax does not have the pooled shape");
    py::array grad_x = allocate_array(shape, dtype, op);
    void* grad_data = grad_x.mutable_data();
    {
        py::gil_scoped_release release;
        const auto* arg = static_cast<const std::int64_t*>(indices);
        if (dtype == DType::float32)
            max_pool2d_backward(static_cast<const float*>(data), arg, g,
                                static_cast<float*>(grad_data));
        else
            max_pool2d_backward(static_cast<const double*>(data), arg, g,
                                static_cast<double*>(grad_data));
    }
    return grad_x;
}

// avg_pool2d: [..., H, W] -> [..., Ho, Wo]
py::array avg_forward_py(const py::array& x, Pair kernel, Pair stride, Quad padding,
                         Pair dilation) {
    const char* op = "avg_pool2d";
    const auto [dtype, data, shape, g] = pool_input(op, x, kernel, stride, padding, dilation);
    py::array out = allocate_array(output_shape(shape, g), dtype, op);
    void* out_data = out.mutable_data();
    {
        py::gil_scoped_release release;
        if (dtype == DType::float32)
            avg_pool2d_forward(static_cast<const float*>(data), g, static_cast<float*>(out_data));
        else
            avg_pool2d_forward(static_cast<const double*>(data), g,
                               static_cast<double*>(out_data));
    }
    return out;
}

// avg_pool2d backward: grad_out [..., Ho, Wo] -> grad_x [..., H, W]
py::array avg_backward_py(const py::array& grad_out, const std::vector<std::int64_t>& shape,
                          Pair kernel, Pair stride, Quad padding, Pair dilation) {
    const char* op = "avg_pool2d";
    DType dtype = float_dtype_of(grad_out, op, "grad_out");
    Pool2dGeometry g = geometry_of(op, shape, kernel, stride, padding, dilation);
    const void* data = checked_data(grad_out, dtype, int(shape.size()), op, "grad_out");
    check_grad_shape(op, grad_out, output_shape(shape, g));
    py::array grad_x = allocate_array(shape, dtype, op);
    void* grad_data = grad_x.mutable_data();
    {
        py::gil_scoped_release release;
        if (dtype == DType::float32)
            avg_pool2d_backward(static_cast<const float*>(data), g,
                                static_cast<float*>(grad_data));
        else
            avg_pool2d_backward(static_cast<const double*>(data), g,
                                static_cast<double*>(grad_data));
    }
    return grad_x;
}

}  // namespace

void bind_pool(py::module_& m) {
    const Pair one{1, 1};
    m.def("max_pool2d_forward", &max_forward_py, py::arg("x"), py::arg("kernel"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation") = one,
          py::arg("with_argmax") = true,
          "(max over each window of x [..., H, W], flat argmax indices or None).");
    m.def("max_pool2d_backward", &max_backward_py, py::arg("grad_out"), py::arg("argmax"),
          py::arg("shape"), py::arg("kernel"), py::arg("stride"), py::arg("padding"),
          py::arg("dilation") = one, "Gradient w.r.t. x (of `shape`) of max_pool2d_forward.");
    m.def("avg_pool2d_forward", &avg_forward_py, py::arg("x"), py::arg("kernel"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation") = one,
          "Mean of each window of x [..., H, W]; padding counts as zeros (divides by kh*kw).");
    m.def("avg_pool2d_backward", &avg_backward_py, py::arg("grad_out"), py::arg("shape"),
          py::arg("kernel"), py::arg("stride"), py::arg("padding"), py::arg("dilation") = one,
          "Gradient w.r.t. x (of `shape`) of avg_pool2d_forward.");
}

}  // namespace sg::python
