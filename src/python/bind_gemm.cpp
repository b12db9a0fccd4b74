// bind_gemm.cpp: the gemm kernels' bindings (argument checks, GIL release, kernel call).
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "bind.hpp"
#include "gemm.hpp"

namespace sg::python {

namespace {

// A 2-D operand as the kernel wants it: a row-major matrix (rows x ld) and whether to transpose it.
struct Operand {
    const void* data;
    std::int64_t ld;
    bool trans;
    py::array keep;  // a copy, when one had to be made
};

// Lowest and one-past-highest byte address that `a` can touch (any strides, any sign).
std::pair<std::uintptr_t, std::uintptr_t> byte_extent(const py::array& a) {
    auto low = reinterpret_cast<std::uintptr_t>(a.data()), high = low;
    for (py::ssize_t d = 0; d < a.ndim(); ++d) {
        if (a.shape(d) == 0) return {low, low};
        py::ssize_t span = (a.shape(d) - 1) * a.strides(d);
        if (span < 0) low -= std::uintptr_t(-span);
        else high += std::uintptr_t(span);
    }
    return {low, high + std::uintptr_t(a.itemsize())};
}

// True when `x` holds native-endian elements at addresses aligned to the element size.
bool aligned_native(const py::array& x) {
    return reinterpret_cast<std::uintptr_t>(x.data()) % std::uintptr_t(x.itemsize()) == 0 &&
           x.dtype().attr("isnative").cast<bool>();
}

bool arrays_overlap(const py::array& a, const py::array& b) {
    auto ea = byte_extent(a), eb = byte_extent(b);
    return ea.first < ea.second && eb.first < eb.second && ea.first < eb.second &&
           eb.first < ea.second;
}

// `x` (2-D, already of the right dtype) with its strides turned into a leading dimension: a view
// with unit column stride is used as is, one with unit row stride as the transpose of a row-major
// matrix (flipping `trans`); anything else (or unaligned, byte-swapped data) is copied.
Operand as_operand(const py::array& x, bool trans) {
    const std::int64_t rows = x.shape(0), cols = x.shape(1), item = x.itemsize();
    const std::int64_t s0 = x.strides(0), s1 = x.strides(1);
    const bool usable = aligned_native(x);
    if (usable && x.size() == 0) return {x.data(), std::max<std::int64_t>(cols, 1), trans, {}};
    auto leading = [item](std::int64_t stride, std::int64_t at_least) {
        return stride > 0 && stride % item == 0 && stride / item >= at_least ? stride / item : 0;
    };
    if (usable && (cols <= 1 || s1 == item)) {
        std::int64_t ld = rows <= 1 ? std::max<std::int64_t>(cols, 1) : leading(s0, cols);
        if (ld > 0) return {x.data(), ld, trans, {}};
    }
    if (usable && (rows <= 1 || s0 == item)) {
        std::int64_t ld = cols <= 1 ? std::max<std::int64_t>(rows, 1) : leading(s1, rows);
        if (ld > 0) return {x.data(), ld, !trans, {}};
    }
    py::array copy = py::module_::import("numpy").attr("ascontiguousarray")(
        x, x.dtype().attr("newbyteorder")("="));
    return {copy.data(), std::max<std::int64_t>(cols, 1), trans, copy};
}

DType float_dtype(const py::array& x, const char* name) {
    DType dtype = dtype_of(x, "gemm", name);
    if (dtype != DType::float32 && dtype != DType::float64)
        throw py::type_error(std::string("gemm: ") + name + " must be float32 or float64, got " +
                             dtype_name(dtype));
    if (x.ndim() != 2)
        throw py::value_error(std::string("gemm: ") + name + " must have 2 dimensions, got " +
                              std::to_string(x.ndim()));
    return dtype;
}

py::array gemm_binding(const py::array& a, const py::array& b, bool trans_a, bool trans_b,
                       double alpha, double beta, py::object out_arg, int threads) {
    DType dtype = float_dtype(a, "a");
    DType dtype_b = float_dtype(b, "b");
    if (dtype_b != dtype)
        throw py::type_error(std::string("gemm: a and b must have the same dtype, got ") +
                             dtype_name(dtype) + " and " + dtype_name(dtype_b));
    const std::int64_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
    const std::int64_t k_b = trans_b ? b.shape(1) : b.shape(0);
    const std::int64_t n = trans_b ? b.shape(0) : b.shape(1);
    if (k != k_b)
        throw py::value_error("gemm: inner dimensions differ: op(a) is " + std::to_string(m) + "x" +
                              std::to_string(k) + " but op(b) is " + std::to_string(k_b) + "x" +
                              std::to_string(n));
    py::array out;
    if (out_arg.is_none()) {
        if (beta != 0.0) throw py::value_error("gemm: beta != 0 needs an `out` array to add to");
        out = new_array({m, n}, dtype, "gemm");
    } else {
        if (!py::isinstance<py::array>(out_arg))
            throw py::type_error("gemm: out must be a NumPy array");
        out = py::reinterpret_borrow<py::array>(out_arg);
        DType dtype_out = dtype_of(out, "gemm", "out");
        if (dtype_out != dtype)
            throw py::type_error(std::string("gemm: out must be ") + dtype_name(dtype) + ", got " +
                                 dtype_name(dtype_out));
        if (out.ndim() != 2 || out.shape(0) != m || out.shape(1) != n)
            throw py::value_error("gemm: out must have shape (" + std::to_string(m) + ", " +
                                  std::to_string(n) + ")");
        if (!out.writeable()) throw py::value_error("gemm: out must be writable");
        if (arrays_overlap(out, a) || arrays_overlap(out, b))
            throw py::value_error("gemm: out overlaps an input");
    }
    const std::int64_t item = out.itemsize();
    std::int64_t ldc = std::max<std::int64_t>(n, 1);
    if (m > 1 && n > 0) ldc = out.strides(0) % item == 0 ? out.strides(0) / item : 0;
    // An empty out is never written (NumPy gives empty arrays any strides, (0, 0) among them).
    const bool out_ok = m == 0 || n == 0 ||
                        (aligned_native(out) && (n <= 1 || out.strides(1) == item) &&
                         ldc >= std::max<std::int64_t>(n, 1));
    if (!out_ok)
        throw py::value_error("gemm: out must be a row-major view (unit column stride, aligned)");

    Operand oa = as_operand(a, trans_a), ob = as_operand(b, trans_b);
    void* c = out.mutable_data();
    {
        py::gil_scoped_release release;
        if (dtype == DType::float32)
            gemm(oa.trans, ob.trans, m, n, k, float(alpha), static_cast<const float*>(oa.data),
                 oa.ld, static_cast<const float*>(ob.data), ob.ld, float(beta),
                 static_cast<float*>(c), ldc, threads);
        else
            gemm(oa.trans, ob.trans, m, n, k, alpha, static_cast<const double*>(oa.data), oa.ld,
                 static_cast<const double*>(ob.data), ob.ld, beta, static_cast<double*>(c), ldc,
                 threads);
    }
    return out;
}

}  // namespace

void bind_gemm(py::module_& m) {
    m.def("gemm", &gemm_binding, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
          py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
          py::arg("out") = py::none(), py::arg("threads") = 0,
          "out = alpha * op(a) @ op(b) + beta * out for 2-D float32/float64 arrays (op: optional "
          "transpose). Strided views are used without copying when one of their strides is unit. "
          "beta == 0 never reads out. threads: 0 uses the core's setting. Returns out.");
    m.def("gemm_isa", &gemm_isa, "The GEMM micro-kernel ISA in use: generic, avx2 or avx512.");
    m.def("set_gemm_isa", &set_gemm_isa, py::arg("name"),
          "Switches the GEMM micro-kernels (ValueError for an ISA this CPU cannot run).");
    m.def("gemm_supported_isas", &gemm_supported_isas, "Every GEMM ISA this CPU can run.");
    m.def("gemm_block_sizes", [](const std::string& dtype) {
              if (dtype != "float32" && dtype != "float64")
                  throw py::type_error("gemm_block_sizes: dtype must be 'float32' or 'float64', "
                                       "got '" + dtype + "'");
              GemmBlockSizes s = gemm_block_sizes(dtype == "float64");
              py::dict out;
              out["mr"] = s.mr;
              out["nr"] = s.nr;
              out["kc"] = s.kc;
              out["mc"] = s.mc;
              out["nc"] = s.nc;
              return out;
          },
          py::arg("dtype") = "float32",
          "The active kernels' register tile (mr, nr) and cache blocks (kc, mc, nc) for `dtype`.");
    std::string warning = gemm_isa_warning();
    if (!warning.empty() && PyErr_WarnEx(PyExc_RuntimeWarning, warning.c_str(), 1) != 0)
        throw py::error_already_set();
}

}  // namespace sg::python
