// The one place that spells vendor names. Every other GPU file uses the neutral names below
// (gpu* runtime calls, gpublas* BLAS calls, gpu_bf16/gpu_f16, kWarpSize, shfl_xor, atomic_add,
// launch<kernel>(grid, block, shared bytes, stream, args...) for a kernel launch and
// JEPA_DYNAMIC_SHARED for dynamic shared memory), so the same kernel sources compile with nvcc for
// CUDA, with hipcc for HIP (AMD GPUs), and with g++ for the CPU emulation of a GPU (emulator.hpp,
// chosen by defining JEPA_GPU_EMULATOR; it emulates a CUDA device at JEPA_EMULATED_WARP_SIZE 32
// and a HIP one at 64). Most
// runtime and BLAS names are a vendor prefix plus a stem both vendors share (gpuMalloc is
// cudaMalloc or hipMalloc), so one table at the end serves both; each vendor's section maps the
// few that differ.
// Invariants:
// - kWarpSize is the warp (wavefront) width of the target being compiled, a compile-time constant
//   that device code reads: 32 on NVIDIA and RDNA (gfx10xx, gfx11xx), 64 on CDNA (gfx90a, gfx942).
//   One HIP binary carries code for several targets while its host pass sees none of them, so
//   there kWarpSize is kMinWarpSize; host code therefore never picks a kernel, a template argument
//   or a launch size by kWarpSize, only by kMinWarpSize (lane groups that fit in a warp of every
//   target) or whole blocks. kWarpSize is never larger than the hardware's warp: a smaller value
//   is still correct (groups of kWarpSize lanes reduce inside a wider warp).
// - shfl_xor exchanges within aligned groups of `width` <= kWarpSize lanes. All lanes of each
//   aligned kMinWarpSize group call it together (CUDA names the whole 32-lane warp in its mask);
//   on a 64-lane wavefront the two halves may run different iterations.
// - gpu_bf16/gpu_f16 have the bit layout of jepa::bf16/jepa::f16 (raw 16-bit patterns), so tensor
//   storage is reinterpreted, never converted, when it crosses into kernels; to_bf16 rounds to
//   nearest even like jepa::bf16.
// - JEPA_GPU_BLAS is defined when a vendor BLAS is compiled in: always cuBLAS on CUDA; hipBLAS on
//   HIP only when the build found it and defined JEPA_HIPBLAS (ROCm 6 or newer: the hipDataType
//   API of hipBLAS 2). Without it GEMM runs on the backend's own kernel (gpu/tiled_gemm.cuh).
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>

#include <jepa/core/device.hpp>

namespace jepa::gpu::kernels {
inline constexpr int kMinWarpSize = 32;  // the narrowest warp of any target
}  // namespace jepa::gpu::kernels

#if defined(JEPA_GPU_EMULATOR)

#include <cmath>

#include <jepa/backends/gpu/emulator.hpp>
#include <jepa/core/dtype.hpp>

#define JEPA_GPU_RUNTIME_NAME(stem) ::jepa::gpu::emu::emu##stem
using gpuDeviceProp = ::jepa::gpu::emu::emuDeviceProp;
#define gpuErrorMemoryAllocation ::jepa::gpu::emu::emuErrorMemoryAllocation
#define gpuHostAlloc ::jepa::gpu::emu::emuHostAlloc
#define gpuHostAllocMapped ::jepa::gpu::emu::emuHostAllocMapped
#define JEPA_DYNAMIC_SHARED(type, name) type* name = ::jepa::gpu::emu::dynamic_shared<type>()

namespace jepa::gpu::kernels {

inline constexpr DeviceType kDeviceType = JEPA_EMULATED_WARP_SIZE == 64 ? DeviceType::hip : DeviceType::cuda;
inline constexpr const char* kBackendName = JEPA_EMULATED_WARP_SIZE == 64 ? "hip" : "cuda";
inline constexpr const char* kRuntimePrefix = "emu";
inline constexpr const char* kBlasPrefix = "";  // no vendor BLAS: GEMM runs on the own kernel
inline constexpr const char* kBlasName = "no BLAS";
inline constexpr bool kEmulated = true;
inline constexpr int kWarpSize = emu::kWarpSize;

using gpu_bf16 = ::jepa::bf16;
using gpu_f16 = ::jepa::f16;

inline float to_float(gpu_bf16 v) { return static_cast<float>(v); }
inline float to_float(gpu_f16 v) { return static_cast<float>(v); }
inline gpu_bf16 to_bf16(float v) { return gpu_bf16(v); }
inline gpu_f16 to_f16(float v) { return gpu_f16(v); }

template <class T>
T shfl_xor(T v, int lane_mask, int width) {
  return emu::shfl_xor(v, lane_mask, width);
}

// Blocks run one at a time and their threads take turns, so plain read-modify-writes are atomic.
inline void atomic_add(float* p, float v) { *p += v; }
inline void atomic_add(double* p, double v) { *p += v; }
inline void atomic_add(gpu_bf16* p, float v) { *p = gpu_bf16(static_cast<float>(*p) + v); }
inline int atomicCAS(int* p, int expected, int desired) {
  const int old = *p;
  if (old == expected) *p = desired;
  return old;
}

// Device math as CUDA declares it for device code.
template <class T> inline T min(T a, T b) { return b < a ? b : a; }
template <class T> inline T max(T a, T b) { return a < b ? b : a; }
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
using std::exp, std::log, std::sqrt, std::erf, std::tanh, std::pow, std::ceil, std::abs;

inline size_t shared_memory_per_block_optin(const gpuDeviceProp& props) { return props.sharedMemPerBlockOptin; }

template <auto Kernel, class... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, emu::emuStream_t stream, Args&&... args) {
  emu::enqueue_launch<Kernel>(grid, block, shared_bytes, stream, std::forward<Args>(args)...);
}

}  // namespace jepa::gpu::kernels

#elif defined(__HIPCC__)

#include <hip/hip_bfloat16.h>
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>
#if defined(JEPA_HIPBLAS)
#ifndef HIPBLAS_V2
#define HIPBLAS_V2  // hipDataType and hipblasComputeType_t, as cuBLAS's GemmEx takes them
#endif
#include <hipblas/hipblas.h>
#define JEPA_GPU_BLAS
#endif

// The vendor's spelling of a neutral name (table at the end): prefix plus the common stem.
#define JEPA_GPU_RUNTIME_NAME(stem) hip##stem
#define JEPA_GPU_BLAS_NAME(stem) hipblas##stem
#define JEPA_GPU_BLAS_CONSTANT(stem) HIPBLAS_##stem
#define JEPA_GPU_DATA_TYPE(stem) HIP_##stem
// Names whose stems differ from CUDA's.
using gpuDeviceProp = hipDeviceProp_t;
#define gpuErrorMemoryAllocation hipErrorOutOfMemory
#define gpuHostAlloc hipHostMalloc
#define gpuHostAllocMapped hipHostMallocMapped
#if defined(JEPA_GPU_BLAS)
using gpuDataType_t = hipDataType;
#define gpublasGetStatusName hipblasStatusToString
#define gpublasGetStatusString hipblasStatusToString
#endif

namespace jepa::gpu::kernels {

inline constexpr DeviceType kDeviceType = DeviceType::hip;
inline constexpr const char* kBackendName = "hip";
// What the neutral prefixes gpu* and gpublas* stand for, to name the real call in error messages.
inline constexpr const char* kRuntimePrefix = "hip";
inline constexpr const char* kBlasPrefix = "hipblas";
inline constexpr const char* kBlasName = "hipBLAS";
inline constexpr bool kEmulated = false;

#if defined(__HIP_DEVICE_COMPILE__) && defined(__AMDGCN_WAVEFRONT_SIZE)
inline constexpr int kWarpSize = __AMDGCN_WAVEFRONT_SIZE;
#else
inline constexpr int kWarpSize = kMinWarpSize;
#endif

using gpu_bf16 = hip_bfloat16;
using gpu_f16 = __half;

__device__ inline float to_float(gpu_bf16 v) { return __uint_as_float(uint32_t{v.data} << 16); }
__device__ inline float to_float(gpu_f16 v) { return __half2float(v); }
__device__ inline gpu_bf16 to_bf16(float v) {
  const uint32_t u = __float_as_uint(v);
  gpu_bf16 r;
  if ((u & 0x7fffffffu) > 0x7f800000u) r.data = static_cast<uint16_t>((u >> 16) | 0x40);  // NaN stays quiet
  else r.data = static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  return r;
}
__device__ inline gpu_f16 to_f16(float v) { return __float2half_rn(v); }

// Butterfly exchange within groups of `width` lanes (a power of two not above kWarpSize).
template <class T>
__device__ inline T shfl_xor(T v, int lane_mask, int width) {
  return __shfl_xor(v, lane_mask, width);
}

// Atomic accumulation (scatter_add). HIP has no 16-bit atomics: the bf16 form swaps the aligned
// 32-bit word that holds the value.
__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ inline void atomic_add(gpu_bf16* p, float v) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  unsigned* word = reinterpret_cast<unsigned*>(address & ~uintptr_t{3});
  const unsigned shift = (address & 2u) ? 16u : 0u;
  unsigned seen = *word, expected;
  do {
    expected = seen;
    gpu_bf16 old;
    old.data = static_cast<uint16_t>(expected >> shift);
    const unsigned sum = to_bf16(to_float(old) + v).data;
    seen = atomicCAS(word, expected, (expected & ~(0xffffu << shift)) | (sum << shift));
  } while (seen != expected);
}

// The most dynamic shared memory a block may use. AMD GPUs have no opt-in above the default.
inline size_t shared_memory_per_block_optin(const hipDeviceProp_t& props) { return props.sharedMemPerBlock; }

}  // namespace jepa::gpu::kernels

#else  // CUDA

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define JEPA_GPU_BLAS

#define JEPA_GPU_RUNTIME_NAME(stem) cuda##stem
#define JEPA_GPU_BLAS_NAME(stem) cublas##stem
#define JEPA_GPU_BLAS_CONSTANT(stem) CUBLAS_##stem
#define JEPA_GPU_DATA_TYPE(stem) CUDA_##stem
using gpuDeviceProp = cudaDeviceProp;
#define gpuErrorMemoryAllocation cudaErrorMemoryAllocation
#define gpuHostAlloc cudaHostAlloc
#define gpuHostAllocMapped cudaHostAllocMapped
using gpuDataType_t = cudaDataType_t;
#define gpublasGetStatusName cublasGetStatusName
#define gpublasGetStatusString cublasGetStatusString

namespace jepa::gpu::kernels {

inline constexpr DeviceType kDeviceType = DeviceType::cuda;
inline constexpr const char* kBackendName = "cuda";
inline constexpr const char* kRuntimePrefix = "cuda";
inline constexpr const char* kBlasPrefix = "cublas";
inline constexpr const char* kBlasName = "cuBLAS";
inline constexpr bool kEmulated = false;

inline constexpr int kWarpSize = 32;

using gpu_bf16 = __nv_bfloat16;
using gpu_f16 = __half;

__device__ inline float to_float(gpu_bf16 v) { return __bfloat162float(v); }
__device__ inline float to_float(gpu_f16 v) { return __half2float(v); }
__device__ inline gpu_bf16 to_bf16(float v) { return __float2bfloat16_rn(v); }
__device__ inline gpu_f16 to_f16(float v) { return __float2half_rn(v); }

// Butterfly exchange within groups of `width` lanes (a power of two not above kWarpSize).
template <class T>
__device__ inline T shfl_xor(T v, int lane_mask, int width) {
  return __shfl_xor_sync(0xffffffffu, v, lane_mask, width);
}

// Atomic accumulation (scatter_add). The bf16 form needs sm_80 or newer.
__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }
__device__ inline void atomic_add(gpu_bf16* p, float v) { atomicAdd(p, __float2bfloat16_rn(v)); }

// The most dynamic shared memory a block may use after opting in (gpuFuncSetAttribute).
inline size_t shared_memory_per_block_optin(const cudaDeviceProp& props) { return props.sharedMemPerBlockOptin; }

}  // namespace jepa::gpu::kernels

#endif


// Runtime
using gpuError_t = JEPA_GPU_RUNTIME_NAME(Error_t);
using gpuStream_t = JEPA_GPU_RUNTIME_NAME(Stream_t);
#define gpuSuccess JEPA_GPU_RUNTIME_NAME(Success)
#define gpuGetErrorName JEPA_GPU_RUNTIME_NAME(GetErrorName)
#define gpuGetErrorString JEPA_GPU_RUNTIME_NAME(GetErrorString)
#define gpuGetLastError JEPA_GPU_RUNTIME_NAME(GetLastError)
#define gpuGetDeviceCount JEPA_GPU_RUNTIME_NAME(GetDeviceCount)
#define gpuSetDevice JEPA_GPU_RUNTIME_NAME(SetDevice)
#define gpuGetDeviceProperties JEPA_GPU_RUNTIME_NAME(GetDeviceProperties)
#define gpuMalloc JEPA_GPU_RUNTIME_NAME(Malloc)
#define gpuFree JEPA_GPU_RUNTIME_NAME(Free)
#define gpuHostGetDevicePointer JEPA_GPU_RUNTIME_NAME(HostGetDevicePointer)
#define gpuMemGetInfo JEPA_GPU_RUNTIME_NAME(MemGetInfo)
#define gpuMemcpyAsync JEPA_GPU_RUNTIME_NAME(MemcpyAsync)
#define gpuMemsetAsync JEPA_GPU_RUNTIME_NAME(MemsetAsync)
#define gpuMemcpyHostToDevice JEPA_GPU_RUNTIME_NAME(MemcpyHostToDevice)
#define gpuMemcpyDeviceToHost JEPA_GPU_RUNTIME_NAME(MemcpyDeviceToHost)
#define gpuMemcpyDeviceToDevice JEPA_GPU_RUNTIME_NAME(MemcpyDeviceToDevice)
#define gpuStreamCreateWithFlags JEPA_GPU_RUNTIME_NAME(StreamCreateWithFlags)
#define gpuStreamNonBlocking JEPA_GPU_RUNTIME_NAME(StreamNonBlocking)
#define gpuStreamSynchronize JEPA_GPU_RUNTIME_NAME(StreamSynchronize)
#define gpuFuncSetAttribute JEPA_GPU_RUNTIME_NAME(FuncSetAttribute)
#define gpuFuncAttributeMaxDynamicSharedMemorySize JEPA_GPU_RUNTIME_NAME(FuncAttributeMaxDynamicSharedMemorySize)

// BLAS
#if defined(JEPA_GPU_BLAS)
using gpublasHandle_t = JEPA_GPU_BLAS_NAME(Handle_t);
using gpublasStatus_t = JEPA_GPU_BLAS_NAME(Status_t);
using gpublasOperation_t = JEPA_GPU_BLAS_NAME(Operation_t);
using gpublasComputeType_t = JEPA_GPU_BLAS_NAME(ComputeType_t);
#define GPUBLAS_STATUS_SUCCESS JEPA_GPU_BLAS_CONSTANT(STATUS_SUCCESS)
#define GPUBLAS_OP_N JEPA_GPU_BLAS_CONSTANT(OP_N)
#define GPUBLAS_OP_T JEPA_GPU_BLAS_CONSTANT(OP_T)
#define GPUBLAS_GEMM_DEFAULT JEPA_GPU_BLAS_CONSTANT(GEMM_DEFAULT)
#define GPUBLAS_COMPUTE_32F JEPA_GPU_BLAS_CONSTANT(COMPUTE_32F)
#define GPUBLAS_COMPUTE_32F_FAST_TF32 JEPA_GPU_BLAS_CONSTANT(COMPUTE_32F_FAST_TF32)
#define GPUBLAS_COMPUTE_64F JEPA_GPU_BLAS_CONSTANT(COMPUTE_64F)
#define GPU_R_32F JEPA_GPU_DATA_TYPE(R_32F)
#define GPU_R_64F JEPA_GPU_DATA_TYPE(R_64F)
#define GPU_R_16BF JEPA_GPU_DATA_TYPE(R_16BF)
#define GPU_R_16F JEPA_GPU_DATA_TYPE(R_16F)
#define gpublasCreate JEPA_GPU_BLAS_NAME(Create)
#define gpublasSetStream JEPA_GPU_BLAS_NAME(SetStream)
#define gpublasGemmStridedBatchedEx JEPA_GPU_BLAS_NAME(GemmStridedBatchedEx)
#define gpublasGemmBatchedEx JEPA_GPU_BLAS_NAME(GemmBatchedEx)
#endif

#if !defined(JEPA_GPU_EMULATOR)
#define JEPA_DYNAMIC_SHARED(type, name) extern __shared__ type name[]

namespace jepa::gpu::kernels {
// kernel<<<grid, block, shared_bytes, stream>>>(args...), spelt so that the emulator can take it.
template <auto Kernel, class... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, gpuStream_t stream, Args&&... args) {
  Kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
}
}  // namespace jepa::gpu::kernels
#endif
