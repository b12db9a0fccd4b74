// gemm.cpp: the packed, cache-blocked (BLIS-style) GEMM framework around the per-ISA micro-kernels.
//
// Loops, outermost first (block sizes from the table in gemm_kernels.hpp; the micro-kernel contract
// -- what it reads, beta == 0 never reading C, edge tiles -- is written there once):
//   ic over m by MC       : rows of A
//     pc over k by ~KC    : pack A[ic:ic+MC, pc:pc+KC] into MR-row micro-panels (the big block;
//                           not when A is packed beforehand or read in place, see below)
//       jc over n by NC   : pack B[pc:pc+KC, jc:jc+NC] into NR-column micro-panels (stays in L2)
//         ir over MR      : one A micro-panel (stays in L1) ...
//           jr over NR    : ... against every B micro-panel of the block: one micro-kernel call
// The k range is cut into equal blocks of at most KC (no thin remainder block).
// A may come packed beforehand over its whole depth (PackedA: no A packing, no barrier), or be
// read in place where the kernel set has an in-place-A kernel (float32 on AVX-512, A stored
// untransposed, alpha == 1: no packing, no barrier either), and B from a producer that writes the
// packed panels itself (PanelSource: conv2d's implicit im2col).
// Threads split the columns of C (each packs its own B blocks; the A block is shared: all threads
// pack a share of it, meet at a barrier, and the next block goes to a second buffer, so that is the
// only barrier) or, when C has too few NR-column panels, the rows (each thread then packs its own A
// and B, no barrier). When A needs no packing, the threads claim column chunks from a counter
// instead of taking fixed halves, so a thread slowed by a busy core does less of the work, and a
// thread with no chunk left takes A panels of the others' current blocks (Offer). The k
// loop is never split, so every element of C is summed in the same order whatever the number of
// threads: results are bit-identical for 1 and N threads.
#include "gemm.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <emmintrin.h>
#endif

#include "buffer.hpp"
#include "gemm_kernels.hpp"
#include "threads.hpp"

#ifdef SIMPLEGRAD_OPENMP
#include <omp.h>
#endif

namespace sg {

namespace {

using gemm_detail::BlockSizes;

constexpr bool blocks_are_whole_tiles(const BlockSizes& s) {
    return s.mc % s.mr == 0 && s.nc % s.nr == 0 &&
           s.mr * s.nr <= gemm_detail::kMaxTileElements;
}
static_assert(blocks_are_whole_tiles(gemm_detail::kGenericF32) &&
                  blocks_are_whole_tiles(gemm_detail::kGenericF64) &&
                  blocks_are_whole_tiles(gemm_detail::kAvx2F32) &&
                  blocks_are_whole_tiles(gemm_detail::kAvx2F64) &&
                  blocks_are_whole_tiles(gemm_detail::kAvx512F32) &&
                  blocks_are_whole_tiles(gemm_detail::kAvx512F64),
              "MC and NC must be whole multiples of the register tile");

// One pause of a spin-wait (a hint to the core that this thread only waits).
void relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
    _mm_pause();
#endif
}

// A spin-wait's pauses: pause instructions for about 0.1 ms, then yields, so that a waiting thread
// gives its core away when the team has more threads than cores.
class Backoff {
public:
    void pause() {
        if (spins_++ < kSpins)
            relax();
        else
            std::this_thread::yield();
    }

private:
    static constexpr int kSpins = 4000;
    int spins_ = 0;
};

// The barrier between packing a shared A block and using it. It spins briefly before yielding:
// under a passive OpenMP wait policy (which simplegrad sets, see simplegrad/__init__.py) the
// runtime's barrier puts an early thread to sleep, and waking it costs tens of microseconds on a
// virtual machine, more than the wait itself (the threads arrive microseconds apart).
class SpinBarrier {
public:
    // Waits until all `team` threads have arrived; `passed` counts this thread's barriers.
    void wait(int team, long& passed) {
        const long target = ++passed * team;
        arrived_.fetch_add(1, std::memory_order_acq_rel);
        for (Backoff backoff; arrived_.load(std::memory_order_acquire) < target;)
            backoff.pause();
    }

private:
    std::atomic<long> arrived_{0};
};

template <typename T>
using Kernel = void (*)(std::int64_t, const T*, const T*, T, T, T*, std::int64_t);

template <typename T>
struct Problem {
    bool trans_a, trans_b;
    std::int64_t m, n, k;
    T alpha;
    const T* a;
    std::int64_t lda;
    const T* b;
    std::int64_t ldb;
    T beta;
    T* c;
    std::int64_t ldc;
    const T* a_panels = nullptr;  // A packed beforehand ([m panels][k][MR], see PackedA): no pack_a
    const PanelSource<T>* b_source = nullptr;  // B packed by a producer (then b is unused)
    // A stored [m, k] and read in place by this kernel instead of packed (float32 on AVX-512,
    // alpha == 1: see kernel_in_place_a in gemm_kernels.hpp). The same sums, the same bits.
    void (*a_in_place)(std::int64_t, const T*, const std::int64_t*, const T*, T, T*,
                       std::int64_t) = nullptr;
};

std::int64_t ceil_div(std::int64_t x, std::int64_t y) { return (x + y - 1) / y; }

// The portable packing routines (the contract is in gemm_kernels.hpp).
template <typename T>
void pack_rows_portable(const T* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                        int width, T* dst) {
    for (std::int64_t q0 = 0; q0 < count; q0 += width, dst += width * kc) {
        const std::int64_t valid = std::min<std::int64_t>(width, count - q0);
        const T* from = src + q0 * ld;
        for (std::int64_t p = 0; p < kc; ++p) {
            T* out = dst + p * width;
            std::int64_t i = 0;
            for (; i < valid; ++i) out[i] = from[i * ld + p];
            for (; i < width; ++i) out[i] = T(0);
        }
    }
}
template <typename T>
void pack_cols_portable(const T* src, std::int64_t ld, std::int64_t count, std::int64_t kc,
                        int width, T* dst) {
    for (std::int64_t p = 0; p < kc; ++p) {  // one stored row across all panels: one long read
        const T* in = src + p * ld;
        for (std::int64_t q0 = 0; q0 < count; q0 += width) {
            T* out = dst + (q0 / width * kc + p) * width;
            const std::int64_t valid = std::min<std::int64_t>(width, count - q0);
            std::int64_t i = 0;
            for (; i < valid; ++i) out[i] = in[q0 + i];
            for (; i < width; ++i) out[i] = T(0);
        }
    }
}

// The packing routines of one GEMM: the kernel set's own (float32 on AVX-512) or the portable ones.
template <typename T>
struct Packers {
    void (*rows)(const T*, std::int64_t, std::int64_t, std::int64_t, int, T*);
    void (*cols)(const T*, std::int64_t, std::int64_t, std::int64_t, int, T*);
};

// pack_a: op(A)[i0:i0+rows, p0:p0+kc] -> MR-row micro-panels, dst[panel][p][i], rows zero-padded.
template <typename T>
void pack_a(const Problem<T>& g, const Packers<T>& pk, std::int64_t i0, std::int64_t rows,
            std::int64_t p0, std::int64_t kc, int mr, T* dst) {
    if (g.trans_a)  // A stored [k, m]: the rows of a panel are contiguous per p
        pk.cols(g.a + p0 * g.lda + i0, g.lda, rows, kc, mr, dst);
    else  // A stored [m, k]: transpose the panels' rows
        pk.rows(g.a + i0 * g.lda + p0, g.lda, rows, kc, mr, dst);
}

// pack_b: op(B)[p0:p0+kc, j0:j0+cols] -> NR-column micro-panels dst[panel][p][j], zero-padded
// (work: kc * nr elements for a PanelSource).
template <typename T>
void pack_b(const Problem<T>& g, const Packers<T>& pk, std::int64_t p0, std::int64_t kc,
            std::int64_t j0, std::int64_t cols, int nr, T* dst, T* work) {
    if (g.b_source != nullptr)
        g.b_source->pack(g.b_source->context, pk.rows, p0, kc, j0, cols, nr, dst, work);
    else if (g.trans_b)  // B stored [n, k]: transpose the panels' columns (rows as stored)
        pk.rows(g.b + j0 * g.ldb + p0, g.ldb, cols, kc, nr, dst);
    else  // B stored [k, n]: each row of a panel is contiguous
        pk.cols(g.b + p0 * g.ldb + j0, g.ldb, cols, kc, nr, dst);
}

// C = beta * C (C is never read when beta == 0): the whole product when k == 0 or alpha == 0.
template <typename T>
void scale_c(const Problem<T>& g) {
    for (std::int64_t i = 0; i < g.m; ++i) {
        T* row = g.c + i * g.ldc;
        if (g.beta == T(0))
            std::fill(row, row + g.n, T(0));
        else if (g.beta != T(1))
            for (std::int64_t j = 0; j < g.n; ++j) row[j] *= g.beta;
    }
}

// How the threads share the work, and the packed blocks' capacities (all fixed before the threads
// start; they depend on the problem and the team size, never on the micro-kernel results).
struct Plan {
    bool split_cols;       // threads own column ranges of C (else row ranges)
    bool claim_cols;       // ... claimed chunk by chunk (else one fixed range per thread)
    std::int64_t a_rows;   // rows of the A block (a multiple of MR)
    std::int64_t kc;       // depth of a k block (the last one may be shorter)
    std::int64_t b_cols;   // columns of one thread's B block, and of a claimed chunk (NR multiple)
    bool help;             // with claim_cols: idle threads take panels of the others' blocks
    std::int64_t b_work;   // where a PanelSource's work area starts in a thread's B scratch
};

// The rows and columns of C that one call of gemm_range computes.
struct Range {
    std::int64_t row_begin, row_end, col_begin, col_end;
};

// One block of micro-kernel calls: the A panels of rows [ic, ic + panels * MR) against one packed
// B block (k block [pc, pc + kc), columns [jc, jc + nc) of a range ending at col_end).
template <typename T>
struct Block {
    std::int64_t ic, panels, kc, jc, nc, col_end;
    T beta;              // for C (g.beta in the first k block, then 1)
    const T* a_block;    // A panel ir starts at a_block + ir * a_stride
    std::int64_t a_stride;
    const T* b_pack;
};

// A thread's current block, open to the team's idle threads: once the column chunks run out, a
// thread with nothing left takes A panels of another thread's open block (reading its packed B,
// which the owner leaves alone until the helpers are out), so the last chunks end together
// instead of one thread waiting for the other's whole chunk. Each panel is still one set of
// micro-kernel calls: the same sums, the same bits.
template <typename T>
struct alignas(64) Offer {
    Block<T> block;                     // written by the owner while the offer is closed
    std::atomic<std::int64_t> next{0};  // the next panel to take
    std::atomic<long> generation{0};    // odd while open
    std::atomic<int> helpers{0};        // other threads inside the block
};

// How long an idle thread looks for panels to take before it leaves the GEMM: longer than an
// owner takes to pack its next B block (about 100 us for 512 x 256 floats, benchmarks/NOTES.md).
constexpr std::chrono::microseconds kPatience{300};

// C[panel ir of the block] = op(A panel) @ B block (+ beta * C): one micro-kernel call per B
// micro-panel; edge tiles go through a local tile and are merged.
template <typename T>
void panel_products(const Problem<T>& g, Kernel<T> kernel, const BlockSizes& bs,
                    const Block<T>& blk, std::int64_t ir) {
    const int mr = bs.mr, nr = bs.nr;
    const bool in_place = g.a_in_place != nullptr;
    alignas(64) T tile[gemm_detail::kMaxTileElements];
    std::int64_t rows_at[gemm_detail::kMaxTileElements];  // A read in place: its rows' offsets
    const std::int64_t i = blk.ic + ir * mr;
    const std::int64_t rows = std::min<std::int64_t>(mr, g.m - i);
    const T* ap = blk.a_block + ir * blk.a_stride;
    if (in_place)
        for (int r = 0; r < mr; ++r)  // past the last row: the last row again
            rows_at[r] = std::min<std::int64_t>(r, rows - 1) * g.lda;
    for (std::int64_t jr = 0; jr * nr < blk.nc; ++jr) {
        const std::int64_t j = blk.jc + jr * nr;
        const std::int64_t cols = std::min<std::int64_t>(nr, blk.col_end - j);
        const T* bp = blk.b_pack + jr * nr * blk.kc;
        T* c = g.c + i * g.ldc + j;
        // One micro-kernel call: dst = op(A panel) @ B panel + tile_beta * dst.
        auto product = [&](T tile_beta, T* dst, std::int64_t ld) {
            if (in_place)
                g.a_in_place(blk.kc, ap, rows_at, bp, tile_beta, dst, ld);
            else
                kernel(blk.kc, ap, bp, g.alpha, tile_beta, dst, ld);
        };
        if (rows == mr && cols == nr) {
            product(blk.beta, c, g.ldc);
            continue;
        }
        product(T(0), tile, nr);  // edge: local tile, merge
        for (std::int64_t r = 0; r < rows; ++r) {
            T* out = c + r * g.ldc;
            const T* in = tile + r * nr;
            for (std::int64_t q = 0; q < cols; ++q)
                out[q] = blk.beta == T(0) ? in[q] : in[q] + blk.beta * out[q];
        }
    }
}

// Takes panels of an open block of another thread; true if it computed any.
template <typename T>
bool help(const Problem<T>& g, Kernel<T> kernel, const BlockSizes& bs, Offer<T>& offer) {
    const long generation = offer.generation.load();
    if (generation % 2 == 0) return false;
    offer.helpers.fetch_add(1);
    bool took = false;
    // Still the same block now that the owner sees this helper (both sequentially consistent:
    // either the owner waits for it, or it sees the block closed).
    if (offer.generation.load() == generation) {
        const Block<T> blk = offer.block;
        for (std::int64_t ir; (ir = offer.next.fetch_add(1)) < blk.panels; took = true)
            panel_products(g, kernel, bs, blk, ir);
    }
    offer.helpers.fetch_sub(1);
    return took;
}

// C[row_begin:row_end, col_begin:col_end] for thread `t` of `team` (the bounds are multiples of
// MR / NR or the matrix's end). shared_a: the A blocks are packed by the whole team (see
// gemm_thread); passed and step count this thread's barriers and A blocks across calls. offer:
// with claimed column chunks, this thread's Offer (its blocks' panels are then taken one at a
// time, by it and by idle threads).
template <typename T>
void gemm_range(const Problem<T>& g, Kernel<T> kernel, const Packers<T>& pk, const BlockSizes& bs,
                const Plan& plan, const Range& range, T* const a_pack[2], T* b_pack,
                SpinBarrier* barrier, int t, int team, bool shared_a, long& passed, int& step,
                Offer<T>* offer) {
    const int mr = bs.mr, nr = bs.nr;
    const std::int64_t row_begin = range.row_begin, row_end = range.row_end;
    const std::int64_t col_begin = range.col_begin, col_end = range.col_end;

    for (std::int64_t ic = row_begin; ic < row_end; ic += plan.a_rows) {
        const std::int64_t mc = std::min<std::int64_t>(plan.a_rows, row_end - ic);
        const std::int64_t mc_panels = ceil_div(mc, mr);
        for (std::int64_t pc = 0; pc < g.k; pc += plan.kc) {
            const std::int64_t kc = std::min<std::int64_t>(plan.kc, g.k - pc);
            const T beta = pc == 0 ? g.beta : T(1);
            // The A block: packed beforehand (micro-panels mr * k apart), or packed here: this
            // thread packs its share of the panels (all of them when not shared).
            const T* a_block = nullptr;
            std::int64_t a_stride = mr * g.k;
            if (g.a_in_place != nullptr) {
                a_block = g.a + ic * g.lda + pc;
                a_stride = mr * g.lda;
            } else if (g.a_panels != nullptr) {
                a_block = g.a_panels + ic * g.k + pc * mr;
            } else {
                T* block = a_pack[step++ % 2];
                const std::int64_t p_begin = shared_a ? mc_panels * t / team : 0;
                const std::int64_t p_end = shared_a ? mc_panels * (t + 1) / team : mc_panels;
                if (p_end > p_begin)
                    pack_a(g, pk, ic + p_begin * mr, std::min(mc, p_end * mr) - p_begin * mr, pc,
                           kc, mr, block + p_begin * mr * kc);
                a_block = block;
                a_stride = mr * kc;
            }
            if (shared_a) barrier->wait(team, passed);  // the block is packed before it is used
            for (std::int64_t jc = col_begin; jc < col_end; jc += plan.b_cols) {
                const std::int64_t nc = std::min<std::int64_t>(plan.b_cols, col_end - jc);
                pack_b(g, pk, pc, kc, jc, nc, nr, b_pack, b_pack + plan.b_work);
                const Block<T> blk{ic, mc_panels, kc, jc, nc, col_end, beta, a_block, a_stride,
                                   b_pack};
                if (offer == nullptr) {
                    for (std::int64_t ir = 0; ir < mc_panels; ++ir)
                        panel_products(g, kernel, bs, blk, ir);
                    continue;
                }
                offer->block = blk;
                offer->next.store(0);
                offer->generation.fetch_add(1);  // open
                for (std::int64_t ir; (ir = offer->next.fetch_add(1)) < mc_panels;)
                    panel_products(g, kernel, bs, blk, ir);
                offer->generation.fetch_add(1);  // closed: wait for the helpers inside it, as
                for (Backoff backoff; offer->helpers.load() != 0;)  // the next block rewrites
                    backoff.pause();                                // B and C
            }
        }
    }
}

// One thread's share of the GEMM (thread `t` of `team`). team == 1 runs no OpenMP construct, so a
// caller already inside a parallel region can call gemm with threads = 1.
// a_pack: two A blocks shared by the team when the threads split the columns and A is packed here
// (used in turn, so a thread can pack the next block while the others still compute with the
// current one: one barrier per block), else this thread's own A block (a_pack[0] == a_pack[1]);
// b_pack: this thread's B block. With plan.claim_cols: next_chunk and chunks_done count the team's
// claimed and finished column chunks, offers[0, team) are the threads' open blocks.
template <typename T>
void gemm_thread(const Problem<T>& g, Kernel<T> kernel, const Packers<T>& pk, const BlockSizes& bs,
                 const Plan& plan, T* const a_pack[2], T* b_pack, SpinBarrier* barrier,
                 std::atomic<std::int64_t>* next_chunk, std::atomic<std::int64_t>* chunks_done,
                 Offer<T>* offers, int t, int team) {
    long passed = 0;
    int step = 0;
    const int mr = bs.mr, nr = bs.nr;
    if (plan.claim_cols) {  // no shared A block, no barrier: take the next chunk until none is left
        const std::int64_t chunks = ceil_div(g.n, plan.b_cols);
        for (std::int64_t j0; (j0 = next_chunk->fetch_add(1) * plan.b_cols) < g.n;
             chunks_done->fetch_add(1))
            gemm_range(g, kernel, pk, bs, plan, Range{0, g.m, j0, std::min(g.n, j0 + plan.b_cols)},
                       a_pack, b_pack, barrier, t, team, false, passed, step,
                       plan.help ? &offers[t] : nullptr);
        // Then help with the other threads' blocks until every chunk is done, or until there has
        // been nothing to take for kPatience (past an owner's packing of its next B block: then
        // the OpenMP barrier's passive wait frees the core).
        using Clock = std::chrono::steady_clock;
        auto idle_since = Clock::now();
        for (int spins = 1; plan.help && chunks_done->load() < chunks; ++spins) {
            bool took = false;
            for (int o = 0; o < team; ++o)
                if (o != t) took = help(g, kernel, bs, offers[o]) || took;
            if (took) {
                idle_since = Clock::now();
            } else if (spins % 64 == 0 && Clock::now() - idle_since > kPatience) {
                break;
            } else {
                relax();
            }
        }
        return;
    }
    const std::int64_t m_panels = ceil_div(g.m, mr), n_panels = ceil_div(g.n, nr);
    Range range{0, g.m, 0, g.n};
    if (plan.split_cols) {
        range.col_begin = std::min(g.n, n_panels * t / team * nr);
        range.col_end = std::min(g.n, n_panels * (t + 1) / team * nr);
    } else {
        range.row_begin = std::min(g.m, m_panels * t / team * mr);
        range.row_end = std::min(g.m, m_panels * (t + 1) / team * mr);
    }
    const bool shared_a = plan.split_cols && team > 1 && g.a_panels == nullptr &&
                          g.a_in_place == nullptr;
    gemm_range(g, kernel, pk, bs, plan, range, a_pack, b_pack, barrier, t, team, shared_a, passed,
               step, static_cast<Offer<T>*>(nullptr));
}

template <typename T>
void check_problem(const Problem<T>& g) {
    if (g.m < 0 || g.n < 0 || g.k < 0)
        throw std::invalid_argument("gemm: negative size (m=" + std::to_string(g.m) + ", n=" +
                                    std::to_string(g.n) + ", k=" + std::to_string(g.k) + ")");
    const std::int64_t a_cols = g.trans_a ? g.m : g.k, b_cols = g.trans_b ? g.k : g.n;
    auto check_ld = [](const char* name, std::int64_t ld, std::int64_t cols) {
        if (ld < std::max<std::int64_t>(1, cols))
            throw std::invalid_argument(std::string("gemm: ") + name + " = " + std::to_string(ld) +
                                        " is smaller than the " + std::to_string(cols) +
                                        " columns stored per row");
    };
    check_ld("lda", g.lda, a_cols);
    check_ld("ldb", g.ldb, b_cols);
    check_ld("ldc", g.ldc, g.n);
    if (g.m > 0 && g.n > 0 && g.c == nullptr) throw std::invalid_argument("gemm: C is null");
    if (g.m > 0 && g.n > 0 && g.k > 0 &&
        ((g.a == nullptr && g.a_panels == nullptr) || (g.b == nullptr && g.b_source == nullptr)))
        throw std::invalid_argument("gemm: A or B is null");
}

template <typename T>
void gemm_impl(const Problem<T>& g, Kernel<T> kernel, const Packers<T>& pk, const BlockSizes& bs,
               int threads) {
    check_problem(g);
    if (threads < 0 || threads > kMaxThreads)
        throw std::invalid_argument("gemm: threads must be 0 (the core's setting) to " +
                                    std::to_string(kMaxThreads) + ", got " +
                                    std::to_string(threads));
    if (g.m == 0 || g.n == 0) return;
    if (g.k == 0 || g.alpha == T(0)) {
        scale_c(g);
        return;
    }
    const std::int64_t m_panels = ceil_div(g.m, bs.mr), n_panels = ceil_div(g.n, bs.nr);

    int team = threads > 0 ? threads : num_threads();
    const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
    if (flops < double(std::int64_t(1) << 20) || !openmp_enabled()) team = 1;
    team = int(std::min<std::int64_t>(team, std::max(m_panels, n_panels)));

    // A packed beforehand or read in place: no A packing, no barrier.
    const bool a_ready = g.a_panels != nullptr || g.a_in_place != nullptr;
    Plan plan;
    plan.split_cols = team == 1 || n_panels >= 2 * team || m_panels < team;
    // Without a shared A block the threads claim column chunks as they go, about kClaims each, so
    // that one slowed down (a shared core, the late wake-up of a worker) leaves less idle time at
    // the end than a fixed half would (benchmarks/NOTES.md). Chunk borders are NR multiples, so
    // every tile is computed the same way whichever thread takes it: the same bits.
    constexpr std::int64_t kClaims = 2, kMinChunkPanels = 2;
    plan.claim_cols = plan.split_cols && team > 1 && a_ready;
    // When the chunks run out, the idle threads help with the last blocks (see Offer), but only
    // with a core each: a helper that has to wait for a core would hold up its block's owner.
    plan.help = plan.claim_cols && team <= processors();
    const std::int64_t k_blocks = ceil_div(g.k, bs.kc);
    plan.kc = ceil_div(g.k, k_blocks);
    const std::int64_t my_m_panels = plan.split_cols ? m_panels : ceil_div(m_panels, team);
    const std::int64_t my_n_panels =
        !plan.split_cols ? n_panels
        : plan.claim_cols ? std::max(kMinChunkPanels, ceil_div(n_panels, team * kClaims))
                          : ceil_div(n_panels, team);
    // Blocks of at most MC rows / NC columns, cut evenly (no thin remainder block).
    const std::int64_t a_chunks = ceil_div(my_m_panels, bs.mc / bs.mr);
    const std::int64_t b_chunks = ceil_div(my_n_panels, bs.nc / bs.nr);
    plan.a_rows = ceil_div(my_m_panels, a_chunks) * bs.mr;
    plan.b_cols = ceil_div(my_n_panels, b_chunks) * bs.nr;

    // Scratch, allocated before any thread starts: A blocks (two shared, or one per thread; none
    // when A is ready) and one B block per thread.
    const int a_blocks = a_ready ? 1 : plan.split_cols ? (team > 1 ? 2 : 1) : team;
    const std::size_t a_bytes = a_ready ? 0 : sizeof(T) * std::size_t(plan.a_rows * plan.kc);
    // A PanelSource also gets kc * nr elements of its own there, past the block (64-byte aligned).
    constexpr std::int64_t kLine = 64 / sizeof(T);
    plan.b_work = ceil_div(plan.b_cols * plan.kc, kLine) * kLine;
    const std::int64_t b_work_elements = g.b_source != nullptr ? plan.kc * bs.nr : 0;
    const std::size_t b_bytes = sizeof(T) * std::size_t(plan.b_work + b_work_elements);
    std::vector<std::unique_ptr<Scratch>> a_scratch, b_scratch;
    for (int t = 0; t < a_blocks; ++t)
        a_scratch.push_back(std::make_unique<Scratch>(a_bytes));
    for (int t = 0; t < team; ++t)
        b_scratch.push_back(std::make_unique<Scratch>(b_bytes));

    if (team == 1) {
        T* const a_pack[2] = {a_scratch[0]->as<T>(), a_scratch[0]->as<T>()};
        gemm_thread(g, kernel, pk, bs, plan, a_pack, b_scratch[0]->as<T>(), nullptr, nullptr,
                    nullptr, static_cast<Offer<T>*>(nullptr), 0, 1);
        return;
    }
#ifdef SIMPLEGRAD_OPENMP
    SpinBarrier barrier;
    std::atomic<std::int64_t> next_chunk{0}, chunks_done{0};
    const std::unique_ptr<Offer<T>[]> offers(new Offer<T>[team]);
#pragma omp parallel num_threads(team)
    {
        // The runtime may give fewer threads than asked: partition by the real team.
        const int t = omp_get_thread_num(), actual = omp_get_num_threads();
        const bool one_block = plan.split_cols || a_ready;
        T* const own = a_scratch[one_block ? 0 : t]->as<T>();
        T* const second = plan.split_cols && a_blocks == 2 ? a_scratch[1]->as<T>() : own;
        T* const a_pack[2] = {own, second};
        gemm_thread(g, kernel, pk, bs, plan, a_pack, b_scratch[t]->as<T>(), &barrier, &next_chunk,
                    &chunks_done, offers.get(), t, actual);
    }
#endif
}

// The packing routines and block sizes of a kernel set for one dtype.
template <typename T>
Packers<T> packers_of(const gemm_detail::KernelSet& set) {
    if constexpr (sizeof(T) == sizeof(float))
        if (set.pack_rows_f32 != nullptr && set.pack_cols_f32 != nullptr)
            return {set.pack_rows_f32, set.pack_cols_f32};
    return {pack_rows_portable<T>, pack_cols_portable<T>};
}
template <typename T>
const BlockSizes& blocks_of(const gemm_detail::KernelSet& set) {
    if constexpr (sizeof(T) == sizeof(float)) return set.f32; else return set.f64;
}
template <typename T>
const gemm_detail::KernelSet& kernel_set(const PackedA<T>& a) {
    return *static_cast<const gemm_detail::KernelSet*>(a.kernels());
}

// The bytes of op(A) [m,k] in MR-row micro-panels, after checking the sizes and A like gemm does.
template <typename T>
std::size_t packed_a_bytes(bool trans_a, std::int64_t m, std::int64_t k, const T* a,
                           std::int64_t lda, int mr) {
    check_problem(Problem<T>{trans_a, false, m, 0, k, T(1), a, lda, a, 1, T(0), nullptr, 1});
    if (m > 0 && k > 0 && a == nullptr) throw std::invalid_argument("gemm: A is null");
    return sizeof(T) * std::size_t(std::max<std::int64_t>(1, ceil_div(m, mr) * mr * k));
}

// Runs a problem on a kernel set's kernels and packing.
template <typename T>
void run(Problem<T> g, const gemm_detail::KernelSet& set, int threads) {
    if constexpr (sizeof(T) == sizeof(float)) {
        // A stored untransposed is read in place where the kernel set can (measured in
        // benchmarks/NOTES.md: no A packing, no barrier between the threads).
        if (!g.trans_a && g.a_panels == nullptr && g.alpha == 1.0f)
            g.a_in_place = set.kernel_in_place_a_f32;
        gemm_impl(g, set.kernel_f32, packers_of<float>(set), set.f32, threads);
    } else
        gemm_impl(g, set.kernel_f64, packers_of<double>(set), set.f64, threads);
}
// The problem with A taken from a PackedA (its sizes, and its panels instead of a stored A).
template <typename T>
Problem<T> with_packed_a(const PackedA<T>& a, Problem<T> g) {
    g.m = a.rows();
    g.k = a.depth();
    g.lda = std::max<std::int64_t>(1, g.trans_a ? g.m : g.k);
    g.a_panels = a.panels();
    return g;
}
// The problem with B from a PanelSource (then ldb only has to pass the size check).
template <typename T>
Problem<T> with_source(const PanelSource<T>& b, Problem<T> g) {
    g.ldb = std::max<std::int64_t>(1, g.n);
    g.b_source = &b;
    return g;
}

}  // namespace

template <typename T>
PackedA<T>::PackedA(bool trans_a, std::int64_t m, std::int64_t k, const T* a, std::int64_t lda)
    : m_(m),
      k_(k),
      kernels_(&gemm_detail::active_kernels()),
      panels_(packed_a_bytes(trans_a, m, k, a, lda, blocks_of<T>(kernel_set(*this)).mr)) {
    const Problem<T> g{trans_a, false, m, 0, k, T(1), a, lda, a, 1, T(0), nullptr, 1};
    const gemm_detail::KernelSet& set = kernel_set(*this);
    pack_a(g, packers_of<T>(set), 0, m, 0, k, blocks_of<T>(set).mr, panels_.template as<T>());
}
template class PackedA<float>;
template class PackedA<double>;

void gemm(const PackedA<float>& a, bool trans_b, std::int64_t n, float alpha, const float* b,
          std::int64_t ldb, float beta, float* c, std::int64_t ldc, int threads) {
    run(with_packed_a(a, Problem<float>{false, trans_b, 0, n, 0, alpha, nullptr, 1, b, ldb, beta,
                                        c, ldc}),
        kernel_set(a), threads);
}
void gemm(const PackedA<double>& a, bool trans_b, std::int64_t n, double alpha, const double* b,
          std::int64_t ldb, double beta, double* c, std::int64_t ldc, int threads) {
    run(with_packed_a(a, Problem<double>{false, trans_b, 0, n, 0, alpha, nullptr, 1, b, ldb, beta,
                                         c, ldc}),
        kernel_set(a), threads);
}

void gemm(bool trans_a, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const PanelSource<float>& b, float beta, float* c,
          std::int64_t ldc, int threads) {
    run(with_source(b, Problem<float>{trans_a, false, m, n, k, alpha, a, lda, nullptr, 1, beta, c,
                                      ldc}),
        gemm_detail::active_kernels(), threads);
}
void gemm(bool trans_a, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const PanelSource<double>& b, double beta, double* c,
          std::int64_t ldc, int threads) {
    run(with_source(b, Problem<double>{trans_a, false, m, n, k, alpha, a, lda, nullptr, 1, beta, c,
                                       ldc}),
        gemm_detail::active_kernels(), threads);
}

void gemm(const PackedA<float>& a, const PanelSource<float>& b, std::int64_t n, float alpha,
          float beta, float* c, std::int64_t ldc, int threads) {
    run(with_packed_a(a, with_source(b, Problem<float>{false, false, 0, n, 0, alpha, nullptr, 1,
                                                       nullptr, 1, beta, c, ldc})),
        kernel_set(a), threads);
}
void gemm(const PackedA<double>& a, const PanelSource<double>& b, std::int64_t n, double alpha,
          double beta, double* c, std::int64_t ldc, int threads) {
    run(with_packed_a(a, with_source(b, Problem<double>{false, false, 0, n, 0, alpha, nullptr, 1,
                                                        nullptr, 1, beta, c, ldc})),
        kernel_set(a), threads);
}

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
          const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
          std::int64_t ldc, int threads) {
    run(Problem<float>{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc},
        gemm_detail::active_kernels(), threads);
}

void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
          const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
          double* c, std::int64_t ldc, int threads) {
    run(Problem<double>{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc},
        gemm_detail::active_kernels(), threads);
}

}  // namespace sg
