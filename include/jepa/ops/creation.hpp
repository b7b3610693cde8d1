// Tensor creation: constants, ranges, copies of host data, and seeded random tensors.
// Random tensors are reproducible: element i takes Philox block (offset + i) of the generator, so
// the values do not depend on thread count or device.
// reference: https://pytorch.org/docs/stable/torch.html#creation-ops
#pragma once
#include <cmath>
#include <vector>

#include <jepa/core/random.hpp>
#include <jepa/ops/copy.hpp>

namespace jepa {

inline Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu()) {
  return Tensor::empty(shape, dtype, device);
}

inline Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu()) {
  Tensor t = Tensor::empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
inline Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu()) {
  return full(shape, 0.0, dtype, device);
}
inline Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu()) {
  return full(shape, 1.0, dtype, device);
}
inline Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
inline Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
inline Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype(), t.device()); }

// A copy of host values laid out row-major in `shape`, stored as `dtype`.
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, DType dtype = dtype_v<T>,
                   Device device = Device::cpu()) {
  JEPA_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "from_vector", "got ", values.size(),
             " values for shape ", shape, " (", shape.numel(), " elements)");
  Tensor host = Tensor::empty(shape, dtype_v<T>);
  std::copy(values.begin(), values.end(), host.data<T>());
  return host.to(dtype).to(device);
}

inline Tensor tensor(std::initializer_list<double> values, DType dtype = DType::f32) {
  return from_vector(std::vector<double>(values), {static_cast<int64_t>(values.size())}, dtype);
}

inline Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32,
                     Device device = Device::cpu()) {
  JEPA_CHECK(step != 0, "arange", "step must be non-zero");
  const auto n = static_cast<int64_t>(std::max(0.0, std::ceil((end - start) / step)));
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = start + static_cast<double>(i) * step;
  return from_vector(v, {n}, dtype, device);
}
inline Tensor arange(int64_t n, DType dtype = DType::i64) { return arange(0.0, static_cast<double>(n), 1.0, dtype); }

namespace detail {

// Fills a new tensor with sample(block) for each element's Philox block.
template <class Sample>
Tensor random_tensor(const Shape& shape, Generator& gen, DType dtype, Device device, Sample sample) {
  const int64_t n = shape.numel();
  Tensor host = Tensor::empty(shape, DType::f64);
  double* p = host.data<double>();
  const uint64_t base = gen.advance(static_cast<uint64_t>(n));
  Generator frozen(gen.seed());
  frozen.set_state(gen.seed(), base);
  cpu::parallel_for(n, 1 << 12, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) p[i] = sample(frozen.block(static_cast<uint64_t>(i)));
  });
  return host.to(dtype).to(device);
}

// Inverse of erf on (-1, 1): Winitzki's closed form (error ~2e-3) refined by Newton steps on erf,
// which converge quadratically to double precision.
inline double erfinv(double y) {
  if (y <= -1.0) return -INFINITY;
  if (y >= 1.0) return INFINITY;
  constexpr double a = 0.147;
  const double ln = std::log((1.0 - y) * (1.0 + y));
  const double first = 2.0 / (M_PI * a) + 0.5 * ln;
  double x = std::copysign(std::sqrt(std::sqrt(first * first - ln / a) - first), y);
  for (int i = 0; i < 4; ++i) x -= (std::erf(x) - y) / (M_2_SQRTPI * std::exp(-x * x));
  return x;
}

}  // namespace detail

inline Tensor uniform(const Shape& shape, double lo, double hi, Generator& gen = default_generator(),
                      DType dtype = DType::f32, Device device = Device::cpu()) {
  return detail::random_tensor(shape, gen, dtype, device, [=](const std::array<uint32_t, 4>& b) {
    return lo + (hi - lo) * detail::uniform_from(b[0], b[1]);
  });
}

inline Tensor normal(const Shape& shape, double mean, double std, Generator& gen = default_generator(),
                     DType dtype = DType::f32, Device device = Device::cpu()) {
  return detail::random_tensor(shape, gen, dtype, device, [=](const std::array<uint32_t, 4>& b) {
    return mean + std * Generator::normal_from(b);
  });
}

// Normal(0, std) restricted to [lo, hi] (absolute bounds, as torch.nn.init.trunc_normal_), by
// inverting the CDF on the allowed interval.
inline Tensor trunc_normal(const Shape& shape, double std, double lo, double hi, Generator& gen = default_generator(),
                           DType dtype = DType::f32, Device device = Device::cpu()) {
  JEPA_CHECK(std > 0 && lo < hi, "trunc_normal", "need std > 0 and lo < hi, got std ", std, ", [", lo, ", ", hi, "]");
  const double cdf_lo = 0.5 * (1.0 + std::erf(lo / std * M_SQRT1_2));
  const double cdf_hi = 0.5 * (1.0 + std::erf(hi / std * M_SQRT1_2));
  return detail::random_tensor(shape, gen, dtype, device, [=](const std::array<uint32_t, 4>& b) {
    const double u = cdf_lo + (cdf_hi - cdf_lo) * detail::uniform_from(b[0], b[1]);
    const double x = std * M_SQRT2 * detail::erfinv(2.0 * u - 1.0);
    return std::clamp(x, lo, hi);
  });
}

// A random permutation of 0..n-1 (Fisher-Yates), as a host vector.
inline std::vector<int64_t> randperm(int64_t n, Generator& gen = default_generator()) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[gen.randint(0, i + 1)]);
  return p;
}

}  // namespace jepa
