// bind_conv2d.cpp: the conv2d kernels' bindings (argument checks, GIL release, kernel call).
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <new>
#include <stdexcept>
#include <string>
#include <tuple>

#include "bind.hpp"
#include "conv2d.hpp"
#include "im2col.hpp"

namespace sg::python {

namespace {

using Pair = std::array<std::int64_t, 2>;
using Quad = std::array<std::int64_t, 4>;

// The float dtype of `a` (TypeError for anything else).
DType float_dtype(const py::array& a, const char* name) {
    DType dtype = dtype_of(a, "conv2d", name);
    if (dtype != DType::float32 && dtype != DType::float64)
        throw py::type_error(std::string("conv2d: ") + name + " must be float32 or float64, got " +
                             dtype_name(dtype));
    return dtype;
}

Conv2dGeometry geometry_of(const std::vector<std::int64_t>& x_shape,
                           const std::vector<std::int64_t>& w_shape, Pair stride, Quad padding,
                           Pair dilation, std::int64_t groups) {
    Conv2dGeometry g;
    g.batch = x_shape[0];
    g.channels = x_shape[1];
    g.height = x_shape[2];
    g.width = x_shape[3];
    g.out_channels = w_shape[0];
    g.weight_channels = w_shape[1];
    g.kh = w_shape[2];
    g.kw = w_shape[3];
    g.sh = stride[0];
    g.sw = stride[1];
    g.pad_top = padding[0];
    g.pad_bottom = padding[1];
    g.pad_left = padding[2];
    g.pad_right = padding[3];
    g.dh = dilation[0];
    g.dw = dilation[1];
    g.groups = groups;
    conv2d_check_geometry(g);
    return g;
}

// Runs `call`, naming conv2d when its work area (im2col blocks, padded images) cannot be had.
template <typename F>
void work_area_of_conv2d(const F& call) {
    try {
        call();
    } catch (const std::bad_alloc&) {
        throw std::length_error("conv2d: out of memory for the work area");
    }
}

template <typename T>
py::array forward(const py::array& x, const py::array& w, const py::object& bias, Pair stride,
                  Quad padding, Pair dilation, std::int64_t groups, double pad_value, DType dtype) {
    const T* xp = static_cast<const T*>(checked_data(x, dtype, 4, "conv2d", "x"));
    const T* wp = static_cast<const T*>(checked_data(w, dtype, 4, "conv2d", "weight"));
    Conv2dGeometry g = geometry_of(shape_of(x), shape_of(w), stride, padding, dilation, groups);
    const T* bp = nullptr;
    py::array b;
    if (!bias.is_none()) {
        b = bias.cast<py::array>();
        bp = static_cast<const T*>(checked_data(b, dtype, 1, "conv2d", "bias"));
        if (b.shape(0) != g.out_channels)
            throw py::value_error("conv2d: bias has " + std::to_string(b.shape(0)) +
                                  " elements but weight has " + std::to_string(g.out_channels) +
                                  " output channels");
    }
    py::array y = new_array({g.batch, g.out_channels, g.out_height, g.out_width}, dtype, "conv2d");
    T* yp = static_cast<T*>(y.mutable_data());
    {
        py::gil_scoped_release release;
        work_area_of_conv2d([&] { conv2d_forward(g, xp, wp, bp, T(pad_value), yp); });
    }
    return y;
}

template <typename T>
py::tuple backward(const py::array& x, const py::array& w, const py::array& dy, Pair stride,
                   Quad padding, Pair dilation, std::int64_t groups, double pad_value,
                   bool need_input, bool need_weight, bool need_bias, DType dtype) {
    const T* xp = static_cast<const T*>(checked_data(x, dtype, 4, "conv2d", "x"));
    const T* wp = static_cast<const T*>(checked_data(w, dtype, 4, "conv2d", "weight"));
    const T* dyp = static_cast<const T*>(checked_data(dy, dtype, 4, "conv2d", "dy"));
    Conv2dGeometry g = geometry_of(shape_of(x), shape_of(w), stride, padding, dilation, groups);
    const std::vector<std::int64_t> y_shape = {g.batch, g.out_channels, g.out_height, g.out_width};
    if (shape_of(dy) != y_shape) throw py::value_error("conv2d: dy must have the output's shape");
    py::object dx = py::none(), dw = py::none(), db = py::none();
    T *dxp = nullptr, *dwp = nullptr, *dbp = nullptr;
    if (need_input) {
        py::array a = new_array(shape_of(x), dtype, "conv2d");
        dxp = static_cast<T*>(a.mutable_data());
        dx = a;
    }
    if (need_weight) {
        py::array a = new_array(shape_of(w), dtype, "conv2d");
        dwp = static_cast<T*>(a.mutable_data());
        dw = a;
    }
    if (need_bias) {
        py::array a = new_array({g.out_channels}, dtype, "conv2d");
        dbp = static_cast<T*>(a.mutable_data());
        db = a;
    }
    {
        py::gil_scoped_release release;
        work_area_of_conv2d([&] { conv2d_backward(g, xp, wp, dyp, T(pad_value), dxp, dwp, dbp); });
    }
    return py::make_tuple(dx, dw, db);
}

// The geometry of one image [C,H,W] and a kernel (kh, kw) for the im2col/col2im test bindings.
Conv2dGeometry image_geometry(std::int64_t c, std::int64_t h, std::int64_t w, Pair kernel,
                              Pair stride, Quad padding, Pair dilation) {
    return geometry_of({1, c, h, w}, {1, c, kernel[0], kernel[1]}, stride, padding, dilation, 1);
}

template <typename T>
py::array im2col_call(const py::array& x, Pair kernel, Pair stride, Quad padding, Pair dilation,
                      double pad_value, DType dtype) {
    const T* xp = static_cast<const T*>(checked_data(x, dtype, 3, "conv2d", "x"));
    Conv2dGeometry g =
        image_geometry(x.shape(0), x.shape(1), x.shape(2), kernel, stride, padding, dilation);
    py::array cols = new_array({g.cols_rows(), g.out_pixels()}, dtype, "conv2d");
    T* cp = static_cast<T*>(cols.mutable_data());
    {
        py::gil_scoped_release release;
        im2col(g, xp, T(pad_value), 0, g.out_pixels(), cp, 1);
    }
    return cols;
}

template <typename T>
py::array col2im_call(const py::array& cols, std::array<std::int64_t, 3> image, Pair kernel,
                      Pair stride, Quad padding, Pair dilation, DType dtype) {
    const T* cp = static_cast<const T*>(checked_data(cols, dtype, 2, "conv2d", "cols"));
    Conv2dGeometry g =
        image_geometry(image[0], image[1], image[2], kernel, stride, padding, dilation);
    if (cols.shape(0) != g.cols_rows() || cols.shape(1) != g.out_pixels())
        throw py::value_error("conv2d: cols must have shape (C*kh*kw, Ho*Wo) = (" +
                              std::to_string(g.cols_rows()) + ", " +
                              std::to_string(g.out_pixels()) + ")");
    py::array x = new_array({image[0], image[1], image[2]}, dtype, "conv2d");
    T* xp = static_cast<T*>(x.mutable_data());
    {
        py::gil_scoped_release release;
        std::fill(xp, xp + image[0] * image[1] * image[2], T(0));
        col2im(g, cp, 0, g.out_pixels(), xp, 1);
    }
    return x;
}

}  // namespace

void bind_conv2d(py::module_& m) {
    m.def(
        "conv2d_forward",
        [](const py::array& x, const py::array& w, const py::object& bias, Pair stride,
           Quad padding, Pair dilation, std::int64_t groups, double pad_value) {
            DType dtype = float_dtype(x, "x");
            if (dtype == DType::float32)
                return forward<float>(x, w, bias, stride, padding, dilation, groups, pad_value,
                                      dtype);
            return forward<double>(x, w, bias, stride, padding, dilation, groups, pad_value, dtype);
        },
        py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("pad_value"),
        "y [N,O,Ho,Wo] = conv2d(x [N,C,H,W], weight [O,C/groups,kh,kw], bias [O] or None); "
        "padding (top, bottom, left, right) filled with pad_value");
    m.def(
        "conv2d_backward",
        [](const py::array& x, const py::array& w, const py::array& dy, Pair stride, Quad padding,
           Pair dilation, std::int64_t groups, double pad_value, bool need_input, bool need_weight,
           bool need_bias) {
            DType dtype = float_dtype(x, "x");
            if (dtype == DType::float32)
                return backward<float>(x, w, dy, stride, padding, dilation, groups, pad_value,
                                       need_input, need_weight, need_bias, dtype);
            return backward<double>(x, w, dy, stride, padding, dilation, groups, pad_value,
                                    need_input, need_weight, need_bias, dtype);
        },
        py::arg("x"), py::arg("weight"), py::arg("dy"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("groups"), py::arg("pad_value"), py::arg("need_input"),
        py::arg("need_weight"), py::arg("need_bias"),
        "(dx, dweight, dbias) of conv2d for the output gradient dy; None where not needed");
    m.def(
        "conv2d_im2col",
        [](const py::array& x, Pair kernel, Pair stride, Quad padding, Pair dilation,
           double pad_value) {
            DType dtype = float_dtype(x, "x");
            if (dtype == DType::float32)
                return im2col_call<float>(x, kernel, stride, padding, dilation, pad_value, dtype);
            return im2col_call<double>(x, kernel, stride, padding, dilation, pad_value, dtype);
        },
        py::arg("x"), py::arg("kernel"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
        py::arg("pad_value") = 0.0, "cols [C*kh*kw, Ho*Wo] = im2col(x [C,H,W]) (for tests)");
    m.def(
        "conv2d_col2im",
        [](const py::array& cols, std::array<std::int64_t, 3> image, Pair kernel, Pair stride,
           Quad padding, Pair dilation) {
            DType dtype = float_dtype(cols, "cols");
            if (dtype == DType::float32)
                return col2im_call<float>(cols, image, kernel, stride, padding, dilation, dtype);
            return col2im_call<double>(cols, image, kernel, stride, padding, dilation, dtype);
        },
        py::arg("cols"), py::arg("image"), py::arg("kernel"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"),
        "x [C,H,W] = col2im(cols [C*kh*kw, Ho*Wo]), the adjoint of im2col (for tests)");
}

}  // namespace sg::python
