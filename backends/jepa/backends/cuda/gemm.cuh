// Matrix multiply on NVIDIA GPUs through cuBLAS: C[i] = op(A[i]) op(B[i]) + beta * C[i] for a
// batch of row-major matrices at element offsets (the GemmPlan of ops/matmul.hpp).
// Row-major C = op(A) op(B) is computed as the column-major product C^T = op(B)^T op(A)^T, which
// reads every operand in place. A batch whose offsets are evenly spaced (a dense batch, or a
// broadcast operand at stride 0) is one strided-batched call; any other batch passes arrays of
// matrix pointers.
// Precision: f64 in f64; f32 in f32, or TF32 tensor cores when set_allow_tf32(true) (off by
// default, as in PyTorch); bf16 and f16 inputs and outputs with f32 accumulation.
#pragma once
#include <atomic>
#include <climits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <jepa/backends/gpu/elementwise.cuh>

namespace jepa::gpu {

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
      ::jepa::gpu::detail::blas_failure(#call, jepa_blas_status_, __FILE__, __LINE__);                   \
  } while (0)

inline std::atomic<bool>& allow_tf32_flag() {
  static std::atomic<bool> allowed{false};
  return allowed;
}
// Lets f32 matrix multiplies use TF32 tensor cores (10-bit mantissa products, f32 accumulation).
inline void set_allow_tf32(bool allowed) { allow_tf32_flag() = allowed; }
inline bool allow_tf32() { return allow_tf32_flag(); }

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

namespace gemm_detail {

struct Types {
  gpuDataType_t data;
  gpublasComputeType_t compute;
  bool double_scalars;  // alpha and beta are double (f64) or float (the rest)
};

inline Types types_for(DType t) {
  switch (t) {
    case DType::f64: return {GPU_R_64F, GPUBLAS_COMPUTE_64F, true};
    case DType::f32: return {GPU_R_32F, allow_tf32() ? GPUBLAS_COMPUTE_32F_FAST_TF32 : GPUBLAS_COMPUTE_32F, false};
    case DType::bf16: return {GPU_R_16BF, GPUBLAS_COMPUTE_32F, false};
    case DType::f16: return {GPU_R_16F, GPUBLAS_COMPUTE_32F, false};
    default: fail("matmul", "expected f32, f64, bf16 or f16 operands on ", kBackendName, ", got ", t);
  }
}

// The common spacing of offsets, if they are evenly spaced.
inline std::optional<int64_t> even_stride(const std::vector<int64_t>& offsets) {
  const int64_t stride = offsets.size() > 1 ? offsets[1] - offsets[0] : 0;
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] - offsets[i - 1] != stride) return std::nullopt;
  return stride;
}

inline int checked_int(int64_t v, const char* what) {
  JEPA_CHECK(v >= 0 && v <= INT_MAX, "matmul", what, " = ", v, " exceeds the BLAS limit of ", INT_MAX);
  return static_cast<int>(v);
}

}  // namespace gemm_detail

// out = a @ b + beta * out over plan's batch (trans flags, sizes, leading dims and element offsets
// of each matrix from a, b and out's data). Plan is ops/matmul.hpp's GemmPlan.
template <class Plan>
void gemm(const Plan& plan, const Tensor& a, const Tensor& b, const Tensor& out, double beta) {
  const int64_t count = static_cast<int64_t>(plan.c_offsets.size());
  if (count == 0 || plan.M == 0 || plan.N == 0) return;
  using gemm_detail::checked_int;
  const gemm_detail::Types types = gemm_detail::types_for(out.dtype());
  const gpublasHandle_t handle = blas_handle(out.device().index);
  const double alpha_d = 1.0, beta_d = beta;
  const float alpha_f = 1.0f, beta_f = static_cast<float>(beta);
  const void* alpha = types.double_scalars ? static_cast<const void*>(&alpha_d) : &alpha_f;
  const void* beta_p = types.double_scalars ? static_cast<const void*>(&beta_d) : &beta_f;
  // Column-major view: C^T (N x M) = op(B)^T (N x K) op(A)^T (K x M).
  const gpublasOperation_t op_first = plan.trans_b ? GPUBLAS_OP_T : GPUBLAS_OP_N;
  const gpublasOperation_t op_second = plan.trans_a ? GPUBLAS_OP_T : GPUBLAS_OP_N;
  const int m = checked_int(plan.N, "N"), n = checked_int(plan.M, "M"), k = checked_int(plan.K, "K");
  const int ldb = checked_int(plan.ldb, "ldb"), lda = checked_int(plan.lda, "lda"), ldc = checked_int(plan.ldc, "ldc");
  const size_t item = itemsize(out.dtype());
  const char* a_base = static_cast<const char*>(a.raw_data());
  const char* b_base = static_cast<const char*>(b.raw_data());
  char* c_base = static_cast<char*>(out.raw_data());
  const auto sa = gemm_detail::even_stride(plan.a_offsets), sb = gemm_detail::even_stride(plan.b_offsets),
             sc = gemm_detail::even_stride(plan.c_offsets);
  if (sa && sb && sc) {
    JEPA_GPUBLAS_CHECK(gpublasGemmStridedBatchedEx(
        handle, op_first, op_second, m, n, k, alpha, b_base + plan.b_offsets[0] * item, types.data, ldb, *sb,
        a_base + plan.a_offsets[0] * item, types.data, lda, *sa, beta_p, c_base + plan.c_offsets[0] * item, types.data,
        ldc, *sc, checked_int(count, "batch"), types.compute, GPUBLAS_GEMM_DEFAULT));
    return;
  }
  // Pointer arrays: first operands, second operands, outputs; the host copy is staged by the
  // runtime before the call returns, so the vector may go away right after.
  std::vector<const void*> pointers(static_cast<size_t>(3 * count));
  for (int64_t i = 0; i < count; ++i) {
    pointers[i] = b_base + plan.b_offsets[i] * item;
    pointers[count + i] = a_base + plan.a_offsets[i] * item;
    pointers[2 * count + i] = c_base + plan.c_offsets[i] * item;
  }
  const Tensor device_pointers = Tensor::empty({3 * count}, DType::i64, out.device());
  const DeviceContext& ctx = activate(out.device().index);
  JEPA_GPU_CHECK(gpuMemcpyAsync(device_pointers.raw_data(), pointers.data(), pointers.size() * sizeof(void*),
                                gpuMemcpyHostToDevice, ctx.stream));
  const void* const* arrays = static_cast<const void* const*>(device_pointers.raw_data());
  JEPA_GPUBLAS_CHECK(gpublasGemmBatchedEx(handle, op_first, op_second, m, n, k, alpha, arrays, types.data, ldb,
                                          arrays + count, types.data, lda, beta_p,
                                          const_cast<void* const*>(arrays + 2 * count), types.data, ldc,
                                          checked_int(count, "batch"), types.compute, GPUBLAS_GEMM_DEFAULT));
}

}  // namespace jepa::gpu
