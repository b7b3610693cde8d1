// The --device flag of every `jepa` command: where the models, batches and probes live. Data is
// made on the host and copied over; results come back to the host for printing and saving, and
// checkpoints hold host tensors only, so a run resumes or is probed on any device.
#pragma once
#include <string>

#include <CLI/CLI.hpp>
#include <jepa/core/tensor.hpp>

namespace jepa::tool {

inline void add_device_flag(CLI::App* cmd, std::string& device) {
  cmd->add_option("--device", device, "where to compute: cpu, cuda, cuda:N, hip or hip:N")->capture_default_str();
}

// The preset whose build serves a GPU device type.
inline std::string preset_for(DeviceType type) {
  return type == DeviceType::cuda ? "the `cuda` preset (or `emu`, the CPU emulation of a CUDA GPU)" : "the `hip` preset";
}

// The device a --device flag names, checked usable before the command writes anything.
inline Device use_device(const std::string& name, const char* command) {
  Device device;
  try {
    device = parse_device(name);
  } catch (const Error& e) {
    fail(command, "--device: ", e.what());
  }
  JEPA_CHECK(device_hooks(device.type).allocate != nullptr, command, "--device ", name,
             ": this jepa was built without the ", device_type_name(device.type), " backend; ",
             preset_for(device.type), " builds it");
  Tensor::empty({1}, DType::f32, device);  // an index this machine lacks fails here, with the backend's message
  return device;
}

// A batch's mask index tensors, copied to `device`.
inline std::vector<Tensor> to_device(const std::vector<Tensor>& tensors, Device device) {
  std::vector<Tensor> out;
  out.reserve(tensors.size());
  for (const Tensor& t : tensors) out.push_back(t.to(device));
  return out;
}

}  // namespace jepa::tool
