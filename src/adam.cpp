// adam.cpp: the fused Adam update, one pass over parameters, gradients and moments.
#include "adam.hpp"

#include <cmath>
#include <stdexcept>

#include "threads.hpp"

namespace sg {

namespace {

template <typename T>
void adam_impl(T* p, const T* g, T* m, T* v, std::int64_t n, const AdamCoefficients& c) {
    if (n < 0) throw std::invalid_argument("adam: negative element count");
    if (n > 0 && (p == nullptr || g == nullptr || m == nullptr || v == nullptr))
        throw std::invalid_argument("adam: null pointer");
    const T beta_1 = T(c.beta_1), beta_2 = T(c.beta_2), rest_1 = T(1 - c.beta_1),
            rest_2 = T(1 - c.beta_2), eps = T(c.eps), v_scale = T(c.v_scale),
            step_scale = T(c.step_scale);
    // ~10 flops and 28 bytes of traffic per element: count bytes as the work.
    const int threads = threads_for(n * 28);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
        const T grad = g[i];
        const T mi = m[i] * beta_1 + grad * rest_1;
        const T vi = v[i] * beta_2 + (grad * grad) * rest_2;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] - mi / (std::sqrt(vi) * v_scale + eps) * step_scale;
    }
}

}  // namespace

// adam_update: p, g, m, v [n] -> p, m, v [n]
void adam_update(float* p, const float* g, float* m, float* v, std::int64_t n,
                 const AdamCoefficients& c) {
    adam_impl(p, g, m, v, n, c);
}
void adam_update(double* p, const double* g, double* m, double* v, std::int64_t n,
                 const AdamCoefficients& c) {
    adam_impl(p, g, m, v, n, c);
}

}  // namespace sg
