// erf.hpp: the element-wise error function (NumPy has none; GELU's exact form needs it).
#pragma once
#include <cstdint>

namespace sg {

// erf_forward: x [n] -> out [n], out[i] = erf(x[i]) (std::erf). out may alias x (in place).
// Parallel over chunks for large n; throws std::invalid_argument for n < 0 or null pointers.
void erf_forward(const float* x, std::int64_t n, float* out);
void erf_forward(const double* x, std::int64_t n, double* out);

}  // namespace sg
