// Tensor basics: dtypes, creation, views, copies, broadcasting, reductions, printing, errors.
#include <doctest/doctest.h>

#include <jepa/jepa.hpp>
#include <sstream>

using namespace jepa;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("bf16 and f16 round to nearest even and keep specials") {
  CHECK(static_cast<float>(bf16(1.0f)) == 1.0f);
  CHECK(static_cast<float>(bf16(1.00390625f)) == 1.0f);      // halfway, rounds to even
  CHECK(static_cast<float>(bf16(1.01171875f)) == 1.015625f);  // halfway, rounds up to even
  CHECK(std::isnan(static_cast<float>(bf16(NAN))));
  CHECK(static_cast<float>(f16(1.0f)) == 1.0f);
  CHECK(static_cast<float>(f16(65504.0f)) == 65504.0f);
  CHECK(std::isinf(static_cast<float>(f16(70000.0f))));
  CHECK(static_cast<float>(f16(5.9604645e-08f)) == doctest::Approx(5.9604645e-08f));  // smallest subnormal
  CHECK(static_cast<float>(f16(0.1f)) == doctest::Approx(0.0999755859375f).epsilon(1e-9));
  Tensor x = tensor({0.1, -2.5, 3.0});
  CHECK(values(x.to(DType::bf16).to(DType::f32)) == std::vector<double>{0.10009765625, -2.5, 3.0});
  CHECK(x.to(DType::f16).dtype() == DType::f16);
}

TEST_CASE("creation") {
  CHECK(values(zeros({2, 2})) == std::vector<double>(4, 0.0));
  CHECK(values(full({3}, 1.5)) == std::vector<double>(3, 1.5));
  CHECK(values(arange(0.0, 1.0, 0.25)) == std::vector<double>{0, 0.25, 0.5, 0.75});
  CHECK(arange(5).dtype() == DType::i64);
  Tensor v = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(v.shape() == Shape{2, 3});
  CHECK(v.at({1, 2}) == 6);
  CHECK_THROWS_WITH_AS(from_vector(std::vector<float>{1, 2}, {3}), "[from_vector] got 2 values for shape [3] (3 elements)",
                       Error);
}

TEST_CASE("elementwise kernels accept empty tensors") {
  Tensor e = zeros({0, 4});
  CHECK(e.numel() == 0);
  CHECK((e + 1.0).shape() == Shape{0, 4});
  CHECK(e.transpose(0, 1).clone().shape() == Shape{4, 0});
}

TEST_CASE("random tensors are reproducible and independent of thread count") {
  Generator g1(42), g2(42);
  Tensor a = normal({1000}, 0, 1, g1);
  Tensor b = normal({1000}, 0, 1, g2);
  CHECK(values(a) == values(b));
  const int threads = cpu::max_threads();
  omp_set_num_threads(1);
  Generator g3(42);
  Tensor c = normal({1000}, 0, 1, g3);
  omp_set_num_threads(threads);
  CHECK(values(a) == values(c));
  const double m = mean(a).item(), s = std::sqrt(mean(pow(a - m, 2)).item());
  CHECK(std::abs(m) < 0.1);
  CHECK(std::abs(s - 1) < 0.1);
  Tensor t = trunc_normal({20000}, 1.0, -0.5, 0.5, g1);
  CHECK(max(abs(t)).item() <= 0.5);
  CHECK(std::abs(mean(t).item()) < 0.01);
  Tensor u = uniform({20000}, 2, 3, g1);
  CHECK(max(u).item() < 3);
  CHECK(-max(-u).item() >= 2);
  std::vector<int64_t> p = randperm(10, g1);
  std::sort(p.begin(), p.end());
  for (int64_t i = 0; i < 10; ++i) CHECK(p[i] == i);
}

TEST_CASE("views share storage") {
  Tensor x = arange(0.0, 24.0).reshape({2, 3, 4});
  CHECK(x.is_contiguous());
  Tensor t = x.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(!t.is_contiguous());
  CHECK(t.at({3, 1, 1}) == x.at({1, 1, 3}));
  CHECK(x.permute({2, 0, 1}).at({1, 1, 2}) == x.at({1, 2, 1}));
  Tensor s = x.slice(2, 1, 4, 2);
  CHECK(s.shape() == Shape{2, 3, 2});
  CHECK(values(s.select(0, 1).select(0, 0)) == std::vector<double>{13, 15});
  CHECK(values(x.narrow(1, 1, 1).flatten()) == std::vector<double>{4, 5, 6, 7, 16, 17, 18, 19});
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  CHECK(x.unsqueeze(0).squeeze(0).shape() == Shape{2, 3, 4});
  CHECK(x.reshape({-1, 4}).shape() == Shape{6, 4});
  CHECK(values(tensor({1, 2}).reshape({2, 1}).expand({2, 3})) == std::vector<double>{1, 1, 1, 2, 2, 2});
  // A view writes through to its base.
  {
    NoGrad ng;
    x.select(0, 0).select(0, 0).fill_(-1);
  }
  CHECK(x.at({0, 0, 3}) == -1);
  // Transposed then reshaped needs a copy; view refuses.
  CHECK_THROWS_AS(t.view({24}), Error);
  CHECK(values(t.reshape({24}))[1] == x.at({1, 0, 0}));
  // A view whose strides allow it stays a view.
  Tensor tv = x.transpose(1, 2).view({2, 4, 3});
  CHECK(tv.impl().storage == x.impl().storage);
  CHECK_THROWS_WITH_AS(x.reshape({5, 5}), "[reshape] shape [5, 5] is invalid for input of shape [2, 3, 4] (24 elements)",
                       Error);
  CHECK_THROWS_WITH_AS(x.permute({0, 0, 1}), "[permute] dim 0 repeated in [0, 0, 1]", Error);
  CHECK_THROWS_WITH_AS(x.select(3, 0), "[select] dim 3 is out of range for a tensor of rank 3 (expected -3..2)", Error);
  CHECK_THROWS_AS(x.expand({3, 3, 4}), Error);
}

TEST_CASE("broadcasting arithmetic on strided inputs") {
  Tensor a = arange(0.0, 6.0).reshape({2, 3});
  Tensor b = tensor({10, 20, 30});
  CHECK(values(a + b) == std::vector<double>{10, 21, 32, 13, 24, 35});
  CHECK(values(a.transpose(0, 1) * tensor({1, -1}))
        == std::vector<double>{0, -3, 1, -4, 2, -5});
  CHECK(values(2.0 - a.slice(1, 0, 3, 2)) == std::vector<double>{2, 0, -1, -3});
  CHECK(values(a / 2.0)[3] == 1.5);
  CHECK(values(1.0 / (a + 1.0))[1] == 0.5);
  CHECK_THROWS_WITH_AS(a + tensor({1, 2}),
                       "[add] shapes [2, 3] and [2] cannot be broadcast together (dim 1: 3 vs 2)", Error);
  CHECK_THROWS_WITH_AS(a + a.to(DType::f64), "[add] expected tensors of the same dtype, got f32 and f64", Error);
  CHECK_THROWS_WITH_AS(exp(arange(3)), "[exp] expected a tensor of dtype f32 or f64, got i64", Error);
}

TEST_CASE("in-place updates") {
  Tensor a = ones({2, 3});
  a.add_(tensor({1, 2, 3}), 2.0);
  CHECK(values(a) == std::vector<double>{3, 5, 7, 3, 5, 7});
  a.mul_(0.5);
  CHECK(values(a)[0] == 1.5);
  Tensor w = ones({2}).requires_grad_();
  CHECK_THROWS_WITH_AS(w.fill_(0),
                       "[fill_] in-place update of a tensor that requires grad while recording the graph; do it inside "
                       "a NoGrad scope (as optimizers do)",
                       Error);
  NoGrad ng;
  w.fill_(3);
  CHECK(values(w) == std::vector<double>{3, 3});
}

TEST_CASE("reductions over any dims") {
  Tensor x = arange(0.0, 24.0).reshape({2, 3, 4});
  CHECK(sum(x).item() == 276);
  CHECK(values(sum(x, {1})) == std::vector<double>{12, 15, 18, 21, 48, 51, 54, 57});
  CHECK(sum(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(values(sum(x, {0, 2})) == std::vector<double>{60, 92, 124});
  CHECK(values(mean(x, {-1})) == std::vector<double>{1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  CHECK(values(max(x.transpose(0, 2), {2})) == values(max(x, {0}).transpose(0, 1)));
  CHECK(values(argmax(tensor({1, 5, 2, 5}), 0)) == std::vector<double>{1});
  CHECK(values(argmax(x, 1)) == std::vector<double>(8, 2));
  CHECK(argmax(x, 1).shape() == Shape{2, 4});
  CHECK(values(sum_to(x, {3, 1})) == std::vector<double>{60, 92, 124});
  CHECK_THROWS_WITH_AS(sum(x, {1, 1}), "[sum] dim 1 repeated in [1, 1]", Error);
}

TEST_CASE("printing") {
  std::ostringstream os;
  os << tensor({1, 2.5});
  CHECK(os.str() == "tensor([1.0000, 2.5000], shape=[2], dtype=f32, device=cpu)");
  std::ostringstream big;
  big << arange(10);
  CHECK(big.str() == "tensor([0, 1, 2, ..., 7, 8, 9], shape=[10], dtype=i64, device=cpu)");
}

TEST_CASE("devices that are not compiled in give a clear error") {
  CHECK_THROWS_WITH_AS(zeros({2}).to(Device::cuda()),
                       "[to] device cuda:0 is not available: this program was built without the cuda backend (see "
                       "README: GPU presets)",
                       Error);
}

TEST_CASE("parse_device reads cpu, cuda[:N] and hip[:N] and names what it accepts") {
  CHECK(parse_device("cpu") == Device::cpu());
  CHECK(parse_device("cuda") == Device::cuda(0));
  CHECK(parse_device("cuda:1") == Device::cuda(1));
  CHECK(parse_device("hip") == Device::hip(0));
  CHECK(parse_device("hip:12") == Device::hip(12));
  for (const char* bad : {"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cpu:0", "CUDA", "hip:1:2", "cuda:9999999999"})
    CHECK_THROWS_WITH_AS(parse_device(bad),
                         ("[parse_device] '" + std::string(bad) + "' is not a device; expected cpu, cuda, cuda:N, hip or hip:N").c_str(),
                         Error);
}

TEST_CASE("op errors name the op and the shapes, dtypes or values involved") {
  Tensor a = zeros({2, 3}), b = zeros({4, 5});
  CHECK_THROWS_WITH_AS(matmul(a, b), "[matmul] cannot multiply shapes [2, 3] and [4, 5] (3 != 4)", Error);
  CHECK_THROWS_WITH_AS(linear(a, b),
                       "[linear] input of shape [2, 3] does not match weight of shape [4, 5] (expected input (..., 5) "
                       "and weight (out, in))",
                       Error);
  CHECK_THROWS_WITH_AS(layer_norm(a, {4}),
                       "[layer_norm] normalized_shape [4] does not match the trailing dims of input shape [2, 3]", Error);
  CHECK_THROWS_WITH_AS(gather(a, 1, from_vector(std::vector<int64_t>{0, 3}, {2, 1})),
                       "[gather] index 3 is out of bounds for dim 1 with size 3", Error);
  CHECK_THROWS_WITH_AS(gather(a, 1, zeros({2, 1})), "[gather] index must have dtype i64, got f32", Error);
  CHECK_THROWS_WITH_AS(cat({a, b}, 0), "[cat] tensor 1 has shape [4, 5], which does not match shape [2, 3] outside dim 0",
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(a, from_vector(std::vector<int64_t>{0, 3}, {2})),
                       "[cross_entropy] label 3 at row 1 is out of range for 3 classes", Error);
  CHECK_THROWS_WITH_AS(mse_loss(a, zeros({3, 2})),
                       "[mse_loss] input of shape [2, 3] and target of shape [3, 2] must have the same shape", Error);
  CHECK_THROWS_WITH_AS(split(a, {1, 1}, 1), "[split] sizes add up to 2 but dim 1 of shape [2, 3] has size 3", Error);
}

TEST_CASE("op forward values") {
  Tensor x = tensor({1, 2, 3});
  const auto sm = softmax(x, 0).to_vector<double>();
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(sm[2] == doctest::Approx(std::exp(3.0) / z));
  CHECK(log_softmax(x, 0).to_vector<double>()[0] == doctest::Approx(1.0 - std::log(z)));
  const auto ln = layer_norm(x, {3}).to_vector<double>();
  CHECK(ln[0] == doctest::Approx(-std::sqrt(1.5)).epsilon(1e-4));  // (1-2)/sqrt(2/3 + 1e-5)
  Tensor m = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  CHECK(matmul(m, m).to_vector<double>() == std::vector<double>{7, 10, 15, 22});
  CHECK(matmul(m.transpose(0, 1), m).to_vector<double>() == std::vector<double>{10, 14, 14, 20});
  CHECK(linear(m, m, from_vector(std::vector<double>{1, -1}, {2})).to_vector<double>()
        == std::vector<double>{6, 10, 12, 24});
  CHECK(smooth_l1_loss(tensor({0.5, 3}), tensor({0, 0})).item() == doctest::Approx((0.125 + 2.5) / 2));
  CHECK(cross_entropy(from_vector(std::vector<double>{0, 0}, {1, 2}), from_vector(std::vector<int64_t>{1}, {1})).item()
        == doctest::Approx(std::log(2.0)));
  CHECK(repeat(tensor({1, 2}), {2, 2}).to_vector<double>() == std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2});
  CHECK(index_select(tensor({5, 6, 7}), 0, from_vector(std::vector<int64_t>{2, 0}, {2})).to_vector<double>()
        == std::vector<double>{7, 5});
  const Tensor box = maximum(minimum(tensor({-3, 0.25, 7}), tensor({1, 2, 3})), tensor({-1, -2, 0}));
  CHECK(box.to_vector<double>() == std::vector<double>{-1, 0.25, 3});
  const auto nan_wins = maximum(tensor({NAN, 1}), tensor({0, NAN})).to_vector<double>();
  CHECK((std::isnan(nan_wins[0]) && std::isnan(nan_wins[1])));
}
