// check.hpp: a tiny assert-style harness for the C++ kernel tests (TEST, CHECK, CHECK_THROWS).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace sg_test {

struct Case {
    const char* name;
    void (*body)();
};

inline std::vector<Case>& registry() {
    static std::vector<Case> cases;
    return cases;
}

inline int& failures() {
    static int count = 0;
    return count;
}

struct Register {
    Register(const char* name, void (*body)()) { registry().push_back({name, body}); }
};

inline void fail(const char* file, int line, const std::string& what) {
    ++failures();
    if (failures() <= 50) std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

// |actual - expected| <= atol + rtol * |expected|, and NaN never passes.
inline bool near(double actual, double expected, double rtol, double atol) {
    return std::fabs(actual - expected) <= atol + rtol * std::fabs(expected);
}

// Uniform values in [-1, 1) from a fixed seed.
template <typename T>
std::vector<T> random_values(std::size_t count, unsigned seed) {
    std::mt19937 engine(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<T> values(count);
    for (auto& v : values) v = T(uniform(engine));
    return values;
}

}  // namespace sg_test

#define SG_CONCAT_INNER(a, b) a##b
#define SG_CONCAT(a, b) SG_CONCAT_INNER(a, b)

// TEST(name) { ... }: a test case, run by main.cpp in the order of definition.
#define TEST(name)                                                          \
    static void name();                                                     \
    static const sg_test::Register SG_CONCAT(register_, name)(#name, name); \
    static void name()

#define CHECK(condition)                                                              \
    do {                                                                              \
        if (!(condition)) sg_test::fail(__FILE__, __LINE__, "CHECK(" #condition ")"); \
    } while (0)

// CHECK_MESSAGE(condition, std::string): CHECK with context (sizes, indices) in the failure line.
#define CHECK_MESSAGE(condition, message)                                                         \
    do {                                                                                          \
        if (!(condition))                                                                         \
            sg_test::fail(__FILE__, __LINE__, std::string("CHECK(" #condition ") ") + (message)); \
    } while (0)

// CHECK_THROWS(statement, Exception, "prefix"): the statement throws Exception whose what() starts
// with prefix.
#define CHECK_THROWS(statement, Exception, prefix)                                     \
    do {                                                                               \
        std::string caught_ = "nothing";                                               \
        bool ok_ = false;                                                              \
        try {                                                                          \
            statement;                                                                 \
        } catch (const Exception& e) {                                                 \
            caught_ = e.what();                                                        \
            ok_ = caught_.rfind(prefix, 0) == 0;                                       \
        } catch (const std::exception& e) {                                            \
            caught_ = std::string("another exception: ") + e.what();                   \
        }                                                                              \
        if (!ok_)                                                                      \
            sg_test::fail(__FILE__, __LINE__,                                          \
                          "expected " #Exception " starting '" + std::string(prefix) + \
                              "' from " #statement ", got " + caught_);                \
    } while (0)
