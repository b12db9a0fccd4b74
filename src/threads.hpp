// threads.hpp: the size of the core's OpenMP pool, one process-wide setting read by every parallel kernel.
#pragma once
#include <cstdint>

namespace sg {

// More threads than this is a mistake (libgomp crashes creating ~100 000), never a speed-up.
constexpr int kMaxThreads = 1024;

int num_threads();                     // threads a parallel kernel may use (>= 1)
void set_num_threads(std::int64_t n);  // 1 <= n <= kMaxThreads, else std::invalid_argument
bool openmp_enabled();
int thread_index();  // this thread's number inside a parallel region (0 outside one)
int processors();    // the processors this process may run on (OpenMP's count; 1 without it)

// Threads to use for `work` units of arithmetic (FLOPs or bytes): tiny problems run on one thread,
// since waking the pool costs more than it saves below ~1 MFLOP.
inline int threads_for(std::int64_t work) {
    return work < (std::int64_t(1) << 20) ? 1 : num_threads();
}

}  // namespace sg
