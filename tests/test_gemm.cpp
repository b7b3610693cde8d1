// CPU GEMM against a naive triple loop in double: every transpose case, odd sizes, padded leading
// dims, alpha/beta (beta == 0 overwrites NaN), the bias added to every row, batched and
// strided-batched forms, f32 and f64, with every kernel this machine can run forced in turn.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <jepa/backends/cpu/gemm.hpp>

using namespace jepa;
using cpu::Isa;

namespace {

std::vector<Isa> runnable_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (cpu::isa_supported(isa)) isas.push_back(isa);
  return isas;
}

struct Case {
  bool trans_a, trans_b;
  int64_t M, N, K;
  double alpha, beta;
  bool with_bias = false;
};

// One product's operands, stored with leading dims wider than their rows; C's padding holds a
// sentinel that must survive. bias is empty unless the case has one.
template <class T>
struct Operands {
  int64_t lda, ldb, ldc;
  std::vector<T> a, b, c, bias;
  Operands(const Case& t, std::mt19937& rng) {
    std::uniform_real_distribution<double> u(-1, 1);
    const int64_t a_rows = t.trans_a ? t.K : t.M, a_cols = t.trans_a ? t.M : t.K;
    const int64_t b_rows = t.trans_b ? t.N : t.K, b_cols = t.trans_b ? t.K : t.N;
    lda = a_cols + 3, ldb = b_cols + 5, ldc = t.N + 2;
    a.resize(static_cast<size_t>(a_rows * lda));
    b.resize(static_cast<size_t>(b_rows * ldb));
    c.resize(static_cast<size_t>(t.M * ldc));
    for (T& x : a) x = static_cast<T>(u(rng));
    for (T& x : b) x = static_cast<T>(u(rng));
    for (int64_t i = 0; i < t.M; ++i)
      for (int64_t j = 0; j < ldc; ++j)
        c[i * ldc + j] = j >= t.N      ? T(1234)
                         : t.beta == 0 ? std::numeric_limits<T>::quiet_NaN()
                                       : static_cast<T>(u(rng));
    if (t.with_bias) {
      bias.resize(static_cast<size_t>(t.N));
      for (T& x : bias) x = static_cast<T>(u(rng));
    }
  }
  const T* bias_or_null() const { return bias.empty() ? nullptr : bias.data(); }
};

// Checks `out` (the product computed into a copy of `in`) against the naive product, with a
// bound of a few ulps per term of the dot products.
template <class T>
void check_product(const Case& t, const Operands<T>& in, const std::vector<T>& out) {
  const double eps = std::numeric_limits<T>::epsilon();
  int64_t bad = 0;
  for (int64_t i = 0; i < t.M; ++i)
    for (int64_t j = 0; j < in.ldc; ++j) {
      const double got = out[i * in.ldc + j];
      if (j >= t.N) {
        bad += got != 1234;
        continue;
      }
      double sum = 0, magnitude = 0;
      for (int64_t p = 0; p < t.K; ++p) {
        const double x = t.trans_a ? in.a[p * in.lda + i] : in.a[i * in.lda + p];
        const double y = t.trans_b ? in.b[j * in.ldb + p] : in.b[p * in.ldb + j];
        sum += x * y;
        magnitude += std::abs(x * y);
      }
      double expected = t.alpha * sum;
      magnitude *= std::abs(t.alpha);
      if (t.beta != 0) {
        expected += t.beta * in.c[i * in.ldc + j];
        magnitude += std::abs(t.beta * in.c[i * in.ldc + j]);
      }
      if (t.with_bias) {
        expected += in.bias[j];
        magnitude += std::abs(in.bias[j]);
      }
      bad += !(std::abs(got - expected) <= 4 * (t.K + 2) * eps * magnitude + 1e-300);
    }
  CHECK_MESSAGE(bad == 0, bad, " wrong elements in ", t.M, "x", t.N, "x", t.K, " trans_a=", t.trans_a,
                " trans_b=", t.trans_b, " alpha=", t.alpha, " beta=", t.beta, " bias=", t.with_bias);
}

template <class T>
void check_single(const Case& t, Isa isa, std::mt19937& rng) {
  const Operands<T> in(t, rng);
  std::vector<T> out = in.c;
  cpu::gemm<T>(t.trans_a, t.trans_b, t.M, t.N, t.K, static_cast<T>(t.alpha), in.a.data(), in.lda, in.b.data(), in.ldb,
               static_cast<T>(t.beta), out.data(), in.ldc, isa, in.bias_or_null());
  check_product(t, in, out);
}

// Products over every transpose case and the sizes that hit each edge: 1, below and above one
// micro-tile, several depth blocks (K > 256), several column blocks (N > 1024), and a single row
// panel wide enough that threads split the columns.
template <class T>
void check_shapes(Isa isa) {
  std::mt19937 rng(7);
  const int64_t sizes[] = {1, 7, 17, 65, 129};
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true}) {
      for (int64_t M : sizes)
        for (int64_t N : sizes)
          for (int64_t K : {int64_t{1}, int64_t{17}, int64_t{65}})
            check_single<T>({trans_a, trans_b, M, N, K, 1, 0}, isa, rng);
      check_single<T>({trans_a, trans_b, 129, 65, 300, 0.5, 2}, isa, rng);
      check_single<T>({trans_a, trans_b, 37, 1100, 520, -1.5, 1}, isa, rng);
      check_single<T>({trans_a, trans_b, 12, 2000, 300, 1, 0}, isa, rng);
      check_single<T>({trans_a, trans_b, 300, 200, 129, 1, 0.25}, isa, rng);
    }
}

template <class T>
void check_alpha_beta(Isa isa) {
  std::mt19937 rng(11);
  for (auto [alpha, beta] :
       {std::pair{1.0, 0.0}, {1.0, 1.0}, {0.5, 2.0}, {-1.5, 1.0}, {2.0, -0.5}, {0.0, 0.5}, {0.0, 0.0}})
    for (bool trans_a : {false, true})
      for (bool trans_b : {false, true}) check_single<T>({trans_a, trans_b, 33, 47, 70, alpha, beta}, isa, rng);
  check_single<T>({false, false, 9, 10, 0, 1.0, 0.5}, isa, rng);  // K == 0: C = beta * C
  check_single<T>({false, true, 9, 10, 0, 1.0, 0.0}, isa, rng);
}

// The bias, added once to each element after the last depth block: several depth blocks with
// partial row and column tiles, a product whose rows the team shares, one whose columns it
// splits (over two column blocks), and the paths that skip the product (K == 0, alpha == 0).
template <class T>
void check_bias(Isa isa) {
  std::mt19937 rng(17);
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true})
      for (double beta : {0.0, 1.0}) {
        check_single<T>({trans_a, trans_b, 37, 65, 600, 1, beta, true}, isa, rng);
        check_single<T>({trans_a, trans_b, 200, 150, 270, -0.5, beta, true}, isa, rng);
        check_single<T>({trans_a, trans_b, 12, 1100, 260, 1, beta, true}, isa, rng);
        check_single<T>({trans_a, trans_b, 7, 17, 0, 1, beta, true}, isa, rng);
        check_single<T>({trans_a, trans_b, 7, 17, 5, 0, beta, true}, isa, rng);
      }
}

// Batches through both entry points: many small products (one per thread) and a few large ones
// (the team shares each), with the first operand, and the bias when there is one, shared by the
// batch.
template <class T>
void check_batched(Isa isa) {
  std::mt19937 rng(13);
  for (auto [batch, size] : {std::pair{int64_t{24}, int64_t{49}}, {int64_t{3}, int64_t{300}}, {int64_t{5}, int64_t{9}}})
    for (bool trans_b : {false, true}) {
      const Case t{false, trans_b, size, size + 15, 64, 1.0, batch == 3 ? 0.5 : 0.0, trans_b};
      const Operands<T> shared_a(t, rng);
      std::vector<Operands<T>> items;
      for (int64_t i = 0; i < batch; ++i) items.emplace_back(t, rng);
      std::vector<std::vector<T>> outs;
      std::vector<const T*> a, b;
      std::vector<T*> c;
      for (auto& item : items) outs.push_back(item.c);
      for (int64_t i = 0; i < batch; ++i) {
        a.push_back(shared_a.a.data());
        b.push_back(items[i].b.data());
        c.push_back(outs[i].data());
      }
      cpu::gemm_batched<T>(t.trans_a, t.trans_b, t.M, t.N, t.K, T(t.alpha), a.data(), shared_a.lda, b.data(),
                           items[0].ldb, T(t.beta), c.data(), items[0].ldc, batch, isa, shared_a.bias_or_null());
      for (int64_t i = 0; i < batch; ++i) {
        Operands<T> expected = items[i];
        expected.a = shared_a.a;
        expected.bias = shared_a.bias;
        check_product(t, expected, outs[i]);
      }

      // The same products laid out at fixed strides in one buffer each.
      const int64_t stride_b = static_cast<int64_t>(items[0].b.size()) + 1;
      const int64_t stride_c = static_cast<int64_t>(items[0].c.size()) + 3;
      std::vector<T> all_b(static_cast<size_t>(batch * stride_b)), all_c(static_cast<size_t>(batch * stride_c));
      for (int64_t i = 0; i < batch; ++i) {
        std::copy(items[i].b.begin(), items[i].b.end(), all_b.begin() + i * stride_b);
        std::copy(items[i].c.begin(), items[i].c.end(), all_c.begin() + i * stride_c);
      }
      cpu::gemm_strided_batched<T>(t.trans_a, t.trans_b, t.M, t.N, t.K, T(t.alpha), shared_a.a.data(), shared_a.lda,
                                   0, all_b.data(), items[0].ldb, stride_b, T(t.beta), all_c.data(), items[0].ldc,
                                   stride_c, batch, isa, shared_a.bias_or_null());
      for (int64_t i = 0; i < batch; ++i) {
        Operands<T> expected = items[i];
        expected.a = shared_a.a;
        expected.bias = shared_a.bias;
        const auto first = all_c.begin() + i * stride_c;
        check_product(t, expected, std::vector<T>(first, first + static_cast<int64_t>(items[i].c.size())));
      }
    }
}

}  // namespace

TEST_CASE("gemm matches a naive product for every kernel, transpose case and edge size") {
  for (Isa isa : runnable_isas()) {
    CAPTURE(cpu::isa_name(isa));
    check_shapes<float>(isa);
    check_shapes<double>(isa);
  }
}

TEST_CASE("gemm alpha and beta follow BLAS: beta == 0 overwrites NaN, alpha == 0 or K == 0 scales C") {
  for (Isa isa : runnable_isas()) {
    CAPTURE(cpu::isa_name(isa));
    check_alpha_beta<float>(isa);
    check_alpha_beta<double>(isa);
  }
}

TEST_CASE("gemm adds the bias to every row once, after the last depth block, on every path") {
  for (Isa isa : runnable_isas()) {
    CAPTURE(cpu::isa_name(isa));
    check_bias<float>(isa);
    check_bias<double>(isa);
  }
}

TEST_CASE("gemm_batched and gemm_strided_batched match per-product results") {
  for (Isa isa : runnable_isas()) {
    CAPTURE(cpu::isa_name(isa));
    check_batched<float>(isa);
    check_batched<double>(isa);
  }
}

TEST_CASE("gemm picks the widest kernel the CPU supports") {
  CHECK(cpu::isa_supported(Isa::scalar));
  CHECK(cpu::isa_supported(cpu::best_isa()));
  if (cpu::isa_supported(Isa::avx512)) CHECK(cpu::best_isa() == Isa::avx512);
}
