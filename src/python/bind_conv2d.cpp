// bind_conv2d.cpp: the conv2d kernels' bindings (argument checks, GIL release, kernel call).
#include "bind.hpp"

namespace sg::python {

void bind_conv2d(py::module_& m) { (void)m; }

}  // namespace sg::python
