// bind_erf.cpp: the erf kernel's binding (argument checks, GIL release, kernel call).
#include <string>

#include "bind.hpp"
#include "erf.hpp"

namespace sg::python {

namespace {

// erf: x [any shape] -> out [same shape], into `out` (C-contiguous, same dtype, may be x itself)
void erf_py(const py::array& x, py::array& out) {
    DType dtype = dtype_of(x, "erf", "x");
    if (dtype != DType::float32 && dtype != DType::float64)
        throw py::type_error(std::string("erf: x must be float32 or float64, got ") +
                             dtype_name(dtype));
    const void* in = checked_data(x, dtype, -1, "erf", "x");
    void* result = checked_data(out, dtype, int(x.ndim()), "erf", "out", true);
    if (shape_of(out) != shape_of(x)) throw py::value_error("erf: out must have the shape of x");
    if (overlaps(x, out) && x.data() != out.data())
        throw py::value_error("erf: out partially overlaps x");
    std::int64_t n = std::int64_t(x.size());
    py::gil_scoped_release release;
    if (dtype == DType::float32)
        erf_forward(static_cast<const float*>(in), n, static_cast<float*>(result));
    else
        erf_forward(static_cast<const double*>(in), n, static_cast<double*>(result));
}

}  // namespace

void bind_erf(py::module_& m) {
    m.def("erf", &erf_py, py::arg("x"), py::arg("out"),
          "Element-wise error function of a float32/float64 array into `out` (same shape and dtype).");
}

}  // namespace sg::python
