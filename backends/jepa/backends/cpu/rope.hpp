// Rotary position embedding (RoPE) as V-JEPA 2-AC applies it to queries and keys, on the CPU,
// forward and backward.
// Layout: x (B, H, N, dh) read through the strides of its first three dims, last dim contiguous;
// out (B, H, N, dh) dense. positions (B, N, A), or (N, A) shared by the batch, f64 dense: A
// coordinates per token. Axis a turns dims [a * section, (a + 1) * section) of every head; dims
// from A * section on are copied unchanged.
// Frequencies: an axis of `section` dims has half = section / 2 of them, omega_i = 10000^(-i / half),
// and dim j turns with the angle pos * omega_(j mod half). They are tiled over the section rather
// than repeated per pair of dims, as in the official rotate_queries_or_keys, which keeps this for
// compatibility with the released weights. So the pair (2p, 2p + 1) has two angles, a for dim 2p
// and b for dim 2p + 1:
//   forward   out_2p = x_2p cos a - x_2p+1 sin a,     out_2p+1 = x_2p sin b + x_2p+1 cos b
//   backward  dx_2p  = g_2p cos a + g_2p+1 sin b,     dx_2p+1  = -g_2p sin a + g_2p+1 cos b   (written, =)
// The backward applies the transposed 2 x 2 matrix; where a == b that is the rotation by -a.
// Angles and their sines and cosines are computed in double, once per token.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <jepa/backends/cpu/parallel.hpp>

namespace jepa::cpu {

struct RopeShape {
  int64_t batch = 0, heads = 0, tokens = 0, head_dim = 0;     // x (B, H, N, dh)
  int64_t axes = 0, section = 0;                              // A position axes of `section` dims each
  int64_t batch_stride = 0, head_stride = 0, token_stride = 0;  // x's strides in elements
  bool positions_per_sample = false;                          // positions (B, N, A), else (N, A)
};

// omega for dim j of a section (the tiled layout above).
inline double rope_frequency(int64_t j, int64_t section) {
  const int64_t half = section / 2;
  return std::pow(10000.0, -static_cast<double>(j % half) / static_cast<double>(half));
}

namespace detail {

template <class T>
void rope_pairs(const RopeShape& s, const double* positions, const T* x, T* out, bool transposed) {
  const int64_t rotated = s.axes * s.section;
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(1, s.heads * s.head_dim));
  parallel_for(s.batch * s.tokens, grain, [&](int64_t r0, int64_t r1) {
    std::vector<T> cosine(static_cast<size_t>(rotated)), sine(static_cast<size_t>(rotated));  // (A * section)
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / s.tokens, n = r % s.tokens;
      const double* pos = positions + ((s.positions_per_sample ? b * s.tokens : 0) + n) * s.axes;  // (A)
      for (int64_t d = 0; d < rotated; ++d) {
        const double angle = pos[d / s.section] * rope_frequency(d % s.section, s.section);
        cosine[d] = static_cast<T>(std::cos(angle));
        sine[d] = static_cast<T>(std::sin(angle));
      }
      for (int64_t h = 0; h < s.heads; ++h) {
        const T* xi = x + b * s.batch_stride + h * s.head_stride + n * s.token_stride;  // (dh)
        T* oi = out + ((b * s.heads + h) * s.tokens + n) * s.head_dim;                  // (dh)
        for (int64_t d = 0; d < rotated; d += 2) {
          const T x0 = xi[d], x1 = xi[d + 1];
          if (transposed) {
            oi[d] = x0 * cosine[d] + x1 * sine[d + 1];
            oi[d + 1] = x1 * cosine[d + 1] - x0 * sine[d];
          } else {
            oi[d] = x0 * cosine[d] - x1 * sine[d];
            oi[d + 1] = x0 * sine[d + 1] + x1 * cosine[d + 1];
          }
        }
        std::copy(xi + rotated, xi + s.head_dim, oi + rotated);
      }
    }
  });
}

}  // namespace detail

template <class T>
void rope_forward(const RopeShape& s, const double* positions, const T* x, T* out) {
  detail::rope_pairs(s, positions, x, out, false);
}

// dout read through s's strides like x; dx dense.
template <class T>
void rope_backward(const RopeShape& s, const double* positions, const T* dout, T* dx) {
  detail::rope_pairs(s, positions, dout, dx, true);
}

}  // namespace jepa::cpu
