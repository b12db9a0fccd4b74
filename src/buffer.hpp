// buffer.hpp: the storage of every tensor: 64-byte-aligned, reference-counted blocks from a caching allocator.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace sg {

// bool_ holds comparison results and masks only (no arithmetic kernels take it).
enum class DType : int { float32 = 0, float64 = 1, int32 = 2, int64 = 3, bool_ = 4 };

// Bytes per element of `dtype`.
std::size_t dtype_size(DType dtype);
// "float32" -> DType::float32; throws std::invalid_argument for any other name.
DType dtype_from_name(const std::string& name);
const char* dtype_name(DType dtype);

struct MemoryStats {
    std::int64_t bytes_in_use;   // bytes requested by live buffers and workspaces
    std::int64_t bytes_cached;   // bytes held in the allocator's free lists
    std::int64_t peak_bytes;     // maximum of bytes_in_use since start or reset_peak_memory()
    std::int64_t buffers;        // live blocks
};

// Caching allocator: size-class free lists of 64-byte-aligned blocks, reused across ops and steps.
// allocate() returns a block of at least `nbytes`; its true size (for release) goes to `*capacity`.
// Throws std::bad_alloc when the system has no memory left.
void* allocate_block(std::size_t nbytes, std::size_t* capacity);
void release_block(void* block, std::size_t nbytes, std::size_t capacity);
MemoryStats memory_stats();
void reset_peak_memory();
void empty_cache();                       // hand every cached block back to the system
void set_cache_limit(std::int64_t bytes);  // most bytes kept cached (default 2 GiB)

// element count * element size, throwing std::length_error when the product overflows or is absurd.
std::size_t checked_nbytes(const std::int64_t* shape, std::size_t ndim, DType dtype, const char* op);

// A block of `count` elements of `dtype`; freed back to the cache when the last owner drops it.
class Buffer {
public:
    Buffer(std::int64_t count, DType dtype);
    ~Buffer();
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    void* data() const { return data_; }
    std::int64_t count() const { return count_; }
    DType dtype() const { return dtype_; }
    std::size_t nbytes() const { return nbytes_; }
    // Counts the in-place writes made through the library (optimizer steps, Tensor.values
    // assignment, load_state_dict): backward compares it with the count saved at forward time.
    // Changed and read under Python's GIL only.
    std::uint64_t version() const { return version_; }
    void bump_version() { ++version_; }

private:
    void* data_ = nullptr;
    std::int64_t count_ = 0;
    DType dtype_;
    std::size_t nbytes_ = 0;
    std::size_t capacity_ = 0;
    std::uint64_t version_ = 0;
};

using BufferPtr = std::shared_ptr<Buffer>;

// Scratch memory for one kernel call (im2col panels, packed GEMM panels), from the same cache, so it is
// warm after the first call and counted in memory_stats() while held. Owned by one thread.
class Scratch {
public:
    explicit Scratch(std::size_t nbytes);
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    template <typename T>
    T* as() const { return static_cast<T*>(data_); }

private:
    void* data_ = nullptr;
    std::size_t nbytes_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace sg
