// Device memory for tensors, and the hooks that make Device::cuda() (or hip) usable by the core.
// A caching allocator per device: freed blocks go to free lists keyed by the same size bins as
// host memory (core/allocator.hpp) and are handed out again without a runtime call; the runtime's
// allocator, which synchronises the device, is called only on a miss.
// Invariants:
// - A block is reused only by work on the device's single stream (runtime.cuh), so stream order
//   guarantees the previous user's kernels finished reading and writing it.
// - When an allocation fails, the cache is returned to the device and the allocation retried
//   once before the out-of-memory error is thrown.
// - Copies to and from the host return after the copy is complete: the host buffer may be freed
//   or read immediately. Copies between device buffers are queued on the stream.
#pragma once
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <jepa/backends/gpu/api.hpp>
#include <jepa/backends/gpu/runtime.cuh>
#include <jepa/core/allocator.hpp>

namespace jepa::gpu::kernels {

namespace detail {

class DeviceCachingAllocator {
 public:
  explicit DeviceCachingAllocator(int index) : index_(index) {}

  void* allocate(size_t nbytes) {
    const size_t bin = ::jepa::detail::CpuCachingAllocator::bin_size(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bin);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= bin;
        note_in_use(bin);
        return p;
      }
    }
    activate(index_);
    void* p = nullptr;
    gpuError_t err = gpuMalloc(&p, bin);
    if (err == gpuErrorMemoryAllocation) {
      (void)gpuGetLastError();  // not sticky, but do not let a later check report it
      empty_cache();
      err = gpuMalloc(&p, bin);
    }
    if (err == gpuErrorMemoryAllocation) {
      (void)gpuGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      (void)gpuMemGetInfo(&free_bytes, &total_bytes);  // for the message only
      fail("allocate", "out of memory on ", kBackendName, ":", index_, " allocating ", nbytes, " bytes (",
           stats().in_use_bytes, " bytes held by tensors, ", free_bytes, " of ", total_bytes, " bytes free on the device)");
    }
    JEPA_GPU_CHECK(err);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.device_allocations;
    note_in_use(bin);
    return p;
  }

  // Never touches the runtime: called from Storage's destructor.
  void release(void* p, size_t nbytes) {
    const size_t bin = ::jepa::detail::CpuCachingAllocator::bin_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    free_[bin].push_back(p);
    stats_.cached_bytes += bin;
    stats_.in_use_bytes -= bin;
  }

  // Returns every cached block to the device, after the queued work that may still use them.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_.empty()) return;
    JEPA_GPU_CHECK(gpuStreamSynchronize(activate(index_).stream));
    for (auto& [bin, blocks] : free_)
      for (void* p : blocks) JEPA_GPU_CHECK(gpuFree(p));
    free_.clear();
    stats_.cached_bytes = 0;
  }

  // Makes the peak the current use, to measure the peak of what runs next.
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_in_use_bytes = stats_.in_use_bytes;
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  void note_in_use(size_t bin) {
    stats_.in_use_bytes += bin;
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
  }

  int index_;
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  MemoryStats stats_;
};

}  // namespace detail

// The allocator of device `index` (which must exist).
inline detail::DeviceCachingAllocator& allocator(int index) {
  static std::mutex mutex;
  // Leaked on purpose: tensors may outlive static destructors, and freeing device memory after the
  // runtime has shut down fails.
  static auto* allocators = new std::vector<std::unique_ptr<detail::DeviceCachingAllocator>>();
  context(index);  // validates the index
  std::lock_guard<std::mutex> lock(mutex);
  if (allocators->empty()) allocators->resize(static_cast<size_t>(device_count()));
  auto& slot = (*allocators)[static_cast<size_t>(index)];
  if (!slot) slot = std::make_unique<detail::DeviceCachingAllocator>(index);
  return *slot;
}

inline MemoryStats memory_stats(int index = 0) { return allocator(index).stats(); }
inline void reset_peak_memory(int index) { allocator(index).reset_peak(); }

// Frees the device memory kept for reuse (on every device used so far).
inline void empty_cache() {
  for (int i = 0; i < device_count(); ++i) allocator(i).empty_cache();
}

namespace detail {

inline void copy(void* dst, const void* src, size_t nbytes, int index, decltype(gpuMemcpyHostToDevice) kind,
                 bool with_host) {
  DeviceContext& ctx = activate(index);
  JEPA_GPU_CHECK(gpuMemcpyAsync(dst, src, nbytes, kind, ctx.stream));
  if (with_host) wait(ctx);
}

inline DeviceHooks device_hooks_for_gpu() {
  DeviceHooks h;
  h.allocate = [](size_t n, int index) { return allocator(index).allocate(n); };
  h.release = [](void* p, size_t n, int index) { allocator(index).release(p, n); };
  h.copy_to_host = [](void* d, const void* s, size_t n, int index) { copy(d, s, n, index, gpuMemcpyDeviceToHost, true); };
  h.copy_from_host = [](void* d, const void* s, size_t n, int index) { copy(d, s, n, index, gpuMemcpyHostToDevice, true); };
  h.copy_on_device = [](void* d, const void* s, size_t n, int index) { copy(d, s, n, index, gpuMemcpyDeviceToDevice, false); };
  return h;
}

}  // namespace detail
}  // namespace jepa::gpu::kernels
