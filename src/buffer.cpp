// buffer.cpp: the caching allocator behind Buffer and Scratch, and its memory accounting.
#include "buffer.hpp"

#ifdef _WIN32
#include <malloc.h>
#else
#include <pthread.h>
#include <sys/mman.h>
#endif

#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

namespace sg {

namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHugePage = std::size_t(2) << 20;

struct Cache {
    std::mutex mutex;
    std::map<std::size_t, std::vector<void*>> free_blocks;  // capacity -> blocks
    std::int64_t bytes_in_use = 0;
    std::int64_t bytes_cached = 0;
    std::int64_t peak_bytes = 0;
    std::int64_t blocks = 0;
    std::int64_t cache_limit = std::int64_t(2) << 30;
};

Cache& cache() {
    static Cache* instance = new Cache();  // never destroyed: buffers may outlive static teardown
    return *instance;
}

#ifndef _WIN32
// fork() holds the cache's lock across the fork, so the child never starts with it held by a
// thread that does not exist there (it would wait for it forever).
void lock_before_fork() { cache().mutex.lock(); }
void unlock_after_fork() { cache().mutex.unlock(); }
const bool g_fork_handlers =
    pthread_atfork(lock_before_fork, unlock_after_fork, unlock_after_fork) == 0;
#endif

// Size classes: multiples of 64 bytes up to 4 KiB, then four classes per power of two (<= 25% slack).
std::size_t size_class(std::size_t nbytes) {
    if (nbytes <= 4096) return (nbytes + kAlignment - 1) / kAlignment * kAlignment;
    std::size_t top = 1;  // largest power of 2 below nbytes
    while (top * 2 < nbytes) top *= 2;
    std::size_t step = top / 4;
    return (nbytes + step - 1) / step * step;
}

void* system_allocate(std::size_t capacity) {
    std::size_t alignment = capacity >= kHugePage ? kHugePage : kAlignment;
    void* block = nullptr;
#ifdef _WIN32
    block = _aligned_malloc(capacity, alignment);
    if (block == nullptr) throw std::bad_alloc();
#else
    if (posix_memalign(&block, alignment, capacity) != 0) throw std::bad_alloc();
#endif
#ifdef MADV_HUGEPAGE
    if (capacity >= kHugePage) madvise(block, capacity, MADV_HUGEPAGE);
#endif
    return block;
}

void system_free(void* block) {
#ifdef _WIN32
    _aligned_free(block);
#else
    std::free(block);
#endif
}

void trim_locked(Cache& c, std::int64_t limit) {
    // Free the largest cached blocks first until the cache fits in `limit`.
    while (c.bytes_cached > limit && !c.free_blocks.empty()) {
        auto it = std::prev(c.free_blocks.end());
        while (!it->second.empty() && c.bytes_cached > limit) {
            system_free(it->second.back());
            it->second.pop_back();
            c.bytes_cached -= std::int64_t(it->first);
        }
        if (it->second.empty()) c.free_blocks.erase(it);
    }
}

}  // namespace

std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::float32: return 4;
        case DType::float64: return 8;
        case DType::int32: return 4;
        case DType::int64: return 8;
        case DType::bool_: return 1;
    }
    return 0;
}

DType dtype_from_name(const std::string& name) {
    if (name == "float32") return DType::float32;
    if (name == "float64") return DType::float64;
    if (name == "int32") return DType::int32;
    if (name == "int64") return DType::int64;
    if (name == "bool") return DType::bool_;
    throw std::invalid_argument("unsupported dtype '" + name +
                                "' (expected float32, float64, int32, int64 or bool)");
}

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::float32: return "float32";
        case DType::float64: return "float64";
        case DType::int32: return "int32";
        case DType::int64: return "int64";
        case DType::bool_: return "bool";
    }
    return "?";
}

std::size_t checked_nbytes(const std::int64_t* shape, std::size_t ndim, DType dtype, const char* op) {
    // Cap at 2^62 bytes: far beyond any machine, and keeps every later product in range.
    const std::uint64_t limit = std::uint64_t(1) << 62;
    std::uint64_t total = dtype_size(dtype);
    for (std::size_t i = 0; i < ndim; ++i) {
        if (shape[i] < 0)
            throw std::invalid_argument(std::string(op) + ": negative dimension " +
                                        std::to_string(shape[i]));
        if (shape[i] == 0) return 0;
    }
    for (std::size_t i = 0; i < ndim; ++i) {
        if (std::uint64_t(shape[i]) > limit / total)
            throw std::length_error(std::string(op) + ": tensor of that shape needs more than 2^62 bytes");
        total *= std::uint64_t(shape[i]);
    }
    return std::size_t(total);
}

void* allocate_block(std::size_t nbytes, std::size_t* capacity) {
    Cache& c = cache();
    std::size_t cap = size_class(nbytes == 0 ? 1 : nbytes);
    {
        std::lock_guard<std::mutex> lock(c.mutex);
        auto it = c.free_blocks.find(cap);
        if (it != c.free_blocks.end() && !it->second.empty()) {
            void* block = it->second.back();
            it->second.pop_back();
            c.bytes_cached -= std::int64_t(cap);
            c.bytes_in_use += std::int64_t(nbytes);
            c.blocks += 1;
            if (c.bytes_in_use > c.peak_bytes) c.peak_bytes = c.bytes_in_use;
            *capacity = cap;
            return block;
        }
    }
    void* block = nullptr;
    try {
        block = system_allocate(cap);
    } catch (const std::bad_alloc&) {
        empty_cache();  // one retry after handing the cache back
        block = system_allocate(cap);
    }
    std::lock_guard<std::mutex> lock(c.mutex);
    c.bytes_in_use += std::int64_t(nbytes);
    c.blocks += 1;
    if (c.bytes_in_use > c.peak_bytes) c.peak_bytes = c.bytes_in_use;
    *capacity = cap;
    return block;
}

void release_block(void* block, std::size_t nbytes, std::size_t capacity) {
    if (block == nullptr) return;
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.bytes_in_use -= std::int64_t(nbytes);
    c.blocks -= 1;
    if (std::int64_t(capacity) > c.cache_limit) {
        system_free(block);
        return;
    }
    c.free_blocks[capacity].push_back(block);
    c.bytes_cached += std::int64_t(capacity);
    trim_locked(c, c.cache_limit);
}

MemoryStats memory_stats() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    return MemoryStats{c.bytes_in_use, c.bytes_cached, c.peak_bytes, c.blocks};
}

void reset_peak_memory() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.peak_bytes = c.bytes_in_use;
}

void empty_cache() {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    trim_locked(c, 0);
}

void set_cache_limit(std::int64_t bytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.cache_limit = bytes < 0 ? 0 : bytes;
    trim_locked(c, c.cache_limit);
}

Buffer::Buffer(std::int64_t count, DType dtype) : count_(count), dtype_(dtype) {
    if (count < 0) throw std::invalid_argument("Buffer: negative element count");
    nbytes_ = checked_nbytes(&count, 1, dtype, "Buffer");
    data_ = allocate_block(nbytes_, &capacity_);
}

Buffer::~Buffer() { release_block(data_, nbytes_, capacity_); }

Scratch::Scratch(std::size_t nbytes) : nbytes_(nbytes) { data_ = allocate_block(nbytes, &capacity_); }

Scratch::~Scratch() { release_block(data_, nbytes_, capacity_); }

}  // namespace sg
