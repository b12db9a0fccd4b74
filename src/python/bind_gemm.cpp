// bind_gemm.cpp: the gemm kernels' bindings (argument checks, GIL release, kernel call).
#include "bind.hpp"

namespace sg::python {

void bind_gemm(py::module_& m) { (void)m; }

}  // namespace sg::python
