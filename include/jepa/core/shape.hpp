// Shape (sizes of each dim, PyTorch order: dim 0 is outermost) and the stride arithmetic around it.
// Strides are in elements, not bytes. A shape of rank 0 is a scalar with one element.
#pragma once
#include <algorithm>
#include <cstdint>
#include <ostream>
#include <vector>

#include <jepa/core/error.hpp>

namespace jepa {

struct Shape : std::vector<int64_t> {
  using std::vector<int64_t>::vector;
  Shape() = default;
  Shape(const std::vector<int64_t>& v) : std::vector<int64_t>(v) {}

  int64_t ndim() const { return static_cast<int64_t>(size()); }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : *this) n *= d;
    return n;
  }
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) {
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  return os << ']';
}

// Row-major strides of a dense tensor of this shape.
inline Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (int64_t i = shape.ndim() - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i] > 1 ? shape[i] : 1;
  }
  return strides;
}

// Maps a possibly negative dim into [0, ndim); throws naming the op when out of range.
inline int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  JEPA_CHECK(dim >= lo && dim <= hi, op, "dim ", dim, " is out of range for a tensor of rank ", ndim,
             " (expected ", lo, "..", hi, ")");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

// NumPy broadcasting of two shapes; throws naming the op and both shapes when they do not broadcast.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int64_t n = std::max(a.ndim(), b.ndim());
  Shape out(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.ndim() ? 1 : a[i - (n - a.ndim())];
    int64_t db = i < n - b.ndim() ? 1 : b[i - (n - b.ndim())];
    JEPA_CHECK(da == db || da == 1 || db == 1, op, "shapes ", a, " and ", b,
               " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

// Strides that read a tensor of (shape, strides) as if it had shape `target` (broadcast dims get 0).
inline Shape broadcast_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  Shape out(target.size(), 0);
  const int64_t lead = target.ndim() - shape.ndim();
  for (int64_t i = 0; i < shape.ndim(); ++i)
    out[lead + i] = (shape[i] == 1 && target[lead + i] != 1) ? 0 : strides[i];
  return out;
}

}  // namespace jepa
