// Fixed sin-cos position tables, computed in double and stored as f32 (as the official numpy
// code does). The 1-D embedding of integer positions with d dims (d even) is
//   [sin(pos * w_k) for k < d/2 | cos(pos * w_k) for k < d/2],  w_k = 10000^(-k / (d/2)).
// I-JEPA's 2-D table puts the COLUMN first: token i*W + j gets [emb(D/2, j) | emb(D/2, i)].
// V-JEPA's 3-D table puts time, row, column in that order and truncates to D. The two orders
// differ on purpose (they match the released weights), so they are separate functions.
#pragma once
#include <cmath>
#include <vector>

#include <jepa/jepa.hpp>

namespace jepa::nn {

namespace detail {
// Writes emb(d, pos) into out[0..d).
inline void sincos_1d(double* out, int64_t d, double pos) {
  const int64_t half = d / 2;
  for (int64_t k = 0; k < half; ++k) {
    const double w = std::pow(10000.0, -static_cast<double>(k) / static_cast<double>(half));
    out[k] = std::sin(pos * w);
    out[half + k] = std::cos(pos * w);
  }
}
}  // namespace detail

// (H*W, D) table for a grid of H rows and W columns, I-JEPA order.
inline Tensor sincos_2d_ijepa(int64_t dim, int64_t rows, int64_t cols) {
  JEPA_CHECK(dim % 4 == 0, "sincos_2d", "dim must be divisible by 4, got ", dim);
  std::vector<double> table(static_cast<size_t>(rows * cols * dim));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      double* row = table.data() + (i * cols + j) * dim;
      detail::sincos_1d(row, dim / 2, static_cast<double>(j));
      detail::sincos_1d(row + dim / 2, dim / 2, static_cast<double>(i));
    }
  return from_vector(table, {rows * cols, dim}, DType::f32);
}

// (T*H*W, D) table for a grid of T time steps, H rows and W columns, V-JEPA order. With
// uniform_power each axis gets int(ceil(D/6))*2 dims and the concatenation is cut to D;
// otherwise time gets D/2 and rows and columns D/4 each.
inline Tensor sincos_3d_vjepa(int64_t dim, int64_t steps, int64_t rows, int64_t cols, bool uniform_power = true) {
  int64_t dt, dh, dw;
  if (uniform_power) {
    dt = dh = dw = static_cast<int64_t>(std::ceil(static_cast<double>(dim) / 6.0)) * 2;
  } else {
    JEPA_CHECK(dim % 4 == 0, "sincos_3d", "dim must be divisible by 4, got ", dim);
    dt = dim / 2;
    dh = dw = dim / 4;
  }
  JEPA_CHECK(dt % 2 == 0 && dh % 2 == 0, "sincos_3d", "axis widths must be even for dim ", dim);
  const int64_t full = dt + dh + dw;
  std::vector<double> row(static_cast<size_t>(full)), table(static_cast<size_t>(steps * rows * cols * dim));
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        detail::sincos_1d(row.data(), dt, static_cast<double>(t));
        detail::sincos_1d(row.data() + dt, dh, static_cast<double>(i));
        detail::sincos_1d(row.data() + dt + dh, dw, static_cast<double>(j));
        std::copy(row.begin(), row.begin() + dim, table.begin() + ((t * rows + i) * cols + j) * dim);
      }
  return from_vector(table, {steps * rows * cols, dim}, DType::f32);
}

}  // namespace jepa::nn
