// bind_adam.cpp: the fused Adam update's binding (argument checks, GIL release, kernel call).
#include <string>

#include "adam.hpp"
#include "bind.hpp"

namespace sg::python {

namespace {

// adam_update: p, g, m, v [any shape, same shape and dtype, C-contiguous] -> p, m, v in place
void adam_update_py(py::array& p, const py::array& g, py::array& m, py::array& v, double beta_1,
                    double beta_2, double eps, double v_scale, double step_scale) {
    DType dtype = dtype_of(p, "adam", "p");
    if (dtype != DType::float32 && dtype != DType::float64)
        throw py::type_error(std::string("adam: p must be float32 or float64, got ") +
                             dtype_name(dtype));
    const int ndim = int(p.ndim());
    void* pp = checked_data(p, dtype, ndim, "adam", "p", true);
    const void* gp = checked_data(g, dtype, ndim, "adam", "g");
    void* mp = checked_data(m, dtype, ndim, "adam", "m", true);
    void* vp = checked_data(v, dtype, ndim, "adam", "v", true);
    const auto shape = shape_of(p);
    if (shape_of(g) != shape || shape_of(m) != shape || shape_of(v) != shape)
        throw py::value_error("adam: p, g, m and v must have one shape");
    if (overlaps(p, m) || overlaps(p, v) || overlaps(m, v) || overlaps(g, p) || overlaps(g, m) ||
        overlaps(g, v))
        throw py::value_error("adam: p, g, m and v must not overlap");
    const AdamCoefficients c{beta_1, beta_2, eps, v_scale, step_scale};
    const std::int64_t n = std::int64_t(p.size());
    py::gil_scoped_release release;
    if (dtype == DType::float32)
        adam_update(static_cast<float*>(pp), static_cast<const float*>(gp),
                    static_cast<float*>(mp), static_cast<float*>(vp), n, c);
    else
        adam_update(static_cast<double*>(pp), static_cast<const double*>(gp),
                    static_cast<double*>(mp), static_cast<double*>(vp), n, c);
}

}  // namespace

void bind_adam(py::module_& m) {
    m.def("adam_update", &adam_update_py, py::arg("p"), py::arg("g"), py::arg("m"), py::arg("v"),
          py::arg("beta_1"), py::arg("beta_2"), py::arg("eps"), py::arg("v_scale"),
          py::arg("step_scale"),
          "Fused Adam step in place: m, v moments and p (C-contiguous arrays of one shape/dtype).");
}

}  // namespace sg::python
