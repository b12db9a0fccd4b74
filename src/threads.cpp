// threads.cpp: the process-wide thread count, initialised from OMP_NUM_THREADS / the OpenMP default.
#include "threads.hpp"

#include <atomic>
#include <stdexcept>
#include <string>

#ifdef SIMPLEGRAD_OPENMP
#include <omp.h>
#endif
#ifndef _WIN32
#include <pthread.h>
#endif

namespace sg {

namespace {
int initial_threads() {
#ifdef SIMPLEGRAD_OPENMP
    int n = omp_get_max_threads();
    return n < 1 ? 1 : (n > kMaxThreads ? kMaxThreads : n);
#else
    return 1;
#endif
}
std::atomic<int> g_threads{initial_threads()};
// A kernel has asked for more than one thread, so OpenMP may have started its pool: a child forked
// from this process must then stay on one thread (g_forked), since the child has none of the pool's
// threads and OpenMP would wait for them forever (libgomp: the child hangs in its first region).
std::atomic<bool> g_pool_asked{false};
std::atomic<bool> g_forked{false};

#ifndef _WIN32
void after_fork_in_child() {
    if (g_pool_asked.load(std::memory_order_relaxed)) {
        g_threads.store(1, std::memory_order_relaxed);
        g_forked.store(true, std::memory_order_relaxed);
    }
}
const bool g_fork_handler = pthread_atfork(nullptr, nullptr, after_fork_in_child) == 0;
#endif
}  // namespace

int num_threads() {
    const int n = g_threads.load(std::memory_order_relaxed);
    if (n > 1 && !g_pool_asked.load(std::memory_order_relaxed))
        g_pool_asked.store(true, std::memory_order_relaxed);
    return n;
}

void set_num_threads(std::int64_t n) {
    if (n < 1)
        throw std::invalid_argument("set_num_threads: expected a positive thread count, got " +
                                    std::to_string(n));
    if (n > kMaxThreads)
        throw std::invalid_argument("set_num_threads: expected at most " +
                                    std::to_string(kMaxThreads) + " threads, got " +
                                    std::to_string(n));
#ifdef SIMPLEGRAD_OPENMP
    if (n > 1 && g_forked.load(std::memory_order_relaxed))
        throw std::runtime_error(
            "set_num_threads: this process was forked from one whose kernels ran on several "
            "threads, and OpenMP cannot start threads in such a child (it would hang); it runs on "
            "1 thread. Use multiprocessing's 'spawn' or 'forkserver' start method for more");
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
