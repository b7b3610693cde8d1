// Readable printing: tensor([[0.1000, 2.0000], ...], shape=[2, 2], dtype=f32, device=cpu).
// Long dims show their first and last three entries.
#pragma once
#include <iomanip>
#include <ostream>

#include <jepa/ops/copy.hpp>

namespace jepa {

namespace detail {
inline void print_dim(std::ostream& os, const std::vector<double>& v, const Shape& shape, int64_t d, int64_t base,
                      bool integer) {
  constexpr int64_t kEdge = 3;
  const int64_t n = shape[d];
  int64_t stride = 1;
  for (int64_t k = d + 1; k < shape.ndim(); ++k) stride *= shape[k];
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * kEdge && i == kEdge) {
      os << "..., ";
      i = n - kEdge;
    }
    if (d + 1 == shape.ndim()) {
      if (integer) os << static_cast<int64_t>(v[base + i]);
      else os << std::fixed << std::setprecision(4) << v[base + i];
    } else {
      print_dim(os, v, shape, d + 1, base + i * stride, integer);
    }
    if (i + 1 < n) os << (d + 1 == shape.ndim() ? ", " : ",\n        ");
  }
  os << ']';
}
}  // namespace detail

inline std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  const std::vector<double> v = t.to_vector<double>();
  const auto flags = os.flags();
  os << "tensor(";
  if (t.dim() == 0) os << v[0];
  else if (t.numel() == 0) os << "[]";
  else detail::print_dim(os, v, t.shape(), 0, 0, t.dtype() == DType::i64);
  os.flags(flags);
  return os << ", shape=" << t.shape() << ", dtype=" << t.dtype() << ", device=" << t.device()
            << (t.requires_grad() ? ", requires_grad" : "") << ')';
}

}  // namespace jepa
