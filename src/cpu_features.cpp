// cpu_features.cpp: which GEMM micro-kernels this CPU runs, chosen once (SIMPLEGRAD_ISA overrides).
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "gemm.hpp"
#include "gemm_kernels.hpp"

#if defined(_MSC_VER) && defined(_M_X64)
#include <intrin.h>
#endif

namespace sg {

namespace gemm_detail {
namespace {

constexpr KernelSet kGeneric = {"generic", kernel_generic_f32, kGenericF32, kernel_generic_f64,
                                kGenericF64, nullptr, nullptr, nullptr, nullptr, nullptr,
                                winograd_input_portable_f32, winograd_output_portable_f32,
                                winograd_gradient_portable_f32};
constexpr KernelSet kAvx2 = {"avx2", kernel_avx2_f32, kAvx2F32, kernel_avx2_f64, kAvx2F64,
                             nullptr, nullptr, nullptr, nullptr, nullptr,
                             winograd_input_portable_f32, winograd_output_portable_f32,
                             winograd_gradient_portable_f32};
constexpr KernelSet kAvx512 = {"avx512", kernel_avx512_f32, kAvx512F32, kernel_avx512_f64,
                               kAvx512F64, pack_rows_avx512_f32, pack_cols_avx512_f32,
                               im2col_pieces_avx512_f32, kernel_in_place_avx512_f32,
                               kernel_in_place_a_avx512_f32, winograd_input_avx512_f32,
                               winograd_output_avx512_f32, winograd_gradient_avx512_f32};

#if defined(_MSC_VER) && defined(_M_X64)
// MSVC has no __builtin_cpu_supports: read CPUID, and XGETBV for the register state the OS saves.
bool cpuid_bit(int leaf, int reg, int bit) {
    int info[4];
    __cpuidex(info, leaf, 0);
    return (info[reg] >> bit) & 1;
}
bool os_saves(unsigned long long mask) {
    return cpuid_bit(1, 2, 27) && (_xgetbv(0) & mask) == mask;  // OSXSAVE, then XCR0
}
#endif

bool cpu_has_avx2() {
#if defined(_MSC_VER) && defined(_M_X64)
    return os_saves(0x6) && cpuid_bit(7, 1, 5) && cpuid_bit(1, 2, 12);  // YMM state, AVX2, FMA
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    // libgcc also checks that the OS saves the YMM/ZMM state (XGETBV) before reporting these.
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

bool cpu_has_avx512() {
#if defined(_MSC_VER) && defined(_M_X64)
    // ZMM/opmask state; AVX512F, DQ, BW, VL.
    return cpu_has_avx2() && os_saves(0xE6) && cpuid_bit(7, 1, 16) && cpuid_bit(7, 1, 17) &&
           cpuid_bit(7, 1, 30) && cpuid_bit(7, 1, 31);
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

const KernelSet* best_kernels() {
    if (cpu_has_avx512()) return &kAvx512;
    if (cpu_has_avx2()) return &kAvx2;
    return &kGeneric;
}

const KernelSet* kernels_named(const std::string& name) {
    if (name == "generic") return &kGeneric;
    if (name == "avx2") return cpu_has_avx2() ? &kAvx2 : nullptr;
    if (name == "avx512") return cpu_has_avx512() ? &kAvx512 : nullptr;
    throw std::invalid_argument("set_gemm_isa: unknown ISA '" + name +
                                "' (expected 'generic', 'avx2' or 'avx512')");
}

std::string g_startup_warning;

// The set chosen at start: SIMPLEGRAD_ISA if set and runnable, else the best this CPU supports.
const KernelSet* startup_kernels() {
    const char* forced = std::getenv("SIMPLEGRAD_ISA");
    if (forced == nullptr || *forced == '\0') return best_kernels();
    std::string name(forced);
    for (char& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    try {
        const KernelSet* set = kernels_named(name);
        if (set != nullptr) return set;
        g_startup_warning = std::string("SIMPLEGRAD_ISA=") + forced +
                            ": this CPU cannot run that ISA; using '" + best_kernels()->name + "'";
    } catch (const std::invalid_argument&) {
        g_startup_warning = std::string("SIMPLEGRAD_ISA=") + forced +
                            " is not an ISA (expected 'generic', 'avx2' or 'avx512'); using '" +
                            best_kernels()->name + "'";
    }
    return best_kernels();
}

std::atomic<const KernelSet*> g_active{nullptr};

}  // namespace

const KernelSet& active_kernels() {
    const KernelSet* set = g_active.load(std::memory_order_acquire);
    if (set == nullptr) {
        static const KernelSet* const chosen = startup_kernels();  // thread-safe, once
        const KernelSet* expected = nullptr;
        g_active.compare_exchange_strong(expected, chosen, std::memory_order_acq_rel);
        set = g_active.load(std::memory_order_acquire);
    }
    return *set;
}

}  // namespace gemm_detail

std::vector<std::string> gemm_supported_isas() {
    std::vector<std::string> names{"generic"};
    if (gemm_detail::cpu_has_avx2()) names.push_back("avx2");
    if (gemm_detail::cpu_has_avx512()) names.push_back("avx512");
    return names;
}

std::string gemm_isa() { return gemm_detail::active_kernels().name; }

void set_gemm_isa(const std::string& name) {
    const gemm_detail::KernelSet* set = gemm_detail::kernels_named(name);
    if (set == nullptr)
        throw std::invalid_argument("set_gemm_isa: this CPU cannot run '" + name + "' kernels");
    gemm_detail::active_kernels();  // make the start-up choice first so it cannot override this one
    gemm_detail::g_active.store(set, std::memory_order_release);
}

std::string gemm_isa_warning() {
    gemm_detail::active_kernels();
    return gemm_detail::g_startup_warning;
}

GemmBlockSizes gemm_block_sizes(bool float64) {
    const gemm_detail::KernelSet& set = gemm_detail::active_kernels();
    const gemm_detail::BlockSizes& s = float64 ? set.f64 : set.f32;
    return {s.mr, s.nr, s.kc, s.mc, s.nc};
}

}  // namespace sg
