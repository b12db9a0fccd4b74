// test_buffer.cpp: the caching allocator: alignment, reuse, accounting, cache limits, size checks.
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "buffer.hpp"
#include "check.hpp"

using namespace sg;

TEST(dtype_sizes_and_names_round_trip) {
    const DType all[] = {DType::float32, DType::float64, DType::int32, DType::int64, DType::bool_};
    const std::size_t sizes[] = {4, 8, 4, 8, 1};
    for (int i = 0; i < 5; ++i) {
        CHECK(dtype_size(all[i]) == sizes[i]);
        CHECK(dtype_from_name(dtype_name(all[i])) == all[i]);
    }
    CHECK_THROWS(dtype_from_name("float16"), std::invalid_argument, "unsupported dtype");
}

TEST(blocks_are_64_byte_aligned_and_writable) {
    for (std::int64_t count : {1, 3, 15, 16, 17, 1000, 4097, 300000, 1 << 20}) {
        Buffer buffer(count, DType::float32);
        CHECK(buffer.count() == count);
        CHECK(buffer.nbytes() == std::size_t(count) * 4);
        CHECK(reinterpret_cast<std::uintptr_t>(buffer.data()) % 64 == 0);
        float* data = static_cast<float*>(buffer.data());
        for (std::int64_t i = 0; i < count; ++i) data[i] = float(i);
        CHECK(data[count - 1] == float(count - 1));
    }
}

TEST(accounting_tracks_bytes_in_use_peak_and_cache) {
    empty_cache();
    const MemoryStats start = memory_stats();
    reset_peak_memory();
    {
        Buffer a(1000, DType::float64);  // 8000 bytes
        MemoryStats during = memory_stats();
        CHECK(during.bytes_in_use == start.bytes_in_use + 8000);
        CHECK(during.buffers == start.buffers + 1);
        {
            Buffer b(500, DType::int32);  // 2000 bytes
            CHECK(memory_stats().bytes_in_use == start.bytes_in_use + 10000);
        }
        CHECK(memory_stats().bytes_in_use == start.bytes_in_use + 8000);
        CHECK(memory_stats().peak_bytes == start.bytes_in_use + 10000);
    }
    MemoryStats after = memory_stats();
    CHECK(after.bytes_in_use == start.bytes_in_use);
    CHECK(after.buffers == start.buffers);
    CHECK(after.bytes_cached >=
          10000);  // both blocks went to the cache, rounded up to size classes
    reset_peak_memory();
    CHECK(memory_stats().peak_bytes == after.bytes_in_use);
    empty_cache();
    CHECK(memory_stats().bytes_cached == 0);
}

TEST(freed_blocks_are_reused) {
    empty_cache();
    void* first = nullptr;
    {
        Buffer a(100000, DType::float32);
        first = a.data();
    }
    Buffer b(100000, DType::float32);  // same size class: the cached block comes back
    CHECK(b.data() == first);
    CHECK(memory_stats().bytes_cached == 0);
}

TEST(cache_limit_bounds_the_cache) {
    empty_cache();
    set_cache_limit(1 << 20);
    {
        std::vector<std::unique_ptr<Buffer>> buffers;
        for (int i = 0; i < 8; ++i)
            buffers.push_back(std::make_unique<Buffer>(300000, DType::float32));
    }  // 8 x 1.2 MB released: at most 1 MiB may stay cached
    CHECK(memory_stats().bytes_cached <= (1 << 20));
    set_cache_limit(0);
    CHECK(memory_stats().bytes_cached == 0);
    set_cache_limit(std::int64_t(2) << 30);
}

TEST(scratch_is_counted_while_held) {
    const std::int64_t before = memory_stats().bytes_in_use;
    {
        Scratch scratch(12345);
        CHECK(reinterpret_cast<std::uintptr_t>(scratch.as<double>()) % 64 == 0);
        CHECK(memory_stats().bytes_in_use == before + 12345);
    }
    CHECK(memory_stats().bytes_in_use == before);
}

TEST(zero_sized_buffers_are_valid) {
    Buffer empty(0, DType::float64);
    CHECK(empty.nbytes() == 0);
    CHECK(empty.count() == 0);
}

TEST(bad_sizes_throw) {
    CHECK_THROWS(Buffer(-1, DType::float32), std::invalid_argument, "Buffer: negative");
    const std::int64_t huge[] = {std::int64_t(1) << 40, std::int64_t(1) << 40};
    CHECK_THROWS(checked_nbytes(huge, 2, DType::float32, "zeros"), std::length_error, "zeros: ");
    const std::int64_t negative[] = {3, -2};
    CHECK_THROWS(checked_nbytes(negative, 2, DType::float32, "ones"), std::invalid_argument,
                 "ones: negative dimension");
    const std::int64_t with_zero[] = {std::int64_t(1) << 62, 0};
    CHECK(checked_nbytes(with_zero, 2, DType::float64, "empty") == 0);
    const std::int64_t fine[] = {2, 3, 4};
    CHECK(checked_nbytes(fine, 3, DType::float64, "empty") == 192);
}
