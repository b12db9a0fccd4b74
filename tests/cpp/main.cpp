// main.cpp: runs every TEST of one test executable and prints one line per test plus a summary.
#include <cstdio>
#include <exception>

#include "check.hpp"

int main() {
    int passed = 0, failed = 0;
    for (const sg_test::Case& test : sg_test::registry()) {
        const int before = sg_test::failures();
        try {
            test.body();
        } catch (const std::exception& e) {
            sg_test::fail(__FILE__, __LINE__, std::string(test.name) + " threw: " + e.what());
        } catch (...) {
            sg_test::fail(__FILE__, __LINE__, std::string(test.name) + " threw a non-exception");
        }
        const bool ok = sg_test::failures() == before;
        std::printf("%-40s %s\n", test.name, ok ? "ok" : "FAILED");
        (ok ? passed : failed) += 1;
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
