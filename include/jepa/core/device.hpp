// Where a tensor's storage lives. A runtime value, as in PyTorch, so models move between devices
// without recompiling. GPU backends register themselves in core/allocator.hpp when compiled in.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include <jepa/core/error.hpp>

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

// A device from its name as users write it: "cpu", "cuda", "cuda:N", "hip" or "hip:N" (index 0
// when none is given).
inline Device parse_device(const std::string& name) {
  const size_t colon = name.find(':');
  const std::string type = name.substr(0, colon);
  const std::string index = colon == std::string::npos ? std::string() : name.substr(colon + 1);
  const bool digits = !index.empty() && index.size() <= 9 && index.find_first_not_of("0123456789") == std::string::npos;
  if (type == "cpu" && colon == std::string::npos) return Device::cpu();
  if ((type == "cuda" || type == "hip") && (colon == std::string::npos || digits)) {
    const int i = digits ? std::stoi(index) : 0;
    return type == "cuda" ? Device::cuda(i) : Device::hip(i);
  }
  fail("parse_device", "'", name, "' is not a device; expected cpu, cuda, cuda:N, hip or hip:N");
}

}  // namespace jepa
