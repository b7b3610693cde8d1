// The one place that spells vendor names. Every other GPU file uses the neutral names below
// (gpu* runtime calls, gpublas* BLAS calls, gpu_bf16/gpu_f16, kWarpSize, shfl_xor), so the same
// kernel sources compile with nvcc for CUDA and, once its branch is filled, with hipcc for HIP.
// Invariants:
// - kWarpSize is a compile-time constant of the target being compiled; kernels never assume 32.
// - gpu_bf16/gpu_f16 have the bit layout of jepa::bf16/jepa::f16 (raw 16-bit patterns), so tensor
//   storage is reinterpreted, never converted, when it crosses into kernels.
#pragma once

#if defined(__HIPCC__)
#error "jepa: the HIP mapping of backends/jepa/backends/gpu/vendor.hpp is provided by the HIP backend"
#else

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <jepa/core/device.hpp>

namespace jepa::gpu {

inline constexpr DeviceType kDeviceType = DeviceType::cuda;
inline constexpr const char* kBackendName = "cuda";
// What the neutral prefixes gpu* and gpublas* stand for, to name the real call in error messages.
inline constexpr const char* kRuntimePrefix = "cuda";
inline constexpr const char* kBlasPrefix = "cublas";
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

}  // namespace jepa::gpu

// Runtime
using gpuError_t = cudaError_t;
using gpuStream_t = cudaStream_t;
using gpuEvent_t = cudaEvent_t;
using gpuDeviceProp = cudaDeviceProp;
#define gpuSuccess cudaSuccess
#define gpuErrorNoDevice cudaErrorNoDevice
#define gpuErrorInsufficientDriver cudaErrorInsufficientDriver
#define gpuErrorMemoryAllocation cudaErrorMemoryAllocation
#define gpuGetErrorName cudaGetErrorName
#define gpuGetErrorString cudaGetErrorString
#define gpuGetLastError cudaGetLastError
#define gpuGetDeviceCount cudaGetDeviceCount
#define gpuGetDevice cudaGetDevice
#define gpuSetDevice cudaSetDevice
#define gpuGetDeviceProperties cudaGetDeviceProperties
#define gpuDeviceSynchronize cudaDeviceSynchronize
#define gpuMalloc cudaMalloc
#define gpuFree cudaFree
#define gpuHostAlloc cudaHostAlloc
#define gpuHostAllocMapped cudaHostAllocMapped
#define gpuHostGetDevicePointer cudaHostGetDevicePointer
#define gpuFreeHost cudaFreeHost
#define gpuMemGetInfo cudaMemGetInfo
#define gpuMemcpyAsync cudaMemcpyAsync
#define gpuMemsetAsync cudaMemsetAsync
#define gpuMemcpyHostToDevice cudaMemcpyHostToDevice
#define gpuMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define gpuMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define gpuStreamCreateWithFlags cudaStreamCreateWithFlags
#define gpuStreamNonBlocking cudaStreamNonBlocking
#define gpuStreamSynchronize cudaStreamSynchronize
#define gpuEventCreate cudaEventCreate
#define gpuEventDestroy cudaEventDestroy
#define gpuEventRecord cudaEventRecord
#define gpuEventSynchronize cudaEventSynchronize
#define gpuEventElapsedTime cudaEventElapsedTime
#define gpuFuncSetAttribute cudaFuncSetAttribute
#define gpuFuncAttributeMaxDynamicSharedMemorySize cudaFuncAttributeMaxDynamicSharedMemorySize

// BLAS
using gpublasHandle_t = cublasHandle_t;
using gpublasStatus_t = cublasStatus_t;
using gpublasOperation_t = cublasOperation_t;
using gpuDataType_t = cudaDataType_t;
using gpublasComputeType_t = cublasComputeType_t;
#define GPUBLAS_STATUS_SUCCESS CUBLAS_STATUS_SUCCESS
#define GPUBLAS_OP_N CUBLAS_OP_N
#define GPUBLAS_OP_T CUBLAS_OP_T
#define GPUBLAS_GEMM_DEFAULT CUBLAS_GEMM_DEFAULT
#define GPUBLAS_COMPUTE_32F CUBLAS_COMPUTE_32F
#define GPUBLAS_COMPUTE_32F_FAST_TF32 CUBLAS_COMPUTE_32F_FAST_TF32
#define GPUBLAS_COMPUTE_64F CUBLAS_COMPUTE_64F
#define GPU_R_32F CUDA_R_32F
#define GPU_R_64F CUDA_R_64F
#define GPU_R_16BF CUDA_R_16BF
#define GPU_R_16F CUDA_R_16F
#define gpublasCreate cublasCreate
#define gpublasDestroy cublasDestroy
#define gpublasSetStream cublasSetStream
#define gpublasSetWorkspace cublasSetWorkspace
#define gpublasGetStatusName cublasGetStatusName
#define gpublasGetStatusString cublasGetStatusString
#define gpublasGemmEx cublasGemmEx
#define gpublasGemmStridedBatchedEx cublasGemmStridedBatchedEx
#define gpublasGemmBatchedEx cublasGemmBatchedEx

#endif
