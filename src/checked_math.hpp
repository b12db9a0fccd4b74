// checked_math.hpp: overflow-checked int64 arithmetic for the kernels' size and count computations.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace sg {

// result = a + b; false (result unspecified) when the exact sum does not fit in int64.
inline bool add_fits(std::int64_t a, std::int64_t b, std::int64_t& result) {
#if defined(__GNUC__) || defined(__clang__)
    return !__builtin_add_overflow(a, b, &result);
#else
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return false;
    result = a + b;
    return true;
#endif
}

// result = a * b; false (result unspecified) when the exact product does not fit in int64.
inline bool mul_fits(std::int64_t a, std::int64_t b, std::int64_t& result) {
#if defined(__GNUC__) || defined(__clang__)
    return !__builtin_mul_overflow(a, b, &result);
#else
    const bool fits = a == 0 || b == 0 ||
                      (a > 0 ? (b > 0 ? a <= INT64_MAX / b : b >= INT64_MIN / a)
                             : (b > 0 ? a >= INT64_MIN / b : a >= INT64_MAX / b));
    if (fits) result = a * b;
    return fits;
#endif
}

// a + b, or std::length_error("<op>: sizes overflow int64").
inline std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* op) {
    std::int64_t r;
    if (!add_fits(a, b, r)) throw std::length_error(std::string(op) + ": sizes overflow int64");
    return r;
}

// a * b, or std::length_error("<op>: sizes overflow int64").
inline std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* op) {
    std::int64_t r;
    if (!mul_fits(a, b, r)) throw std::length_error(std::string(op) + ": sizes overflow int64");
    return r;
}

// a * b for a, b >= 0, saturating at INT64_MAX: a work estimate (threads_for) that cannot overflow.
inline std::int64_t saturating_mul(std::int64_t a, std::int64_t b) {
    std::int64_t r;
    return mul_fits(a, b, r) ? r : std::numeric_limits<std::int64_t>::max();
}

// count = dims[0] * ... * dims[n-1] for dims >= 0: 0 when any dim is 0 (however large the others);
// false when the count is not 0 and does not fit in int64.
inline bool count_fits(const std::int64_t* dims, std::size_t n, std::int64_t& count) {
    for (std::size_t i = 0; i < n; ++i)
        if (dims[i] == 0) {
            count = 0;
            return true;
        }
    count = 1;
    for (std::size_t i = 0; i < n; ++i)
        if (!mul_fits(count, dims[i], count)) return false;
    return true;
}

}  // namespace sg
