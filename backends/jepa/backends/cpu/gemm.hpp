// CPU matrix multiply: C = alpha * op(A) * op(B) + beta * C + bias, row-major, op = identity or
// transpose, with leading dimensions; beta == 0 never reads C (NaN there is overwritten) and
// alpha == 0 never reads A or B, as in BLAS. The optional bias (N elements, null by default) is
// added to every row of C, of every product of a batch: Linear's bias, folded into the GEMM so
// that C is written once rather than filled with the bias and then read back by a beta = 1 GEMM.
// The batched form takes arrays of matrix pointers, which covers broadcast batch dims and strided
// batches alike.
//
// Algorithm (Goto/BLIS): C is computed in blocks of kColumnBlock columns x kDepthBlock depth; per
// block, the panels of op(B) are packed once into a buffer shared by the threads (it stays in L2),
// then each thread walks its share of mr-row panels of op(A): it packs a panel (or a block of
// panels, see kPanelsPerABlock) and runs the micro-kernel (gemm/{avx512,avx2,portable}.hpp) on it
// against every B panel. Packing (gemm/pack.hpp) handles the four transpose cases. The kernel is
// picked at run time from the CPU's ISA; f64 always uses the portable kernel. The micro-kernel
// adds the bias as it stores a tile after the tile's last depth block (earlier blocks pass none),
// so the bias costs no extra pass over C.
//
// Threads: a parallel region costs 10-25 us to wake sleeping threads, so each call opens at most
// one. Many products (attention) run one per thread; one big product (or few) is shared by the
// whole team, with a barrier after packing each B block and one before overwriting it. Threads
// claim work (products, B panels to pack, blocks of rows) from a shared counter rather than taking
// fixed shares:
// on a shared machine one of them often gets less of the CPU. With too few rows they split the
// columns in fixed shares instead.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <jepa/backends/cpu/gemm/avx2.hpp>
#include <jepa/backends/cpu/gemm/avx512.hpp>
#include <jepa/backends/cpu/gemm/pack.hpp>
#include <jepa/backends/cpu/gemm/portable.hpp>
#include <jepa/backends/cpu/isa.hpp>
#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/core/error.hpp>

namespace jepa::cpu {

namespace detail {

using gemm_pack::kDepthBlock;
// Columns of C per block: the packed B block (kDepthBlock x kColumnBlock) must fit in L2.
inline constexpr int64_t kColumnBlock = 1024;
// Row panels of a transposed A packed together: reading A row by row across the panels streams
// through memory (one panel at a time strides by lda); the block (about 200 KB) stays in L2.
// Untransposed A is packed one panel at a time, each just before its tiles, which overlaps the
// packing's cache misses with the previous panel's arithmetic.
inline constexpr int64_t kPanelsPerABlock = 16;
// Products below this many flops run on the calling thread: waking the team costs more.
inline constexpr int64_t kParallelFlops = int64_t{1} << 22;

// What the threads of one parallel region share: a barrier whose waiters yield the core instead
// of spinning on it (the machine is often shared, and a spinning waiter can hold the core that the
// thread it waits for needs), and a counter from which threads claim units of work, so that a
// thread that gets less of the CPU simply does less of the work.
class Team {
 public:
  // Returns once `threads` calls (all passing the same count) have arrived; the last to arrive
  // resets the work counter first.
  void wait(int64_t threads) {
    const int64_t generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == threads - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      next_.store(0, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
      return;
    }
    while (generation_.load(std::memory_order_acquire) == generation) std::this_thread::yield();
  }
  // The next unclaimed unit: 0, 1, 2, ... across the team since the last wait().
  int64_t claim() { return next_.fetch_add(1, std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<int64_t> arrived_{0};
  alignas(64) std::atomic<int64_t> generation_{0};
  alignas(64) std::atomic<int64_t> next_{0};
};

template <class T>
struct GemmArgs {
  bool trans_a, trans_b;
  int64_t M, N, K;
  T alpha;
  int64_t lda, ldb;
  T beta;
  int64_t ldc;
  const T* bias;  // (N) added to every row of C, or null
};

enum class ScratchSlot { a_block, b_block };

// A per-thread, grow-only, 64-byte aligned buffer per slot, reused across calls.
template <class T, ScratchSlot kSlot>
T* thread_scratch(int64_t count) {
  thread_local std::vector<T> buffer;
  constexpr int64_t slack = 64 / sizeof(T);
  if (static_cast<int64_t>(buffer.size()) < count + slack) buffer.resize(static_cast<size_t>(count + slack));
  void* p = buffer.data();
  size_t space = buffer.size() * sizeof(T);
  return static_cast<T*>(std::align(64, static_cast<size_t>(count) * sizeof(T), p, space));
}

template <class Kernel>
int64_t b_block_elements(int64_t N) {
  const int64_t panels = (std::min(N, kColumnBlock) + Kernel::nr - 1) / Kernel::nr;
  return kDepthBlock * panels * Kernel::nr;
}

// [begin, end) of part `index` when `count` items are split into `parts` near-equal runs.
inline std::pair<int64_t, int64_t> share(int64_t count, int64_t parts, int64_t index) {
  const int64_t base = count / parts, extra = count % parts;
  const int64_t begin = index * base + std::min(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

// How many ways to split the column panels so that the busiest of nt threads gets the fewest
// tiles (rows are split the remaining nt / ways ways). Ties go to splitting the larger of M and N:
// a thread then packs, and reads, only its part of the larger operand.
inline int64_t column_ways(int64_t m_units, int64_t n_panels, int64_t nt, bool prefer_columns) {
  int64_t best = 0, best_tiles = INT64_MAX;
  for (int64_t ways = 1; ways <= nt; ++ways) {
    if (nt % ways) continue;
    const int64_t ways_m = nt / ways;
    const int64_t tiles = ((m_units + ways_m - 1) / ways_m) * ((n_panels + ways - 1) / ways);
    if (tiles < best_tiles || (tiles == best_tiles && prefer_columns)) best = ways, best_tiles = tiles;
  }
  return best;
}

// The kernel's tiles for each row count (row_step, 2 row_step, ..., mr), for one A layout.
template <class Kernel, int64_t kRowStride, int64_t kDepthStride, size_t... I>
constexpr auto tiles_by_rows(std::index_sequence<I...>) {
  return std::array{&Kernel::template tile<(I + 1) * Kernel::row_step, kRowStride, kDepthStride>...};
}

// One product computed by thread `tid` of a team of nt (nt == 1: alone, team unused). All team
// members call it with the same arguments, b_pack (b_block_elements<Kernel>(N) elements) and team.
template <class Kernel, class T = typename Kernel::value_type>
void gemm_team(const GemmArgs<T>& g, const T* A, const T* B, T* C, int64_t tid, int64_t nt, T* b_pack, Team* team) {
  constexpr int64_t mr = Kernel::mr, nr = Kernel::nr, row_step = Kernel::row_step;
  static_assert(mr % row_step == 0 && kColumnBlock % nr == 0);
  constexpr auto variants = std::make_index_sequence<mr / row_step>{};
  static constexpr auto row_layout_tiles = tiles_by_rows<Kernel, kDepthBlock, 1>(variants);
  static constexpr auto depth_major_tiles = tiles_by_rows<Kernel, 1, mr>(variants);
  const gemm_pack::Operand<T> a{A, g.lda, g.trans_a}, b{B, g.ldb, g.trans_b};
  const auto& tiles = gemm_pack::a_row_layout(a) ? row_layout_tiles : depth_major_tiles;
  const int64_t m_panels = (g.M + mr - 1) / mr;
  // Units of work: A blocks of this many panels, about 4 per thread so that claiming them balances.
  const int64_t panels_per_block =
      gemm_pack::a_row_layout(a) ? 1 : std::clamp<int64_t>(m_panels / (4 * nt), 1, kPanelsPerABlock);
  const int64_t m_blocks = (m_panels + panels_per_block - 1) / panels_per_block;
  // Equal depth blocks (rounded to 8) rather than full blocks and a thin remainder.
  const int64_t depth_blocks = (g.K + kDepthBlock - 1) / kDepthBlock;
  const int64_t kc_step = std::min(kDepthBlock, ((g.K + depth_blocks - 1) / depth_blocks + 7) / 8 * 8);
  T* a_block = thread_scratch<T, ScratchSlot::a_block>(kPanelsPerABlock * mr * kDepthBlock);

  for (int64_t j0 = 0; j0 < g.N; j0 += kColumnBlock) {
    const int64_t nc = std::min(kColumnBlock, g.N - j0);
    const int64_t n_panels = (nc + nr - 1) / nr;
    // Rows are claimed block by block from the team; when threads split the columns too, they
    // take fixed shares.
    const int64_t ways_n = column_ways(m_blocks, n_panels, nt, g.N > g.M), ways_m = nt / ways_n;
    const bool claim_rows = nt > 1 && ways_n == 1;
    const auto [mb0, mb1] = share(m_blocks, ways_m, tid / ways_n);
    const auto [np0, np1] = share(n_panels, ways_n, tid % ways_n);
    for (int64_t p0 = 0; p0 < g.K; p0 += kc_step) {
      const int64_t kc = std::min(kc_step, g.K - p0);
      for (int64_t q = nt > 1 ? team->claim() : 0; q < n_panels; q = nt > 1 ? team->claim() : q + 1)
        gemm_pack::pack_b_panel<Kernel>(b, p0, kc, j0 + q * nr, std::min(nr, nc - q * nr), b_pack + q * kc * nr);
      if (nt > 1) team->wait(nt);
      const T beta = p0 == 0 ? g.beta : T(1);  // later depth blocks accumulate onto the first
      const T* bias = p0 + kc == g.K ? g.bias : nullptr;  // added once, by the last depth block
      for (int64_t mb = claim_rows ? team->claim() : mb0; mb < (claim_rows ? m_blocks : mb1);
           mb = claim_rows ? team->claim() : mb + 1) {
        const int64_t mp0 = mb * panels_per_block, mp1 = std::min(m_panels, mp0 + panels_per_block);
        gemm_pack::pack_a_block<mr>(a, mp0 * mr, std::min(g.M, mp1 * mr) - mp0 * mr, p0, kc, a_block);
        for (int64_t mp = mp0; mp < mp1; ++mp) {
          const int64_t i0 = mp * mr, m = std::min(mr, g.M - i0), variant = (m - 1) / row_step;
          const T* a_panel = a_block + (mp - mp0) * mr * kDepthBlock;
          for (int64_t q = np0; q < np1; ++q)
            tiles[variant](kc, a_panel, b_pack + q * kc * nr, C + i0 * g.ldc + j0 + q * nr, g.ldc, g.alpha, beta,
                           bias ? bias + j0 + q * nr : nullptr, m, std::min(nr, nc - q * nr));
        }
      }
      if (nt > 1) team->wait(nt);  // the next block overwrites b_pack
    }
  }
}

// Products of the batch on one thread: all of them, or with a team, those it claims.
template <class Kernel, class T = typename Kernel::value_type>
void gemm_products_alone(const GemmArgs<T>& g, const T* const* A, const T* const* B, T* const* C, int64_t batch,
                         T* b_pack, Team* team) {
  Kernel::with_isa([&] {
    for (int64_t i = team ? team->claim() : 0; i < batch; i = team ? team->claim() : i + 1)
      gemm_team<Kernel>(g, A[i], B[i], C[i], 0, 1, b_pack, nullptr);
  });
}

// Every product of the batch, each shared by the whole team (see gemm_team).
template <class Kernel, class T = typename Kernel::value_type>
void gemm_products_shared(const GemmArgs<T>& g, const T* const* A, const T* const* B, T* const* C, int64_t batch,
                          int64_t tid, int64_t nt, T* b_pack, Team* team) {
  Kernel::with_isa([&] {
    for (int64_t i = 0; i < batch; ++i) gemm_team<Kernel>(g, A[i], B[i], C[i], tid, nt, b_pack, team);
  });
}

// C = beta * C + bias, for alpha == 0 or K == 0 (A and B are not read).
template <class T>
void scale_and_add_bias(const GemmArgs<T>& g, T* C) {
  for (int64_t i = 0; i < g.M; ++i) {
    T* row = C + i * g.ldc;
    if (g.beta == T(0)) std::fill(row, row + g.N, T(0));
    else for (int64_t j = 0; j < g.N; ++j) row[j] *= g.beta;
    if (g.bias) for (int64_t j = 0; j < g.N; ++j) row[j] += g.bias[j];
  }
}

template <class Kernel, class T = typename Kernel::value_type>
void gemm_batched_with(const GemmArgs<T>& g, const T* const* A, const T* const* B, T* const* C, int64_t batch) {
  if (g.alpha == T(0) || g.K == 0) {
    parallel_for(batch, std::max<int64_t>(1, kElementwiseGrain / (g.M * g.N)), [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) scale_and_add_bias(g, C[i]);
    });
    return;
  }
  const int64_t flops = 2 * g.M * g.N * g.K;
  const int64_t threads = in_parallel_region() ? 1 : std::min<int64_t>(max_threads(), flops * batch / kParallelFlops);
  auto b_scratch = [&] { return thread_scratch<T, ScratchSlot::b_block>(b_block_elements<Kernel>(g.N)); };
  if (threads <= 1) {
    gemm_products_alone<Kernel>(g, A, B, C, batch, b_scratch(), nullptr);
    return;
  }
#ifdef _OPENMP
  Team team;
  // Whole products per thread when there are enough of them to balance, or they are too small to
  // split.
  if (batch % threads == 0 || batch >= 4 * threads || (batch >= threads && flops < kParallelFlops)) {
#pragma omp parallel num_threads(threads)
    gemm_products_alone<Kernel>(g, A, B, C, batch, b_scratch(), &team);
    return;
  }
  T* b_pack = b_scratch();  // the caller's, shared by the team
#pragma omp parallel num_threads(threads)
  gemm_products_shared<Kernel>(g, A, B, C, batch, omp_get_thread_num(), omp_get_num_threads(), b_pack, &team);
#endif
}

}  // namespace detail

// The batched product: C[i] = alpha * op(A[i]) * op(B[i]) + beta * C[i] + bias for i < batch,
// bias (N elements, or null) added to every row. `isa` forces a kernel (tests use it to cover
// every path); it must be supported by this CPU.
template <class T>
void gemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* const* A,
                  int64_t lda, const T* const* B, int64_t ldb, T beta, T* const* C, int64_t ldc, int64_t batch,
                  Isa isa = best_isa(), const T* bias = nullptr) {
  static_assert(std::is_floating_point_v<T>, "gemm is defined for float and double");
  JEPA_CHECK(isa_supported(isa), "gemm", "the ", isa_name(isa), " kernel needs an instruction set this CPU lacks");
  if (M == 0 || N == 0 || batch == 0) return;
  const detail::GemmArgs<T> g{trans_a, trans_b, M, N, K, alpha, lda, ldb, beta, ldc, bias};
  if constexpr (std::is_same_v<T, float>) {
#if defined(__x86_64__)
    if (isa == Isa::avx512) return detail::gemm_batched_with<gemm_kernels::Avx512F32>(g, A, B, C, batch);
    if (isa == Isa::avx2) return detail::gemm_batched_with<gemm_kernels::Avx2F32>(g, A, B, C, batch);
#endif
  }
  detail::gemm_batched_with<gemm_kernels::Portable<T>>(g, A, B, C, batch);
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc, Isa isa = best_isa(), const T* bias = nullptr) {
  gemm_batched(trans_a, trans_b, M, N, K, alpha, &A, lda, &B, ldb, beta, &C, ldc, 1, isa, bias);
}

// Matrices at fixed strides (in elements) from the first.
template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                          int64_t lda, int64_t stride_a, const T* B, int64_t ldb, int64_t stride_b, T beta, T* C,
                          int64_t ldc, int64_t stride_c, int64_t batch, Isa isa = best_isa(),
                          const T* bias = nullptr) {
  std::vector<const T*> a(batch), b(batch);
  std::vector<T*> c(batch);
  for (int64_t i = 0; i < batch; ++i) {
    a[i] = A + i * stride_a;
    b[i] = B + i * stride_b;
    c[i] = C + i * stride_c;
  }
  gemm_batched(trans_a, trans_b, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc, batch, isa,
               bias);
}

}  // namespace jepa::cpu
