// A GEMM batch as both implementations take it (blas_gemm.cuh, tiled_gemm.cuh): where matrix i of
// A, B and C starts, from the element offsets of ops/matmul.hpp's GemmPlan.
// Invariants:
// - Evenly spaced offsets (a dense batch, or a broadcast operand at stride 0) become matrix 0 plus
//   a stride per operand, with nothing on the device.
// - Any other batch gets a device table of 3 x count pointers (A's, then B's, then C's), uploaded
//   before gemm_batch returns (a copy from pageable host memory is staged by the runtime before
//   the call returns, on CUDA and HIP) into the caller's buffer (api.hpp's gemm), which it frees
//   after the call; its memory is reused only by work queued later on the same stream
//   (allocator.cuh), after the GEMM.
#pragma once
#include <vector>

#include <jepa/backends/gpu/elementwise.cuh>

namespace jepa::gpu::kernels {

struct GemmBatch {
  int64_t count = 0;
  const void* a = nullptr;  // matrix 0 of each operand
  const void* b = nullptr;
  void* c = nullptr;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // in elements, when table is null
  const void* const* table = nullptr;                 // (3 * count) device pointers, or null
};

// The batch of plan over the data of a, b and out (one dtype); pointer_table holds 3 x count
// pointers when the offsets are not evenly spaced (api.hpp's gemm allocates it).
inline GemmBatch gemm_batch(const DeviceContext& ctx, const GemmPlan& plan, const View& a, const View& b, const View& out,
                            const View& pointer_table) {
  using ::jepa::gpu::detail::even_stride;
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
  JEPA_CHECK(pointer_table.numel() == 3 * batch.count && pointer_table.dtype() == DType::i64, "matmul",
             "the caller's pointer table does not hold 3 x ", batch.count, " pointers");
  JEPA_GPU_CHECK(gpuMemcpyAsync(pointer_table.raw_data(), pointers.data(), pointers.size() * sizeof(void*),
                                gpuMemcpyHostToDevice, ctx.stream));
  batch.table = static_cast<const void* const*>(pointer_table.raw_data());
  return batch;
}

}  // namespace jepa::gpu::kernels
