// Devices, streams, error checks and launch geometry for the GPU backend.
// Invariants:
// - Each device has exactly one stream, created on first use; every kernel and copy of that
//   device is issued on it, so work is ordered without events and memory freed by one op can be
//   reused by the next (allocator.cuh relies on this).
// - Launches are asynchronous; only copies to or from the host (and explicit synchronize calls)
//   wait for the device.
// - Every runtime call goes through JEPA_GPU_CHECK, every launch through JEPA_GPU_CHECK_LAUNCH:
//   failures throw jepa::Error naming the call, the error, the file and the line.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <jepa/backends/gpu/vendor.hpp>
#include <jepa/core/device.hpp>
#include <jepa/core/error.hpp>

namespace jepa::gpu::kernels {

namespace detail {

// A call as the vendor spells it: "gpuMalloc(&p, n)" -> "cudaMalloc(&p, n)".
inline std::string vendor_spelling(const char* call) {
  const std::string s = call;
  if (s.rfind("gpublas", 0) == 0) return kBlasPrefix + s.substr(7);
  if (s.rfind("gpu", 0) == 0) return kRuntimePrefix + s.substr(3);
  return s;
}

[[noreturn]] inline void runtime_failure(const char* what, gpuError_t err, const char* file, int line) {
  fail(kBackendName, vendor_spelling(what), " failed with ", gpuGetErrorName(err), " (", gpuGetErrorString(err), ") at ",
       file, ":", line);
}

inline void check_launch(const char* kernel, const char* file, int line) {
  const gpuError_t err = gpuGetLastError();
  if (err != gpuSuccess) runtime_failure(::jepa::detail::concat("launch of kernel ", kernel).c_str(), err, file, line);
}

}  // namespace detail

#define JEPA_GPU_CHECK(call)                                                                     \
  do {                                                                                           \
    const gpuError_t jepa_gpu_err_ = (call);                                                     \
    if (jepa_gpu_err_ != gpuSuccess) ::jepa::gpu::kernels::detail::runtime_failure(#call, jepa_gpu_err_, __FILE__, __LINE__); \
  } while (0)

// After a launch<kernel>(...): reports bad launch configurations at once (errors inside the kernel
// surface at the next synchronising call).
#define JEPA_GPU_CHECK_LAUNCH(kernel_name) ::jepa::gpu::kernels::detail::check_launch(kernel_name, __FILE__, __LINE__)

// Why no device can be used, or an empty string when at least one can. Never throws: a machine
// without a driver is a normal situation (tests skip, ops report it when a tensor asks for it).
inline const std::string& unavailable_reason() {
  static const std::string reason = [] {
    int count = 0;
    const gpuError_t err = gpuGetDeviceCount(&count);
    if (err != gpuSuccess) {
      (void)gpuGetLastError();  // clear it so that later checks do not see it
      return ::jepa::detail::concat(detail::vendor_spelling("gpuGetDeviceCount"), " failed with ", gpuGetErrorName(err), " (", gpuGetErrorString(err), ")");
    }
    return count > 0 ? std::string() : std::string("no device found");
  }();
  return reason;
}

inline int device_count() {
  static const int count = [] {
    int n = 0;
    return unavailable_reason().empty() && gpuGetDeviceCount(&n) == gpuSuccess ? n : 0;
  }();
  return count;
}

inline bool available() { return device_count() > 0; }

// A user error that only a kernel can see (an index out of range in gather). Kernels record the
// first one without stopping; the host reports it as jepa::Error the next time it waits for the
// device (wait() below), so launches never block to check. The first reporter wins a device-memory
// flag (atomics on host-mapped memory are not reliable over PCIe), then writes the record with
// plain stores into host-mapped memory, which the host reads after waiting.
struct KernelFault {
  int code;  // kNoFault or kIndexOutOfRange
  int64_t value, dim, size;
};
inline constexpr int kNoFault = 0, kIndexOutOfRange = 1;

struct FaultSink {
  int* claimed;         // device memory, 0 until a kernel reports
  KernelFault* record;  // host-mapped, as kernels address it
};

__device__ inline void report_index_out_of_range(const FaultSink& sink, int64_t value, int64_t dim, int64_t size) {
  if (atomicCAS(sink.claimed, 0, 1) == 0) *sink.record = KernelFault{kIndexOutOfRange, value, dim, size};
}

// What kernels need to know about a device, and its stream.
struct DeviceContext {
  int index = 0;
  gpuStream_t stream = nullptr;
  int multiprocessors = 1;
  size_t shared_memory_per_block = 0;        // what a kernel may use without opting in
  size_t shared_memory_per_block_optin = 0;  // the most it may use after opting in
  FaultSink faults{};                // what kernels write to
  KernelFault* fault_host = nullptr;  // faults.record as the host reads it
};

// Makes `index` the calling thread's current device (a no-op when it already is).
inline void use_device(int index) {
  thread_local int current = -1;
  if (current == index) return;
  JEPA_GPU_CHECK(gpuSetDevice(index));
  current = index;
}

inline DeviceContext& context(int index) {
  static std::mutex mutex;
  // Leaked on purpose, like the allocators (allocator.cuh): tensors released by static destructors
  // still reach their device's stream.
  static auto* all = new std::vector<std::unique_ptr<DeviceContext>>();
  auto& contexts = *all;
  std::lock_guard<std::mutex> lock(mutex);
  if (contexts.empty()) {
    JEPA_CHECK(available(), kBackendName, "no ", kBackendName, " device is available: ", unavailable_reason());
    contexts.resize(static_cast<size_t>(device_count()));
  }
  JEPA_CHECK(index >= 0 && index < device_count(), kBackendName, "device ", kBackendName, ":", index,
             " does not exist (", device_count(), " device(s) found)");
  auto& slot = contexts[static_cast<size_t>(index)];
  if (!slot) {
    use_device(index);
    auto ctx = std::make_unique<DeviceContext>();
    ctx->index = index;
    gpuDeviceProp props;
    JEPA_GPU_CHECK(gpuGetDeviceProperties(&props, index));
    ctx->multiprocessors = props.multiProcessorCount;
    ctx->shared_memory_per_block = props.sharedMemPerBlock;
    ctx->shared_memory_per_block_optin = shared_memory_per_block_optin(props);
    JEPA_GPU_CHECK(gpuStreamCreateWithFlags(&ctx->stream, gpuStreamNonBlocking));
    void* record = nullptr;
    JEPA_GPU_CHECK(gpuHostAlloc(&record, sizeof(KernelFault), gpuHostAllocMapped));
    ctx->fault_host = static_cast<KernelFault*>(record);
    *ctx->fault_host = KernelFault{kNoFault, 0, 0, 0};
    void* record_device = nullptr;
    JEPA_GPU_CHECK(gpuHostGetDevicePointer(&record_device, record, 0));
    ctx->faults.record = static_cast<KernelFault*>(record_device);
    JEPA_GPU_CHECK(gpuMalloc(&ctx->faults.claimed, sizeof(int)));
    JEPA_GPU_CHECK(gpuMemsetAsync(ctx->faults.claimed, 0, sizeof(int), ctx->stream));
    slot = std::move(ctx);
  }
  return *slot;
}

// The context of `index`, made current for the calling thread: what every launcher starts with.
inline DeviceContext& activate(int index) {
  DeviceContext& ctx = context(index);
  use_device(index);
  return ctx;
}

// Waits for the work queued on ctx's stream, then reports a fault a kernel recorded meanwhile.
inline void wait(DeviceContext& ctx) {
  JEPA_GPU_CHECK(gpuStreamSynchronize(ctx.stream));
  volatile KernelFault* f = ctx.fault_host;
  if (f->code == kNoFault) return;
  const int64_t value = f->value, dim = f->dim, size = f->size;
  f->code = kNoFault;
  JEPA_GPU_CHECK(gpuMemsetAsync(ctx.faults.claimed, 0, sizeof(int), ctx.stream));  // ordered before later kernels
  fail("gather", "index ", value, " is out of bounds for dim ", dim, " with size ", size, " (found by a kernel on ",
       kBackendName, ":", ctx.index, "; reported at the next wait for the device)");
}

// Waits for all work queued on the device (default: every device used so far).
inline void synchronize(int index) { wait(activate(index)); }
inline void synchronize() {
  for (int i = 0; i < device_count(); ++i) synchronize(i);
}

// Launch geometry of grid-stride loops over n items: enough blocks to fill the device a few
// times over, never more than the items need.
inline constexpr int kBlockThreads = 256;
inline unsigned grid_for(const DeviceContext& ctx, int64_t n, int threads = kBlockThreads) {
  const int64_t needed = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(needed, int64_t{ctx.multiprocessors} * 16)));
}

}  // namespace jepa::gpu::kernels
