// What every op file needs: the tensor, graph recording, CPU kernels, argument checks, and the one
// place that routes a kernel call to the tensor's device.
#pragma once
#include <jepa/autograd/node.hpp>
#include <jepa/backends/cpu/parallel.hpp>
#include <jepa/backends/cpu/strided.hpp>
#include <jepa/core/tensor.hpp>

// Marks functors that GPU kernels share with the CPU ones.
#if defined(__CUDACC__) || defined(__HIPCC__) || defined(JEPA_GPU_EMULATOR)
#define JEPA_HD __host__ __device__
#else
#define JEPA_HD
#endif

// A translation unit compiled by nvcc (or hipcc) gets the GPU backend and routes GPU tensors to
// it; any other gets no GPU code and reports GPU tensors as unsupported. The library's inline
// functions differ between the two, so every translation unit of one program that includes jepa
// must be compiled the same way (in CMake: LANGUAGE CUDA on each such source of a CUDA build; a
// HIP build compiles every source with hipcc, see docs/gpu.md). JEPA_GPU_EMULATOR gives g++ the
// same backend on the CPU emulation of a GPU (gpu/emulator.hpp).
#if defined(__CUDACC__) || defined(__HIPCC__) || defined(JEPA_GPU_EMULATOR)
#define JEPA_WITH_GPU
#include <jepa/backends/gpu/backend.cuh>
#endif

namespace jepa::detail {

[[noreturn]] inline void no_gpu_backend(const char* op, Device d) {
  fail(op, "tensor is on ", d, " but this translation unit was compiled without a GPU backend "
           "(build it with the cuda or hip preset)");
}

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

// Runs cpu_call on CPU tensors and gpu_call on GPU tensors. When no GPU backend is compiled into
// this translation unit the GPU call is not even parsed, so GPU names need not exist.
#ifdef JEPA_WITH_GPU
#define JEPA_ON_DEVICE(op, device, cpu_call, gpu_call) \
  do {                                                 \
    if ((device).is_cpu()) {                           \
      cpu_call;                                        \
    } else {                                           \
      gpu_call;                                        \
    }                                                  \
  } while (0)
#else
#define JEPA_ON_DEVICE(op, device, cpu_call, gpu_call)  \
  do {                                                  \
    if ((device).is_cpu()) {                            \
      cpu_call;                                         \
    } else {                                            \
      ::jepa::detail::no_gpu_backend(op, device);       \
    }                                                   \
  } while (0)
#endif
