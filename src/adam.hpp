// adam.hpp: the fused Adam update (moments, bias-corrected step and parameter update in one pass).
#pragma once
#include <cstdint>

namespace sg {

// Adam's coefficients for one step t: the moment decay rates, their complements, eps, and the bias
// corrections folded in: v_scale = 1 / sqrt(1 - beta_2^t), step_scale = lr / (1 - beta_1^t).
struct AdamCoefficients {
    double beta_1, beta_2, eps, v_scale, step_scale;
};

// adam_update: p, g, m, v [n] -> p, m, v [n] updated in place, element by element:
//   m = m*beta_1 + g*(1-beta_1);  v = v*beta_2 + (g*g)*(1-beta_2)
//   p = p - m / (sqrt(v)*v_scale + eps) * step_scale
// in the element type, in the order NumPy evaluates the same expressions (same bits as the NumPy
// form). Parallel over contiguous chunks for large n; throws std::invalid_argument for n < 0 or
// null pointers.
void adam_update(float* p, const float* g, float* m, float* v, std::int64_t n,
                 const AdamCoefficients& c);
void adam_update(double* p, const double* g, double* m, double* v, std::int64_t n,
                 const AdamCoefficients& c);

}  // namespace sg
