// Loading a module's weights from a safetensors file the user names, for the commands that read
// official-name weights (`jepa embed`, `jepa ac-predict`): every tensor must be there with the
// module's shape and a float dtype, and the file (under the prefix) must hold nothing else, so a
// deeper or wider model's weights are an error naming the file and the tensors, not a partial load.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <jepa/io/safetensors.hpp>
#include <jepa/nn/module.hpp>

namespace jepa::tool {

// 'a', 'b', 'c', 'd' and 3 more
inline std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 4;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > kShown) out += jepa::detail::concat(" and ", names.size() - kShown, " more");
  return out;
}

// Where the weights come from and what they are for, as the errors name them.
struct WeightsSource {
  const char* command;      // e.g. "embed"
  std::string path;         // the file
  std::string prefix;       // the names inside the file are prefix + the module's own
  std::string description;  // e.g. "vit_tiny encoder"
  std::string missing_hint;  // appended when tensors are missing, e.g. the prefixes the file does have
};

// Copies prefix + <name> of every tensor of `module` from `file` (any float dtype, converted to the
// module's).
inline void load_weights(nn::Module& module, const SafeTensors& file, const WeightsSource& source) {
  const std::string& prefix = source.prefix;
  std::map<std::string, Tensor> stored;
  for (auto& [name, t] : nn::with_prefix(file.tensors, prefix)) stored.emplace(std::move(name), std::move(t));
  const nn::NamedTensors wanted = module.state_dict();
  nn::NamedTensors state;
  std::vector<std::string> missing;
  for (const auto& [name, t] : wanted) {
    const auto it = stored.find(name);
    if (it == stored.end()) {
      missing.push_back(prefix + name);
      continue;
    }
    const Tensor& tensor = it->second;
    JEPA_CHECK(tensor.shape() == t.shape(), source.command, "weights file ", source.path, " has '", prefix + name,
               "' of shape ", tensor.shape(), ", the ", source.description, " expects ", t.shape());
    JEPA_CHECK(is_floating(tensor.dtype()), source.command, "weights file ", source.path, " has '", prefix + name,
               "' of dtype ", tensor.dtype(), ", expected a float type");
    state.emplace_back(name, tensor);
    stored.erase(it);
  }
  JEPA_CHECK(missing.empty(), source.command, "weights file ", source.path, " lacks ", missing.size(), " of the ",
             wanted.size(), " tensors of the ", source.description, ": ", name_list(missing), source.missing_hint);
  std::vector<std::string> unused;
  for (const auto& [name, t] : stored) unused.push_back(prefix + name);
  JEPA_CHECK(unused.empty(), source.command, "weights file ", source.path, " has ", unused.size(), " tensors the ",
             source.description, " does not have: ", name_list(unused), " (weights of another model size?)");
  module.load_state_dict(state);
}

}  // namespace jepa::tool
