// gather and its adjoint scatter_add along one dim, over strided operands.
// Both walk the index tensor's positions; position p reads/writes the data element with p's
// coordinates except along `dim`, where the index value is used. An index row that is constant
// along the innermost dim (an expanded index, as JEPA's apply_masks uses) copies whole rows.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>

#include <jepa/backends/cpu/strided.hpp>

namespace jepa::cpu {

// Returns an index value outside [0, dim_size) if one was met (the rest of the output is then
// unspecified).
template <class T>
std::optional<int64_t> gather(const Shape& shape, T* out, const Shape& out_strides, const int64_t* index, const Shape& index_strides,
               const T* x, const Shape& x_strides_except_dim, int64_t x_dim_stride, int64_t dim_size) {
  std::atomic<int64_t> bad{0};
  std::atomic<bool> any_bad{false};
  for_each_row(coalesce<3>(shape, {out_strides, index_strides, x_strides_except_dim}),
               [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                 T* o = out + off[0];
                 const int64_t* id = index + off[1];
                 const T* src = x + off[2];
                 if (st[1] == 0) {  // one index value for the whole row
                   const int64_t v = *id;
                   if (v < 0 || v >= dim_size) {
                     bad = v;
                     any_bad = true;
                     return;
                   }
                   const T* row = src + v * x_dim_stride;
                   if (st[0] == 1 && st[2] == 1) {
#pragma omp simd
                     for (int64_t i = 0; i < n; ++i) o[i] = row[i];
                   } else {
                     for (int64_t i = 0; i < n; ++i) o[i * st[0]] = row[i * st[2]];
                   }
                   return;
                 }
                 for (int64_t i = 0; i < n; ++i) {
                   const int64_t v = id[i * st[1]];
                   if (v < 0 || v >= dim_size) {
                     bad = v;
                     any_bad = true;
                     return;
                   }
                   o[i * st[0]] = src[i * st[2] + v * x_dim_stride];
                 }
               });
  return any_bad ? std::optional<int64_t>(bad.load()) : std::nullopt;
}

// dx[.., index[p], ..] += g[p] for every position p of the index. dx is dense and zeroed by the
// caller. Positions that differ in a coordinate other than `dim` never write the same element, so
// the work is split along such a coordinate (`split_dim`) and stays race-free with duplicate indices.
template <class T>
void scatter_add(const Shape& shape, int64_t split_dim, const T* g, const Shape& g_strides, const int64_t* index,
                 const Shape& index_strides, T* dx, const Shape& dx_strides_except_dim, int64_t dx_dim_stride) {
  const int64_t parts = split_dim >= 0 ? shape[split_dim] : 1;
  Shape sub_shape = shape;
  if (split_dim >= 0) sub_shape[split_dim] = 1;
  parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t og = split_dim >= 0 ? p * g_strides[split_dim] : 0;
      const int64_t oi = split_dim >= 0 ? p * index_strides[split_dim] : 0;
      const int64_t ox = split_dim >= 0 ? p * dx_strides_except_dim[split_dim] : 0;
      for_each_row(coalesce<3>(sub_shape, {g_strides, index_strides, dx_strides_except_dim}),
                   [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                     const T* gr = g + og + off[0];
                     const int64_t* id = index + oi + off[1];
                     T* d = dx + ox + off[2];
                     for (int64_t i = 0; i < n; ++i) d[i * st[2] + id[i * st[1]] * dx_dim_stride] += gr[i * st[0]];
                   });
    }
  });
}

}  // namespace jepa::cpu
