// What every op file needs: the tensor, graph recording, CPU kernels, the GPU boundary
// (gpu/api.hpp), argument checks, and the one place that routes a kernel call to the tensor's
// device.
#pragma once
#include <jepa/autograd/node.hpp>
#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/backends/cpu/strided.hpp>
#include <jepa/backends/gpu/api.hpp>
#include <jepa/core/tensor.hpp>

// Marks the functors that GPU kernels share with the CPU ones, for nvcc and for clang in HIP mode
// (the emulator's g++ needs no mark). Only gpu/implementation.hpp's translation unit runs them on a
// GPU.
#if defined(__CUDACC__) || defined(__HIP__)
#define JEPA_HD __host__ __device__
#else
#define JEPA_HD
#endif

namespace jepa::detail {

inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  JEPA_CHECK(a.device() == b.device(), op, "expected tensors on the same device, got ", a.device(), " and ",
             b.device());
}

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  JEPA_CHECK(a.dtype() == b.dtype(), op, "expected tensors of the same dtype, got ", a.dtype(), " and ",
             b.dtype());
}

inline void check_defined(const char* op, const Tensor& t, const char* what = "input") {
  JEPA_CHECK(t.defined(), op, what, " tensor is undefined");
}

}  // namespace jepa::detail

// Runs cpu_call on CPU tensors and gpu_call (a gpu/api.hpp function) on GPU tensors. The same in
// every translation unit: a program without a GPU implementation fails in gpu_call, naming it.
#define JEPA_ON_DEVICE(device, cpu_call, gpu_call)       \
  do {                                                 \
    if ((device).is_cpu()) {                           \
      cpu_call;                                        \
    } else {                                           \
      gpu_call;                                        \
    }                                                  \
  } while (0)
