// threads.cpp: the process-wide thread count, initialised from OMP_NUM_THREADS / the OpenMP default.
#include "threads.hpp"

#include <atomic>
#include <stdexcept>
#include <string>

#ifdef SIMPLEGRAD_OPENMP
#include <omp.h>
#endif

namespace sg {

namespace {
int initial_threads() {
#ifdef SIMPLEGRAD_OPENMP
    int n = omp_get_max_threads();
    return n < 1 ? 1 : n;
#else
    return 1;
#endif
}
std::atomic<int> g_threads{initial_threads()};
}  // namespace

int num_threads() { return g_threads.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
    if (n < 1)
        throw std::invalid_argument("set_num_threads: expected a positive thread count, got " +
                                    std::to_string(n));
#ifdef SIMPLEGRAD_OPENMP
    g_threads.store(n, std::memory_order_relaxed);
#else
    (void)n;  // a build without OpenMP always runs on one thread
#endif
}

bool openmp_enabled() {
#ifdef SIMPLEGRAD_OPENMP
    return true;
#else
    return false;
#endif
}

}  // namespace sg
