// Training checkpoints of a JEPA run: one safetensors file with everything the run needs to go on
// or to be evaluated. docs/checkpoints.md describes the format for programs that read it.
//   tensors   encoder.<name>, predictor.<name>, target_encoder.<name>: the three modules'
//             state_dicts under the official names; optimizer.adamw.<k>.m, .v (group k: 0 the
//             encoder, 1 the predictor, flat) and optimizer.adamw.step: the AdamW state
//   metadata  format: the model kind and format version, "jepa-cpp/<kind>-train/<version>";
//             step: the steps taken (decimal); init_from: the run a warm start began from (absent
//             without one); every other key is a setting of the run, named by the program that
//             trained it (the jepa tool: its flags)
// Saving is atomic (io/atomic_file.hpp): a crash leaves the previous checkpoint in place. Resuming
// restores the modules, the optimizer and the step, so the run continues as if never stopped (the
// schedules are functions of the step); a warm start takes the modules only.
#pragma once
#include <charconv>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <jepa/io/safetensors.hpp>
#include <jepa/models/trainer.hpp>

namespace jepa::models {

// The checkpoint's name in a run directory.
inline constexpr const char* kCheckpointFileName = "checkpoint.safetensors";

// Format tags: a reader refuses another kind, and another version of its own kind, by name.
inline constexpr const char* kIJEPACheckpointFormat = "jepa-cpp/ijepa-train/1";
inline constexpr const char* kVJEPACheckpointFormat = "jepa-cpp/vjepa-train/1";

inline constexpr const char* kEncoderPrefix = "encoder.";
inline constexpr const char* kPredictorPrefix = "predictor.";
inline constexpr const char* kTargetEncoderPrefix = "target_encoder.";
inline constexpr const char* kOptimizerPrefix = "optimizer.";

// Metadata keys of the format itself; the run's settings may use any other.
inline constexpr const char* kFormatKey = "format";
inline constexpr const char* kStepKey = "step";
inline constexpr const char* kInitFromKey = "init_from";

inline std::filesystem::path checkpoint_in(const std::filesystem::path& run_dir) { return run_dir / kCheckpointFileName; }

// What a checkpoint says about its run besides the tensors and the step.
struct CheckpointInfo {
  std::string format;                           // kIJEPACheckpointFormat, kVJEPACheckpointFormat, ...
  std::map<std::string, std::string> settings;  // the run's settings, as its program names them
  std::string init_from;                        // the run a warm start began from; empty for none
};

struct Checkpoint {
  std::filesystem::path path;  // the file it was read from
  CheckpointInfo info;
  int64_t step = 0;
  nn::NamedTensors tensors;  // in file order

  // One module's state_dict: kEncoderPrefix, kPredictorPrefix or kTargetEncoderPrefix.
  nn::NamedTensors module(std::string_view prefix) const { return nn::with_prefix(tensors, prefix); }
};

// Every tensor of a checkpoint, in file order: the three modules, then the optimizer.
inline nn::NamedTensors training_state(const JepaTrainer& trainer) {
  nn::NamedTensors out;
  const std::pair<const char*, const nn::Module*> modules[] = {
      {kEncoderPrefix, &trainer.encoder()},
      {kPredictorPrefix, &trainer.predictor()},
      {kTargetEncoderPrefix, &trainer.target_encoder()}};
  for (const auto& [prefix, module] : modules)
    for (auto& [name, t] : module->state_dict()) out.emplace_back(prefix + name, t);
  for (auto& [name, t] : trainer.optimizer().state_dict()) out.emplace_back(kOptimizerPrefix + name, t);
  return out;
}

// Writes the trainer's state at its current step to `path` atomically.
inline void save_checkpoint(const std::filesystem::path& path, const JepaTrainer& trainer, const CheckpointInfo& info) {
  std::map<std::string, std::string> metadata = info.settings;
  for (const char* key : {kFormatKey, kStepKey, kInitFromKey})
    JEPA_CHECK(!metadata.contains(key), "save_checkpoint", "the run's settings may not use the format's key '", key,
               "' (", path.string(), ")");
  JEPA_CHECK(!info.format.empty(), "save_checkpoint", "no format tag for ", path.string());
  metadata[kFormatKey] = info.format;
  metadata[kStepKey] = std::to_string(trainer.steps_taken());
  if (!info.init_from.empty()) metadata[kInitFromKey] = info.init_from;
  save_safetensors(path, training_state(trainer), metadata);
}

namespace detail {

// "jepa-cpp/ijepa-train/1" -> {"jepa-cpp/ijepa-train", "1"}.
inline std::pair<std::string_view, std::string_view> split_format(std::string_view tag) {
  const size_t slash = tag.rfind('/');
  if (slash == std::string_view::npos) return {tag, {}};
  return {tag.substr(0, slash), tag.substr(slash + 1)};
}

inline int64_t parse_step(const std::string& text, const std::filesystem::path& path) {
  int64_t step = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), step);
  JEPA_CHECK(ec == std::errc() && end == text.data() + text.size() && step >= 0, "checkpoint", path.string(),
             ": its step metadata '", text, "' is not a step number");
  return step;
}

}  // namespace detail

// Reads a checkpoint file, checking that it is of `format` (kind and version).
inline Checkpoint load_checkpoint(const std::filesystem::path& path, std::string_view format) {
  SafeTensors file = load_safetensors(path);
  Checkpoint out;
  out.path = path;
  auto take = [&](const char* key) -> std::optional<std::string> {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end()) return std::nullopt;
    std::string value = std::move(it->second);
    file.metadata.erase(it);
    return value;
  };
  const std::optional<std::string> tag = take(kFormatKey);
  JEPA_CHECK(tag.has_value(), "checkpoint", path.string(), " is not a ", format,
             " checkpoint: its metadata has no format tag");
  if (*tag != format) {
    const auto [kind, version] = detail::split_format(*tag);
    const auto [wanted_kind, wanted_version] = detail::split_format(format);
    JEPA_CHECK(kind != wanted_kind, "checkpoint", path.string(), " is version ", version, " of the ", kind,
               " format; this build reads version ", wanted_version);
    fail("checkpoint", path.string(), " is not a ", format, " checkpoint (its format is ", *tag, ")");
  }
  out.info.format = *tag;
  const std::optional<std::string> step = take(kStepKey);
  JEPA_CHECK(step.has_value(), "checkpoint", path.string(), " records no step in its metadata");
  out.step = detail::parse_step(*step, path);
  out.info.init_from = take(kInitFromKey).value_or("");
  out.info.settings = std::move(file.metadata);
  out.tensors = std::move(file.tensors);
  return out;
}

// The three modules' weights, e.g. of an IJEPA or VJEPA to evaluate.
inline void load_modules(const Checkpoint& checkpoint, nn::Module& encoder, nn::Module& predictor,
                         nn::Module& target_encoder) {
  encoder.load_state_dict(checkpoint.module(kEncoderPrefix));
  predictor.load_state_dict(checkpoint.module(kPredictorPrefix));
  target_encoder.load_state_dict(checkpoint.module(kTargetEncoderPrefix));
}

// Starts a new run from an earlier one's model: the modules' weights; the optimizer and the step
// stay as they are.
inline void warm_start(JepaTrainer& trainer, const Checkpoint& checkpoint) {
  load_modules(checkpoint, trainer.encoder(), trainer.predictor(), trainer.target_encoder());
}

// Continues the run: the modules, the AdamW moments and the step.
inline void resume(JepaTrainer& trainer, const Checkpoint& checkpoint) {
  warm_start(trainer, checkpoint);
  trainer.optimizer().load_state_dict(checkpoint.module(kOptimizerPrefix));
  JEPA_CHECK(trainer.steps_taken() == checkpoint.step, "checkpoint", checkpoint.path.string(), " records step ",
             checkpoint.step, " but its optimizer state is at step ", trainer.steps_taken());
}

}  // namespace jepa::models
