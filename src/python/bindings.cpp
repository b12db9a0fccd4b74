// bindings.cpp: the simplegrad._core module: Buffer (buffer protocol), allocation, memory stats, threads.
#include <pybind11/stl.h>

#include <new>
#include <stdexcept>
#include <string>

#include "bind.hpp"
#include "threads.hpp"

namespace sg::python {

py::array new_array(const std::vector<std::int64_t>& shape, DType dtype, const char* op) {
    std::size_t nbytes = checked_nbytes(shape.data(), shape.size(), dtype, op);
    if (nbytes == 0) {  // NumPy also refuses empty shapes whose other dims overflow: same check
        std::vector<std::int64_t> others;
        for (std::int64_t d : shape)
            if (d != 0) others.push_back(d);
        checked_nbytes(others.data(), others.size(), dtype, op);
    }
    std::int64_t count = std::int64_t(nbytes / dtype_size(dtype));
    BufferPtr buffer;
    try {
        buffer = std::make_shared<Buffer>(count, dtype);
    } catch (const std::bad_alloc&) {
        throw std::length_error(std::string(op) + ": out of memory allocating " +
                                std::to_string(nbytes) + " bytes");
    }
    std::vector<py::ssize_t> strides(shape.size());
    py::ssize_t stride = py::ssize_t(dtype_size(dtype));
    for (std::size_t i = shape.size(); i-- > 0;) {
        strides[i] = stride;
        stride *= py::ssize_t(shape[i] > 0 ? shape[i] : 1);
    }
    std::vector<py::ssize_t> dims(shape.begin(), shape.end());
    py::object owner = py::cast(buffer);
    return py::array(py::dtype(dtype_name(dtype)), dims, strides, buffer->data(), owner);
}

py::array allocate_array(const std::vector<std::int64_t>& shape, DType dtype, const char* op) {
    try {
        return new_array(shape, dtype, op);
    } catch (const std::bad_alloc&) {
        std::string dims;
        for (std::int64_t d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
        throw std::length_error(std::string(op) + ": out of memory for an array of shape (" + dims +
                                ")");
    }
}

DType dtype_of(const py::array& a, const char* op, const char* name) {
    char kind = a.dtype().kind();
    py::ssize_t size = a.itemsize();
    if (kind == 'f' && size == 4) return DType::float32;
    if (kind == 'f' && size == 8) return DType::float64;
    if (kind == 'i' && size == 4) return DType::int32;
    if (kind == 'i' && size == 8) return DType::int64;
    if (kind == 'b') return DType::bool_;
    throw py::type_error(std::string(op) + ": " + name +
                         " must be float32, float64, int32, int64 or bool, got " +
                         std::string(py::str(a.dtype())));
}

DType float_dtype_of(const py::array& a, const char* op, const char* name) {
    DType dtype = dtype_of(a, op, name);
    if (dtype != DType::float32 && dtype != DType::float64)
        throw py::type_error(std::string(op) + ": " + name + " must be float32 or float64, got " +
                             dtype_name(dtype));
    return dtype;
}

void* checked_data(const py::array& a, DType dtype, int ndim, const char* op, const char* name,
                   bool writable) {
    DType actual = dtype_of(a, op, name);
    if (actual != dtype)
        throw py::type_error(std::string(op) + ": " + name + " must be " + dtype_name(dtype) +
                             ", got " + dtype_name(actual));
    if (!a.dtype().attr("isnative").cast<bool>())  // the kernels read the machine's byte order
        throw py::type_error(std::string(op) + ": " + name +
                             " must be in the machine's byte order, got " +
                             std::string(py::str(a.dtype())));
    if (ndim >= 0 && a.ndim() != ndim)
        throw py::value_error(std::string(op) + ": " + name + " must have " + std::to_string(ndim) +
                              " dimensions, got " + std::to_string(a.ndim()));
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(op) + ": " + name + " must be C-contiguous");
    if (writable && !a.writeable())
        throw py::value_error(std::string(op) + ": " + name + " must be writable");
    return const_cast<void*>(a.data());
}

std::vector<std::int64_t> shape_of(const py::array& a) {
    return std::vector<std::int64_t>(a.shape(), a.shape() + a.ndim());
}

bool overlaps(const py::array& a, const py::array& b) {
    auto begin_a = reinterpret_cast<std::uintptr_t>(a.data());
    auto begin_b = reinterpret_cast<std::uintptr_t>(b.data());
    auto end_a = begin_a + std::uintptr_t(a.nbytes());
    auto end_b = begin_b + std::uintptr_t(b.nbytes());
    return a.nbytes() > 0 && b.nbytes() > 0 && begin_a < end_b && begin_b < end_a;
}

// dtype_from_name, with an unknown name reported as a ValueError that names `op`.
DType dtype_named(const std::string& name, const char* op) {
    try {
        return dtype_from_name(name);
    } catch (const std::invalid_argument& e) {
        throw py::value_error(std::string(op) + ": " + e.what());
    }
}

std::string buffer_format(DType dtype) {
    switch (dtype) {
        case DType::float32: return py::format_descriptor<float>::format();
        case DType::float64: return py::format_descriptor<double>::format();
        case DType::int32: return py::format_descriptor<std::int32_t>::format();
        case DType::int64: return py::format_descriptor<std::int64_t>::format();
        case DType::bool_: return py::format_descriptor<bool>::format();
    }
    return "B";
}

}  // namespace sg::python

namespace py = pybind11;
using namespace sg;
using namespace sg::python;

PYBIND11_MODULE(_core, m) {
    m.doc() = "simplegrad's C++ core: buffers, GEMM, convolution, padding and pooling kernels";
    m.attr("__version__") = SIMPLEGRAD_VERSION;

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const std::length_error& e) {
            PyErr_SetString(PyExc_MemoryError, e.what());
        }
    });

    py::class_<Buffer, BufferPtr>(m, "Buffer", py::buffer_protocol(),
                                  "64-byte-aligned storage block of the core; NumPy views it without copying")
        .def(py::init([](std::int64_t count, const std::string& dtype) {
                 DType type = dtype_named(dtype, "Buffer");
                 try {
                     return std::make_shared<Buffer>(count, type);
                 } catch (const std::bad_alloc&) {
                     throw std::length_error("Buffer: out of memory allocating " +
                                             std::to_string(count) + " elements of " + dtype);
                 }
             }),
             py::arg("count"), py::arg("dtype") = "float32")
        .def_property_readonly("nbytes", &Buffer::nbytes)
        .def_property_readonly("count", &Buffer::count)
        .def_property_readonly("dtype", [](const Buffer& b) { return dtype_name(b.dtype()); })
        .def_property_readonly("address", [](const Buffer& b) { return reinterpret_cast<std::uintptr_t>(b.data()); })
        .def_property_readonly("version", &Buffer::version,
                               "in-place writes made through the library (backward checks it)")
        .def("bump_version", &Buffer::bump_version, "records an in-place write")
        .def_buffer([](Buffer& b) {
            py::ssize_t item = py::ssize_t(dtype_size(b.dtype()));
            return py::buffer_info(b.data(), item, buffer_format(b.dtype()), 1,
                                   {py::ssize_t(b.count())}, {item});
        });

    m.def("empty", [](const std::vector<std::int64_t>& shape, const std::string& dtype) {
              return new_array(shape, dtype_named(dtype, "empty"), "empty");
          },
          py::arg("shape"), py::arg("dtype") = "float32",
          "A new uninitialised array of `shape` whose memory is a core Buffer.");
    m.def("memory_stats", []() {
        MemoryStats s = memory_stats();
        py::dict d;
        d["bytes_in_use"] = s.bytes_in_use;
        d["bytes_cached"] = s.bytes_cached;
        d["peak_bytes"] = s.peak_bytes;
        d["buffers"] = s.buffers;
        return d;
    });
    m.def("reset_peak_memory", &reset_peak_memory);
    m.def("empty_cache", &empty_cache);
    m.def("set_cache_limit", &set_cache_limit, py::arg("bytes"));
    m.def("set_num_threads", &set_num_threads, py::arg("n"));
    m.def("get_num_threads", &num_threads);
    m.def("openmp_enabled", &openmp_enabled);

    bind_gemm(m);
    bind_conv2d(m);
    bind_pad(m);
    bind_pool(m);
    bind_erf(m);
    bind_adam(m);
    bind_channel_norm(m);
}
