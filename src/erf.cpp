// erf.cpp: the element-wise error function, parallel over contiguous chunks.
#include "erf.hpp"

#include <cmath>
#include <stdexcept>

#include "threads.hpp"

namespace sg {

namespace {

template <typename T>
void erf_impl(const T* x, std::int64_t n, T* out) {
    if (n < 0) throw std::invalid_argument("erf: negative element count");
    if (n > 0 && (x == nullptr || out == nullptr)) throw std::invalid_argument("erf: null pointer");
    // erf costs ~20 flops per element: count that as the work deciding the thread count.
    const int threads = threads_for(n * 20);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) out[i] = std::erf(x[i]);
}

}  // namespace

// erf_forward: x [n] -> out [n]
void erf_forward(const float* x, std::int64_t n, float* out) { erf_impl(x, n, out); }
void erf_forward(const double* x, std::int64_t n, double* out) { erf_impl(x, n, out); }

}  // namespace sg
