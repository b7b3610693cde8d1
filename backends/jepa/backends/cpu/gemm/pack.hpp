// Packing of GEMM operands into the panels the micro-kernels read (contract in portable.hpp).
// All four transpose cases are handled here, a block at a time, never by copying an operand whole:
// - B: panels of nr columns of op(B), stored depth-major (b[p * nr + j]) so that a row of the
//   panel is one or two vector loads; columns past the matrix edge are zeros. When op(B) = B^T
//   this is a transpose, done by the kernel's pack_b_transposed (SIMD gathers).
// - A: panels of mr rows of op(A), stored in whichever layout makes packing a copy of contiguous
//   runs: row layout (a[i * kDepthBlock + p]) when A is not transposed, depth-major
//   (a[p * mr + i]) when it is. The kernel broadcasts single elements of A, so either layout is
//   equally fast for it; rows past the matrix edge are zeros.
// The loops are plain C++ that the compiler vectorises (`omp simd`: source and panel never
// overlap), inlined by each ISA's with_isa() into code compiled for that ISA. No library calls:
// memcpy's call overhead dominated packing for the small products of attention.
#pragma once
#include <cstdint>

namespace jepa::cpu::gemm_pack {

// Depth (K) extent of one packed block; the row layout of A uses it as its fixed row stride.
inline constexpr int64_t kDepthBlock = 256;

// op(X) of a row-major matrix X with leading dimension ld: element (r, c) is
// data[r * ld + c] when not transposed and data[c * ld + r] when transposed.
template <class T>
struct Operand {
  const T* data;
  int64_t ld;
  bool transposed;
};

// dst[0:count] = src[0:count], dst[count:width] = 0, with `width` known at compile time.
template <int64_t width, class T>
inline void copy_padded(const T* src, int64_t count, T* dst) {
  if (count == width) {
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) dst[j] = src[j];
    return;
  }
#pragma omp simd
  for (int64_t j = 0; j < width; ++j) dst[j] = j < count ? src[j] : T(0);
}

// Packs rows [p0, p0 + kc) x columns [j0, j0 + n) of op(B) (n <= nr) into one depth-major panel.
// The transposed case is a transpose, which compilers do not vectorise well: the kernel supplies it.
template <class Kernel, class T>
void pack_b_panel(const Operand<T>& b, int64_t p0, int64_t kc, int64_t j0, int64_t n, T* panel) {
  if (b.transposed) {
    Kernel::pack_b_transposed(b.data + j0 * b.ld + p0, b.ld, kc, n, panel);
    return;
  }
  for (int64_t p = 0; p < kc; ++p) copy_padded<Kernel::nr>(b.data + (p0 + p) * b.ld + j0, n, panel + p * Kernel::nr);
}

// panel[p * nr + j] = rows[j * ld + p] for p < kc and j < n, and 0 for n <= j < nr: a panel of
// op(B) = B^T, whose columns are rows of B. The portable version of Kernel::pack_b_transposed.
template <int64_t nr, class T>
void pack_b_transposed(const T* rows, int64_t ld, int64_t kc, int64_t n, T* panel) {
  for (int64_t p = 0; p < kc; ++p) {
    T* dst = panel + p * nr;
#pragma omp simd
    for (int64_t j = 0; j < nr; ++j) dst[j] = j < n ? rows[j * ld + p] : T(0);
  }
}

// Whether an A panel of this operand is in row layout (else depth-major).
template <class T>
bool a_row_layout(const Operand<T>& a) {
  return !a.transposed;
}

// Packs rows [i0, i0 + m) x depth [p0, p0 + kc) of op(A) into ceil(m / mr) panels, panel q at
// block + q * mr * kDepthBlock; the last panel's rows past m are zeros. Transposed A is read row
// by row of A across all panels, so that reads stream through memory instead of striding.
template <int64_t mr, class T>
void pack_a_block(const Operand<T>& a, int64_t i0, int64_t m, int64_t p0, int64_t kc, T* block) {
  constexpr int64_t panel_size = mr * kDepthBlock;
  const int64_t panels = (m + mr - 1) / mr;
  if (a_row_layout(a)) {
    for (int64_t i = 0; i < panels * mr; ++i) {
      T* dst = block + (i / mr) * panel_size + (i % mr) * kDepthBlock;
      if (i < m) {
        const T* src = a.data + (i0 + i) * a.ld + p0;
#pragma omp simd
        for (int64_t p = 0; p < kc; ++p) dst[p] = src[p];
      } else {
#pragma omp simd
        for (int64_t p = 0; p < kc; ++p) dst[p] = T(0);
      }
    }
    return;
  }
  for (int64_t p = 0; p < kc; ++p) {
    const T* src = a.data + (p0 + p) * a.ld + i0;
    for (int64_t q = 0; q < panels; ++q) {
      const int64_t rows = m - q * mr < mr ? m - q * mr : mr;
      copy_padded<mr>(src + q * mr, rows, block + q * panel_size + p * mr);
    }
  }
}

}  // namespace jepa::cpu::gemm_pack
