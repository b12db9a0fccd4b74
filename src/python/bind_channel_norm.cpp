// bind_channel_norm.cpp: the per-channel normalisation kernels' bindings (checks, GIL release, calls).
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bind.hpp"
#include "channel_norm.hpp"

namespace sg::python {

namespace {

constexpr const char* kOp = "channel_norm";

// x [N, C, S]: its dtype, data and shape
struct Input {
    DType dtype;
    const void* data;
    ChannelNormShape shape;
};

Input input_of(const py::array& x) {
    Input in;
    in.dtype = float_dtype_of(x, kOp, "x");
    in.data = checked_data(x, in.dtype, 3, kOp, "x");
    const auto s = shape_of(x);
    in.shape = {s[0], s[1], s[2]};
    return in;
}

// A per-channel array [C] of `dtype` (nullptr for None when `optional`). `held` keeps the array
// alive: a list or tuple becomes a new array, which the kernel reads after this returns.
const void* channel_array(const py::object& value, const Input& in, DType dtype, const char* name,
                          bool optional, py::array& held) {
    if (value.is_none()) {
        if (optional) return nullptr;
        throw py::type_error(std::string(kOp) + ": " + name + " is required");
    }
    held = py::cast<py::array>(value);
    const py::array& a = held;
    const void* data = checked_data(a, dtype, 1, kOp, name);
    if (a.shape(0) != in.shape.c)
        throw py::value_error(std::string(kOp) + ": " + name + " must have " +
                              std::to_string(in.shape.c) + " values (one per channel), got " +
                              std::to_string(a.shape(0)));
    return data;
}

template <typename T>
const T* as(const void* p) {
    return static_cast<const T*>(p);
}
template <typename T>
T* as_mut(py::array& a) {
    return static_cast<T*>(a.mutable_data());
}

// batch statistics: x [N, C, S] (+ weight, bias [C] or None) -> (y, mean, var, inv_std)
py::tuple forward_py(const py::array& x, const py::object& weight, const py::object& bias,
                     double eps, double divisor) {
    const Input in = input_of(x);
    py::array held_w, held_b;
    const void* w = channel_array(weight, in, in.dtype, "weight", true, held_w);
    const void* b = channel_array(bias, in, in.dtype, "bias", true, held_b);
    py::array y = allocate_array({in.shape.n, in.shape.c, in.shape.s}, in.dtype, kOp);
    py::array mean = allocate_array({in.shape.c}, DType::float64, kOp);  // statistics: double
    py::array var = allocate_array({in.shape.c}, DType::float64, kOp);
    py::array inv_std = allocate_array({in.shape.c}, DType::float64, kOp);
    {
        py::gil_scoped_release release;
        if (in.dtype == DType::float32)
            channel_norm_forward(as<float>(in.data), in.shape, as<float>(w), as<float>(b), eps,
                                 divisor, as_mut<float>(y), as_mut<double>(mean),
                                 as_mut<double>(var), as_mut<double>(inv_std));
        else
            channel_norm_forward(as<double>(in.data), in.shape, as<double>(w), as<double>(b), eps,
                                 divisor, as_mut<double>(y), as_mut<double>(mean),
                                 as_mut<double>(var), as_mut<double>(inv_std));
    }
    return py::make_tuple(y, mean, var, inv_std);
}

// fixed statistics: x [N, C, S], mean, inv_std [C] (+ weight, bias [C] or None) -> y
py::array apply_py(const py::array& x, const py::object& mean, const py::object& inv_std,
                   const py::object& weight, const py::object& bias) {
    const Input in = input_of(x);
    py::array held_m, held_s, held_w, held_b;
    const void* m = channel_array(mean, in, DType::float64, "mean", false, held_m);
    const void* s = channel_array(inv_std, in, DType::float64, "inv_std", false, held_s);
    const void* w = channel_array(weight, in, in.dtype, "weight", true, held_w);
    const void* b = channel_array(bias, in, in.dtype, "bias", true, held_b);
    py::array y = allocate_array({in.shape.n, in.shape.c, in.shape.s}, in.dtype, kOp);
    {
        py::gil_scoped_release release;
        if (in.dtype == DType::float32)
            channel_norm_apply(as<float>(in.data), in.shape, as<double>(m), as<double>(s),
                               as<float>(w), as<float>(b), as_mut<float>(y));
        else
            channel_norm_apply(as<double>(in.data), in.shape, as<double>(m), as<double>(s),
                               as<double>(w), as<double>(b), as_mut<double>(y));
    }
    return y;
}

// gradient: x, dy [N, C, S], mean, inv_std [C], weight [C] or None -> (dx or None, dweight, dbias)
py::tuple backward_py(const py::array& x, const py::array& dy, const py::object& mean,
                      const py::object& inv_std, const py::object& weight, bool batch_stats,
                      double divisor, bool want_dx) {
    const Input in = input_of(x);
    const void* g = checked_data(dy, in.dtype, 3, kOp, "dy");
    if (shape_of(dy) != shape_of(x))
        throw py::value_error(std::string(kOp) + ": dy must have the shape of x");
    py::array held_m, held_s, held_w;
    const void* m = channel_array(mean, in, DType::float64, "mean", false, held_m);
    const void* s = channel_array(inv_std, in, DType::float64, "inv_std", false, held_s);
    const void* w = channel_array(weight, in, in.dtype, "weight", true, held_w);
    py::object dx_out = py::none();
    py::array dx;
    if (want_dx) {
        dx = allocate_array({in.shape.n, in.shape.c, in.shape.s}, in.dtype, kOp);
        dx_out = dx;
    }
    py::array dweight = allocate_array({in.shape.c}, in.dtype, kOp);
    py::array dbias = allocate_array({in.shape.c}, in.dtype, kOp);
    {
        py::gil_scoped_release release;
        if (in.dtype == DType::float32)
            channel_norm_backward(as<float>(in.data), as<float>(g), in.shape, as<double>(m),
                                  as<double>(s), as<float>(w), batch_stats, divisor,
                                  want_dx ? as_mut<float>(dx) : nullptr, as_mut<float>(dweight),
                                  as_mut<float>(dbias));
        else
            channel_norm_backward(as<double>(in.data), as<double>(g), in.shape, as<double>(m),
                                  as<double>(s), as<double>(w), batch_stats, divisor,
                                  want_dx ? as_mut<double>(dx) : nullptr,
                                  as_mut<double>(dweight), as_mut<double>(dbias));
    }
    return py::make_tuple(dx_out, dweight, dbias);
}

}  // namespace

void bind_channel_norm(py::module_& m) {
    m.def("channel_norm_forward", &forward_py, py::arg("x"), py::arg("weight"), py::arg("bias"),
          py::arg("eps"), py::arg("divisor"),
          "x [N, C, S] normalised per channel over N and S with the batch's statistics, then * "
          "weight + bias: (y, mean, var = sum of squares / divisor, inv_std = 1/sqrt(var + eps)), "
          "the statistics float64.");
    m.def("channel_norm_apply", &apply_py, py::arg("x"), py::arg("mean"), py::arg("inv_std"),
          py::arg("weight"), py::arg("bias"),
          "(x - mean) * inv_std * weight + bias per channel of x [N, C, S] (given float64 "
          "statistics).");
    m.def("channel_norm_backward", &backward_py, py::arg("x"), py::arg("dy"), py::arg("mean"),
          py::arg("inv_std"), py::arg("weight"), py::arg("batch_stats"), py::arg("divisor"),
          py::arg("want_dx"),
          "Gradients of channel_norm_forward (batch_stats) or channel_norm_apply: (dx or None, "
          "dweight, dbias).");
}

}  // namespace sg::python
