// Where a tensor's storage lives. A runtime value, as in PyTorch, so models move between devices
// without recompiling. GPU backends register themselves in core/allocator.hpp when compiled in.
#pragma once
#include <ostream>

namespace jepa {

enum class DeviceType : uint8_t { cpu, cuda, hip };
inline constexpr int kDeviceTypes = 3;

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::cpu, 0}; }
  static constexpr Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  static constexpr Device hip(int i = 0) { return {DeviceType::hip, i}; }

  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_gpu() const { return type != DeviceType::cpu; }
  friend bool operator==(const Device& a, const Device& b) { return a.type == b.type && a.index == b.index; }
};

inline const char* device_type_name(DeviceType t) {
  switch (t) {
    case DeviceType::cpu: return "cpu";
    case DeviceType::cuda: return "cuda";
    case DeviceType::hip: return "hip";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, const Device& d) {
  os << device_type_name(d.type);
  if (d.is_gpu()) os << ':' << d.index;
  return os;
}

}  // namespace jepa
