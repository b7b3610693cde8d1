// Matrix multiply through the vendor BLAS (cuBLAS, or hipBLAS in a HIP build that found it):
// C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i] for a batch of row-major matrices (gemm.cuh
// describes the batch). Included only where vendor.hpp defines JEPA_GPU_BLAS.
// Row-major C = op(A) op(B) is computed as the column-major product C^T = op(B)^T op(A)^T, which
// reads every operand in place. An evenly spaced batch is one strided-batched call; any other
// passes the device table of matrix pointers.
// Precision: f64 in f64; f32 in f32, or TF32 tensor cores when allow_tf32 (gemm.cuh); bf16 and f16
// inputs and outputs with f32 accumulation.
#pragma once
#include <climits>
#include <mutex>
#include <vector>

#include <jepa/backends/gpu/gemm_batch.cuh>

namespace jepa::gpu::kernels {

namespace detail {

[[noreturn]] inline void blas_failure(const char* call, gpublasStatus_t status, const char* file, int line) {
  fail(kBackendName, vendor_spelling(call), " failed with ", gpublasGetStatusName(status), " (",
       gpublasGetStatusString(status), ") at ", file, ":", line);
}

}  // namespace detail

#define JEPA_GPUBLAS_CHECK(call)                                                                         \
  do {                                                                                                   \
    const gpublasStatus_t jepa_blas_status_ = (call);                                                    \
    if (jepa_blas_status_ != GPUBLAS_STATUS_SUCCESS)                                                     \
      ::jepa::gpu::kernels::detail::blas_failure(#call, jepa_blas_status_, __FILE__, __LINE__);                   \
  } while (0)

// The BLAS handle of a device, bound to its stream.
inline gpublasHandle_t blas_handle(int index) {
  static std::mutex mutex;
  static auto* handles = new std::vector<gpublasHandle_t>();  // leaked: destroyed after the runtime otherwise
  DeviceContext& ctx = activate(index);
  std::lock_guard<std::mutex> lock(mutex);
  if (handles->empty()) handles->resize(static_cast<size_t>(device_count()), nullptr);
  gpublasHandle_t& h = (*handles)[static_cast<size_t>(index)];
  if (!h) {
    JEPA_GPUBLAS_CHECK(gpublasCreate(&h));
    JEPA_GPUBLAS_CHECK(gpublasSetStream(h, ctx.stream));
  }
  return h;
}

namespace blas_gemm_detail {

struct Types {
  gpuDataType_t data;
  gpublasComputeType_t compute;
  bool double_scalars;  // alpha and beta are double (f64) or float (the rest)
};

inline Types types_for(DType t, bool tf32) {
  switch (t) {
    case DType::f64: return {GPU_R_64F, GPUBLAS_COMPUTE_64F, true};
    case DType::f32: return {GPU_R_32F, tf32 ? GPUBLAS_COMPUTE_32F_FAST_TF32 : GPUBLAS_COMPUTE_32F, false};
    case DType::bf16: return {GPU_R_16BF, GPUBLAS_COMPUTE_32F, false};
    case DType::f16: return {GPU_R_16F, GPUBLAS_COMPUTE_32F, false};
    default: fail("matmul", "expected f32, f64, bf16 or f16 operands on ", kBackendName, ", got ", t);
  }
}

inline int checked_int(int64_t v, const char* what) {
  JEPA_CHECK(v >= 0 && v <= INT_MAX, "matmul", what, " = ", v, " exceeds the BLAS limit of ", INT_MAX);
  return static_cast<int>(v);
}

}  // namespace blas_gemm_detail

// C[i] = alpha * op(A[i]) op(B[i]) + beta * C[i] through the vendor BLAS; arguments as tiled_gemm's.
template <class Plan>
void blas_gemm(const DeviceContext& ctx, const Plan& plan, const GemmBatch& batch, DType dtype, double alpha,
               double beta, bool tf32) {
  using blas_gemm_detail::checked_int;
  const blas_gemm_detail::Types types = blas_gemm_detail::types_for(dtype, tf32);
  const gpublasHandle_t handle = blas_handle(ctx.index);
  const float alpha_f = static_cast<float>(alpha), beta_f = static_cast<float>(beta);
  const void* alpha_p = types.double_scalars ? static_cast<const void*>(&alpha) : &alpha_f;
  const void* beta_p = types.double_scalars ? static_cast<const void*>(&beta) : &beta_f;
  // Column-major view: C^T (N x M) = op(B)^T (N x K) op(A)^T (K x M).
  const gpublasOperation_t op_first = plan.trans_b ? GPUBLAS_OP_T : GPUBLAS_OP_N;
  const gpublasOperation_t op_second = plan.trans_a ? GPUBLAS_OP_T : GPUBLAS_OP_N;
  const int m = checked_int(plan.N, "N"), n = checked_int(plan.M, "M"), k = checked_int(plan.K, "K");
  const int ldb = checked_int(plan.ldb, "ldb"), lda = checked_int(plan.lda, "lda"), ldc = checked_int(plan.ldc, "ldc");
  const int count = checked_int(batch.count, "batch");
  if (!batch.table) {
    JEPA_GPUBLAS_CHECK(gpublasGemmStridedBatchedEx(handle, op_first, op_second, m, n, k, alpha_p, batch.b, types.data,
                                                   ldb, batch.stride_b, batch.a, types.data, lda, batch.stride_a, beta_p,
                                                   batch.c, types.data, ldc, batch.stride_c, count, types.compute,
                                                   GPUBLAS_GEMM_DEFAULT));
    return;
  }
  // hipBLAS declares the pointer arrays without the inner const that cuBLAS has.
  const void** table = const_cast<const void**>(batch.table);
  JEPA_GPUBLAS_CHECK(gpublasGemmBatchedEx(handle, op_first, op_second, m, n, k, alpha_p, table + count, types.data, ldb,
                                          table, types.data, lda, beta_p, const_cast<void**>(table + 2 * count),
                                          types.data, ldc, count, types.compute, GPUBLAS_GEMM_DEFAULT));
}

}  // namespace jepa::gpu::kernels
