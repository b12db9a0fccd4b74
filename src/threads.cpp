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
// More threads than this is a mistake (libgomp crashes creating ~100 000 of them), never a speed-up.
constexpr int kMaxThreads = 1024;

int initial_threads() {
#ifdef SIMPLEGRAD_OPENMP
    int n = omp_get_max_threads();
    return n < 1 ? 1 : (n > kMaxThreads ? kMaxThreads : n);
#else
    return 1;
#endif
}
std::atomic<int> g_threads{initial_threads()};
}  // namespace

int num_threads() { return g_threads.load(std::memory_order_relaxed); }

void set_num_threads(std::int64_t n) {
    if (n < 1)
        throw std::invalid_argument("set_num_threads: expected a positive thread count, got " +
                                    std::to_string(n));
    if (n > kMaxThreads)
        throw std::invalid_argument("set_num_threads: expected at most " +
                                    std::to_string(kMaxThreads) + " threads, got " +
                                    std::to_string(n));
#ifdef SIMPLEGRAD_OPENMP
    g_threads.store(int(n), std::memory_order_relaxed);
#else
    (void)n;  // a build without OpenMP always runs on one thread
#endif
}

int thread_index() {
#ifdef SIMPLEGRAD_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

int processors() {
#ifdef SIMPLEGRAD_OPENMP
    const int n = omp_get_num_procs();
    return n < 1 ? 1 : n;
#else
    return 1;
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
