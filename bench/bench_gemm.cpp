// GEMM benchmark: jepa::cpu::gemm against OpenBLAS's cblas_sgemm, in the same process, at square
// sizes and at the shapes of the I-JEPA quick-start ViT (width 192, MLP 768, 49 tokens, batch 64).
// Each case is validated against OpenBLAS first, then timed alternating ours / OpenBLAS per
// repetition; medians are reported. One JSON line per case and thread count, plus one line with
// the FMA peak of the kernel's ISA measured by a register-only loop.
//
//   bench_gemm [--reps N] [--threads 1,2] [--isa avx512|avx2|scalar] [--only NAME]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <jepa/backends/cpu/gemm.hpp>
#include <jepa/io/json.hpp>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef JEPA_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace {

using jepa::cpu::Isa;

struct Case {
  const char* name;
  int64_t m, n, k;
  bool trans_a, trans_b;
  int64_t batch;
};

// Token rows of one ViT batch: 64 images x 49 patches; attention: 64 images x 3 heads.
constexpr int64_t kTokens = 3136, kHeads = 192;
const Case kCases[] = {
    {"square256", 256, 256, 256, false, false, 1},
    {"square512", 512, 512, 512, false, false, 1},
    {"square1024", 1024, 1024, 1024, false, false, 1},
    {"square2048", 2048, 2048, 2048, false, false, 1},
    // Linear forward y = x W^T
    {"qkv_fwd", kTokens, 576, 192, false, true, 1},
    {"fc1_fwd", kTokens, 768, 192, false, true, 1},
    {"fc2_fwd", kTokens, 192, 768, false, true, 1},
    {"proj_fwd", kTokens, 192, 192, false, true, 1},
    // Linear backward: dW = dY^T x and dX = dY W
    {"qkv_dw", 576, 192, kTokens, true, false, 1},
    {"fc1_dw", 768, 192, kTokens, true, false, 1},
    {"fc2_dw", 192, 768, kTokens, true, false, 1},
    {"proj_dw", 192, 192, kTokens, true, false, 1},
    {"qkv_dx", kTokens, 192, 576, false, false, 1},
    {"fc1_dx", kTokens, 192, 768, false, false, 1},
    {"fc2_dx", kTokens, 768, 192, false, false, 1},
    {"proj_dx", kTokens, 192, 192, false, false, 1},
    // Attention per (image, head): scores = Q K^T, out = P V, and the backward's dV = P^T dO
    {"attn_scores", 49, 49, 64, false, true, kHeads},
    {"attn_values", 49, 64, 49, false, false, kHeads},
    {"attn_dv", 49, 64, 49, true, false, kHeads},
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds per call of f over `calls` calls, after a pause: the idle worker threads of the library
// timed before (OpenBLAS's spin for about 0.1 s, OpenMP's for milliseconds) must not compete with
// the library timed now; on a 2-core machine a spinning peer halves the other's speed.
template <class F>
double seconds(int64_t calls, F&& f) {
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  f();  // wakes this library's threads
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < calls; ++i) f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(calls);
}

void set_threads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
#ifdef JEPA_BENCH_HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#endif
}

#if defined(__x86_64__)
// Independent FMA chains held in registers: the ISA's multiply-add throughput on one thread.
constexpr int kChains = 12;
constexpr int64_t kPeakIterations = 20'000'000;

double gflops_since(std::chrono::steady_clock::time_point t0, int lanes) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * lanes * kChains * kPeakIterations / s / 1e9;
}

__attribute__((target("avx512f"))) double fma_peak_avx512() {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(0.0001f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t it = 0; it < kPeakIterations; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  const double gflops = gflops_since(t0, 16);
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);  // keeps every chain live
  volatile float sink = _mm512_cvtss_f32(acc[0]);
  (void)sink;
  return gflops;
}

__attribute__((target("avx2,fma"))) double fma_peak_avx2() {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(0.0001f);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t it = 0; it < kPeakIterations; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  const double gflops = gflops_since(t0, 8);
  for (int i = 1; i < kChains; ++i) acc[0] = _mm256_add_ps(acc[0], acc[i]);  // keeps every chain live
  volatile float sink = _mm256_cvtss_f32(acc[0]);
  (void)sink;
  return gflops;
}
#endif

// fp32 multiply-add peak of `isa` on `threads` threads (0 when not measured).
double fma_peak(Isa isa, int threads) {
  double total = 0;
#if defined(__x86_64__)
  if (isa == Isa::scalar) return 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  total += isa == Isa::avx512 ? fma_peak_avx512() : fma_peak_avx2();
#else
  (void)isa, (void)threads;
#endif
  return total;
}

struct Buffers {
  std::vector<float> a, b, c_ours, c_blas;
  std::vector<const float*> pa, pb;
  std::vector<float*> pc_ours, pc_blas;
};

Buffers make_buffers(const Case& c) {
  Buffers buf;
  const size_t a_size = static_cast<size_t>(c.m * c.k), b_size = static_cast<size_t>(c.k * c.n),
               c_size = static_cast<size_t>(c.m * c.n), batch = static_cast<size_t>(c.batch);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  buf.a.resize(a_size * batch);
  buf.b.resize(b_size * batch);
  for (float& x : buf.a) x = u(rng);
  for (float& x : buf.b) x = u(rng);
  buf.c_ours.assign(c_size * batch, 0);
  buf.c_blas.assign(c_size * batch, 0);
  for (size_t i = 0; i < batch; ++i) {
    buf.pa.push_back(buf.a.data() + i * a_size);
    buf.pb.push_back(buf.b.data() + i * b_size);
    buf.pc_ours.push_back(buf.c_ours.data() + i * c_size);
    buf.pc_blas.push_back(buf.c_blas.data() + i * c_size);
  }
  return buf;
}

void run_case(const Case& c, int threads, Isa isa, int reps, double peak) {
  Buffers buf = make_buffers(c);
  const int64_t lda = c.trans_a ? c.m : c.k, ldb = c.trans_b ? c.k : c.n, ldc = c.n;
  auto ours = [&] {
    jepa::cpu::gemm_batched(c.trans_a, c.trans_b, c.m, c.n, c.k, 1.0f, buf.pa.data(), lda, buf.pb.data(), ldb, 0.0f,
                            buf.pc_ours.data(), ldc, c.batch, isa);
  };
  set_threads(threads);
  ours();
  const double flops = 2.0 * static_cast<double>(c.m * c.n * c.k * c.batch);
  // Calls per timed run: about 50 ms of work.
  const int64_t calls = std::max<int64_t>(1, static_cast<int64_t>(0.05 / seconds(1, ours)));
  std::vector<double> ours_gflops, blas_gflops;
  double max_rel_diff = -1;
#ifdef JEPA_BENCH_HAVE_OPENBLAS
  auto blas = [&] {
    for (int64_t i = 0; i < c.batch; ++i)
      cblas_sgemm(CblasRowMajor, c.trans_a ? CblasTrans : CblasNoTrans, c.trans_b ? CblasTrans : CblasNoTrans,
                  static_cast<int>(c.m), static_cast<int>(c.n), static_cast<int>(c.k), 1.0f, buf.pa[i],
                  static_cast<int>(lda), buf.pb[i], static_cast<int>(ldb), 0.0f, buf.pc_blas[i], static_cast<int>(ldc));
  };
  blas();
  double scale = 0;
  max_rel_diff = 0;
  for (size_t i = 0; i < buf.c_blas.size(); ++i) scale = std::max(scale, std::abs(double(buf.c_blas[i])));
  for (size_t i = 0; i < buf.c_blas.size(); ++i)
    max_rel_diff = std::max(max_rel_diff, std::abs(double(buf.c_ours[i]) - double(buf.c_blas[i])) / scale);
  for (int r = 0; r < reps; ++r) {  // alternate who goes first, so drifting load hits both alike
    if (r % 2) blas_gflops.push_back(flops / seconds(calls, blas) / 1e9);
    ours_gflops.push_back(flops / seconds(calls, ours) / 1e9);
    if (r % 2 == 0) blas_gflops.push_back(flops / seconds(calls, blas) / 1e9);
  }
#else
  for (int r = 0; r < reps; ++r) ours_gflops.push_back(flops / seconds(calls, ours) / 1e9);
#endif
  const double g = median(ours_gflops);
  jepa::json::ObjectWriter line;
  line.add("bench", "gemm")
      .add("name", c.name)
      .add("m", c.m)
      .add("n", c.n)
      .add("k", c.k)
      .add("trans_a", c.trans_a)
      .add("trans_b", c.trans_b)
      .add("batch", c.batch)
      .add("threads", threads)
      .add("isa", jepa::cpu::isa_name(isa))
      .add("omp_wait_policy", std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "default")
      .add("reps", reps)
      .add("gflops", g);
  if (blas_gflops.empty()) {
    line.add("openblas_gflops", nullptr).add("ratio", nullptr).add("openblas", "not found");
  } else {
    const double b = median(blas_gflops);
    line.add("openblas_gflops", b).add("ratio", g / b).add("max_rel_diff", max_rel_diff);
  }
  if (peak > 0) line.add("peak_gflops", peak).add("peak_fraction", g / peak);
  std::printf("%s\n", line.str().c_str());
  std::fflush(stdout);
}

std::vector<int> parse_list(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p;) {
    out.push_back(std::atoi(p));
    p = std::strchr(p, ',');
    if (!p) break;
    ++p;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  std::vector<int> thread_counts{1, 2};
  Isa isa = jepa::cpu::best_isa();
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--reps") reps = std::max(1, std::atoi(argv[i + 1]));
    else if (flag == "--threads") thread_counts = parse_list(argv[i + 1]);
    else if (flag == "--only") only = argv[i + 1];
    else if (flag == "--isa") {
      const std::string name = argv[i + 1];
      isa = name == "avx512" ? Isa::avx512 : name == "avx2" ? Isa::avx2 : Isa::scalar;
    } else {
      std::fprintf(stderr, "usage: %s [--reps N] [--threads 1,2] [--isa avx512|avx2|scalar] [--only NAME]\n", argv[0]);
      return 2;
    }
  }
  if (!jepa::cpu::isa_supported(isa)) {
    std::fprintf(stderr, "this CPU cannot run the %s kernel\n", jepa::cpu::isa_name(isa));
    return 2;
  }
#ifdef JEPA_BENCH_HAVE_OPENBLAS
  std::fprintf(stderr, "OpenBLAS core: %s\n", openblas_get_corename());
#else
  std::fprintf(stderr, "OpenBLAS not found at build time: reporting only our figures\n");
#endif
  for (int threads : thread_counts) {
    const double peak = fma_peak(isa, threads);
    std::printf("%s\n", jepa::json::ObjectWriter()
                            .add("bench", "fma_peak")
                            .add("isa", jepa::cpu::isa_name(isa))
                            .add("threads", threads)
                            .add("gflops", peak)
                            .str()
                            .c_str());
    for (const Case& c : kCases)
      if (only.empty() || only == c.name) run_case(c, threads, isa, reps, peak);
  }
}
