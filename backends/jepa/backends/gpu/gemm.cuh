// Matrix multiply on the GPU as ops/matmul.hpp calls it: out[i] = a[i] @ b[i] + beta * out[i]
// over a GemmPlan's batch (transpositions, sizes, leading dims, element offsets). Two
// implementations of one contract, C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i]:
// - GemmImpl::blas, the vendor BLAS (blas_gemm.cuh): cuBLAS on CUDA, hipBLAS in a HIP build that
//   found it at configure time. The default wherever it is compiled in.
// - GemmImpl::own, our tiled kernel (tiled_gemm.cuh): the only one in a HIP build without
//   hipBLAS, and selectable everywhere, which is how the CUDA tests check it on NVIDIA GPUs.
// Selection: set_gemm_impl(), or the environment variable JEPA_GPU_GEMM=own|blas, read when the
// first GEMM runs. TF32 (set_allow_tf32) applies to the vendor BLAS only; the own kernel always
// multiplies in full f32.
#pragma once
#include <atomic>
#include <cstdlib>
#include <string>

#include <jepa/backends/gpu/tiled_gemm.cuh>
#if defined(JEPA_GPU_BLAS)
#include <jepa/backends/gpu/blas_gemm.cuh>
#endif

namespace jepa::gpu::kernels {

#if defined(JEPA_GPU_BLAS)
inline constexpr bool kHasBlas = true;
#else
inline constexpr bool kHasBlas = false;
#endif

namespace gemm_detail {

inline void check_available(GemmImpl impl, const char* requested_by) {
  JEPA_CHECK(impl == GemmImpl::own || kHasBlas, "matmul", requested_by, " asks for the vendor BLAS, but this ",
             kBackendName, " build has none (hipBLAS was not found when it was configured); the own GEMM kernel is "
             "the only one");
}

inline GemmImpl impl_from_environment() {
  const char* env = std::getenv("JEPA_GPU_GEMM");
  const std::string value = env ? env : "";
  if (value.empty()) return kHasBlas ? GemmImpl::blas : GemmImpl::own;
  if (value == "own") return GemmImpl::own;
  JEPA_CHECK(value == "blas", "matmul", "JEPA_GPU_GEMM must be 'blas' (the vendor BLAS) or 'own' (the tiled "
             "kernel), got '", value, "'");
  check_available(GemmImpl::blas, "JEPA_GPU_GEMM=blas");
  return GemmImpl::blas;
}

inline std::atomic<GemmImpl>& impl_slot() {
  static std::atomic<GemmImpl> impl{impl_from_environment()};
  return impl;
}

inline std::atomic<bool>& allow_tf32_slot() {
  static std::atomic<bool> allowed{false};
  return allowed;
}

}  // namespace gemm_detail

// The implementation GEMMs run on (JEPA_GPU_GEMM, else the vendor BLAS where there is one).
inline GemmImpl gemm_impl() { return gemm_detail::impl_slot(); }
inline void set_gemm_impl(GemmImpl impl) {
  gemm_detail::check_available(impl, "set_gemm_impl");
  gemm_detail::impl_slot() = impl;
}

// Lets f32 matrix multiplies on the vendor BLAS use TF32 tensor cores (10-bit mantissa products,
// f32 accumulation).
inline void set_allow_tf32(bool allowed) { gemm_detail::allow_tf32_slot() = allowed; }
inline bool allow_tf32() { return gemm_detail::allow_tf32_slot(); }

// out[i] = alpha * a[i] @ b[i] + beta * out[i] on `impl`; pointer_table as gemm_batch takes it.
inline void gemm(GemmImpl impl, const GemmPlan& plan, const View& a, const View& b, const View& out, double alpha,
                 double beta, const View& pointer_table) {
  if (plan.c_offsets.empty() || plan.M == 0 || plan.N == 0) return;
  gemm_detail::check_available(impl, "gemm");
  const DeviceContext& ctx = activate(out.device().index);
  const GemmBatch batch = gemm_batch(ctx, plan, a, b, out, pointer_table);
#if defined(JEPA_GPU_BLAS)
  if (impl == GemmImpl::blas) {
    blas_gemm(ctx, plan, batch, out.dtype(), alpha, beta, allow_tf32());
    return;
  }
#endif
  tiled_gemm(ctx, plan, batch, out.dtype(), alpha, beta);
}

}  // namespace jepa::gpu::kernels
