// A GEMM batch as both implementations take it (blas_gemm.cuh, tiled_gemm.cuh): where matrix i of
// A, B and C starts, from the element offsets of ops/matmul.hpp's GemmPlan.
// Invariants:
// - Evenly spaced offsets (a dense batch, or a broadcast operand at stride 0) become matrix 0 plus
//   a stride per operand, with nothing on the device.
// - Any other batch gets a device table of 3 x count pointers (A's, then B's, then C's), uploaded
//   before gemm_batch returns (a copy from pageable host memory is staged by the runtime before
//   the call returns, on CUDA and HIP) and kept alive by `table_storage`; once freed, its memory is
//   reused only by work queued later on the same stream (allocator.cuh), after the GEMM.
#pragma once
#include <vector>

#include <jepa/backends/gpu/elementwise.cuh>

namespace jepa::gpu {

struct GemmBatch {
  int64_t count = 0;
  const void* a = nullptr;  // matrix 0 of each operand
  const void* b = nullptr;
  void* c = nullptr;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // in elements, when table is null
  const void* const* table = nullptr;                 // (3 * count) device pointers, or null
  Tensor table_storage;
};

namespace gemm_batch_detail {

// The common spacing of offsets, if they are evenly spaced.
inline bool even_stride(const std::vector<int64_t>& offsets, int64_t& stride) {
  stride = offsets.size() > 1 ? offsets[1] - offsets[0] : 0;
  for (size_t i = 1; i < offsets.size(); ++i)
    if (offsets[i] - offsets[i - 1] != stride) return false;
  return true;
}

}  // namespace gemm_batch_detail

// The batch of plan over the data of a, b and out (one dtype).
template <class Plan>
GemmBatch gemm_batch(const DeviceContext& ctx, const Plan& plan, const Tensor& a, const Tensor& b, const Tensor& out) {
  using gemm_batch_detail::even_stride;
  GemmBatch batch;
  batch.count = static_cast<int64_t>(plan.c_offsets.size());
  if (batch.count == 0) return batch;
  const size_t item = itemsize(out.dtype());
  const char* a_base = static_cast<const char*>(a.raw_data());
  const char* b_base = static_cast<const char*>(b.raw_data());
  char* c_base = static_cast<char*>(out.raw_data());
  batch.a = a_base + plan.a_offsets[0] * item;
  batch.b = b_base + plan.b_offsets[0] * item;
  batch.c = c_base + plan.c_offsets[0] * item;
  if (even_stride(plan.a_offsets, batch.stride_a) && even_stride(plan.b_offsets, batch.stride_b) &&
      even_stride(plan.c_offsets, batch.stride_c))
    return batch;
  const size_t count = static_cast<size_t>(batch.count);
  std::vector<const void*> pointers(3 * count);
  for (size_t i = 0; i < count; ++i) {
    pointers[i] = a_base + plan.a_offsets[i] * item;
    pointers[count + i] = b_base + plan.b_offsets[i] * item;
    pointers[2 * count + i] = c_base + plan.c_offsets[i] * item;
  }
  static_assert(sizeof(void*) == sizeof(int64_t));
  batch.table_storage = Tensor::empty({3 * batch.count}, DType::i64, out.device());
  JEPA_GPU_CHECK(gpuMemcpyAsync(batch.table_storage.raw_data(), pointers.data(), pointers.size() * sizeof(void*),
                                gpuMemcpyHostToDevice, ctx.stream));
  batch.table = static_cast<const void* const*>(batch.table_storage.raw_data());
  return batch;
}

}  // namespace jepa::gpu
