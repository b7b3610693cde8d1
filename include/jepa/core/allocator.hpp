// Memory for tensor storage, per device type.
// The CPU side is a caching allocator: freed blocks go to size-binned free lists and are reused,
// because fresh large allocations come from mmap and pay a page fault per 4 KiB on first touch,
// which costs more than many of the kernels that use them. Bins are the size rounded up to 1/8
// of its power of two, so at most 12.5% is wasted. It counts the bytes in use (in bins) and their
// peak, for measuring the memory an op or a training step needs. GPU backends plug their own allocator and copy
// functions into `device_hooks` when their header is compiled in.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include <jepa/core/device.hpp>
#include <jepa/core/error.hpp>

namespace jepa {

// What a backend provides for its device type. Copies are synchronous from the caller's view.
struct DeviceHooks {
  void* (*allocate)(size_t nbytes, int index) = nullptr;
  void (*release)(void* ptr, size_t nbytes, int index) = nullptr;
  void (*copy_to_host)(void* dst, const void* src, size_t nbytes, int index) = nullptr;
  void (*copy_from_host)(void* dst, const void* src, size_t nbytes, int index) = nullptr;
  void (*copy_on_device)(void* dst, const void* src, size_t nbytes, int index) = nullptr;
};

namespace detail {

class CpuCachingAllocator {
 public:
  static constexpr size_t kAlignment = 64;

  static CpuCachingAllocator& instance() {
    static auto* a = new CpuCachingAllocator();  // leaked on purpose: tensors may outlive static destructors
    return *a;
  }

  void* allocate(size_t nbytes) {
    const size_t bin = bin_size(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(bin);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes_ -= bin;
        count_in_use(bin);
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, bin);
    if (!p) {
      empty_cache();
      p = std::aligned_alloc(kAlignment, bin);
    }
    if (!p) fail("allocate", "out of host memory allocating ", nbytes, " bytes");
    count_in_use(bin);
    return p;
  }

  void release(void* p, size_t nbytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t bin = bin_size(nbytes);
    free_[bin].push_back(p);
    cached_bytes_ += bin;
    in_use_bytes_ -= bin;
  }

  // Returns every cached block to the system.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bin, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    cached_bytes_ = 0;
  }

  size_t cached_bytes() const { return cached_bytes_; }
  size_t in_use_bytes() const { return in_use_bytes_; }
  size_t peak_in_use_bytes() const { return peak_in_use_bytes_; }
  void reset_peak() { peak_in_use_bytes_ = in_use_bytes_.load(); }

  static size_t bin_size(size_t n) {
    if (n <= kAlignment) return kAlignment;
    size_t pow2 = kAlignment;
    while (pow2 < n) pow2 <<= 1;
    const size_t step = pow2 / 16 < kAlignment ? kAlignment : pow2 / 16;  // 1/8 of the lower power of two
    return (n + step - 1) / step * step;
  }

 private:
  void count_in_use(size_t bin) {
    const size_t now = in_use_bytes_ += bin;
    size_t peak = peak_in_use_bytes_.load();
    while (now > peak && !peak_in_use_bytes_.compare_exchange_weak(peak, now)) {
    }
  }

  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_bytes_ = 0;
  std::atomic<size_t> in_use_bytes_{0}, peak_in_use_bytes_{0};
};

inline DeviceHooks cpu_hooks() {
  DeviceHooks h;
  h.allocate = [](size_t n, int) { return CpuCachingAllocator::instance().allocate(n); };
  h.release = [](void* p, size_t n, int) { CpuCachingAllocator::instance().release(p, n); };
  h.copy_to_host = [](void* d, const void* s, size_t n, int) { std::memcpy(d, s, n); };
  h.copy_from_host = [](void* d, const void* s, size_t n, int) { std::memcpy(d, s, n); };
  h.copy_on_device = [](void* d, const void* s, size_t n, int) { std::memcpy(d, s, n); };
  return h;
}

}  // namespace detail

// The hooks of each device type; the CPU entry is always filled, GPU entries when compiled in.
inline DeviceHooks& device_hooks(DeviceType t) {
  static DeviceHooks hooks[kDeviceTypes] = {detail::cpu_hooks(), {}, {}};
  return hooks[static_cast<int>(t)];
}

inline const DeviceHooks& require_device(Device d, const char* op) {
  const DeviceHooks& h = device_hooks(d.type);
  JEPA_CHECK(h.allocate != nullptr, op, "device ", d, " is not available: this program was built without the ",
             device_type_name(d.type), " backend (see README: GPU presets)");
  return h;
}

// Frees the host memory the CPU allocator keeps for reuse.
inline void empty_cpu_cache() { detail::CpuCachingAllocator::instance().empty_cache(); }

// Bytes of host memory held by live tensors (rounded up to the allocator's bins), and the most
// held at once since the last reset_cpu_memory_peak().
inline size_t cpu_memory_in_use() { return detail::CpuCachingAllocator::instance().in_use_bytes(); }
inline size_t cpu_memory_peak() { return detail::CpuCachingAllocator::instance().peak_in_use_bytes(); }
inline void reset_cpu_memory_peak() { detail::CpuCachingAllocator::instance().reset_peak(); }

// A block of device memory, released to its allocator when the last tensor using it goes away.
class Storage {
 public:
  Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
    const DeviceHooks& h = require_device(device, "allocate");
    data_ = nbytes ? h.allocate(nbytes, device.index) : nullptr;
  }
  ~Storage() {
    if (data_) device_hooks(device_.type).release(data_, nbytes_, device_.index);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_;
  Device device_;
};

}  // namespace jepa
