// `jepa init` and `jepa embed`: I-JEPA encoder weights as safetensors under the official parameter
// names (pos_embed, patch_embed.proj.weight as (D, C, p, p), blocks.i.*, norm.*), so weights move
// between jepa-cpp and the official code; tools/convert_ijepa_checkpoint.py turns an official
// .pth.tar checkpoint into such a file.
//   jepa init  --model vit_tiny --patch 4 --img 28 --channels 1 [--depth L] --seed S --out W.safetensors
//   jepa embed [--model M --patch P --img I --channels C --depth L] --weights W.safetensors
//              [--prefix target_encoder.] --input X.npy --out Y.npy [--batch-size B]
// A weights file's metadata records model, patch, img, channels and depth (train-ijepa checkpoints
// use the same keys, so `embed --prefix target_encoder.` reads them directly): embed takes every
// flag it is not given from there and refuses flags that contradict it. The embeddings are the encoder's
// tokens after its final LayerNorm, (N, tokens, D) float32, unpooled (evaluations pool outside).
// init draws the official training initialisation (ijepa src/helper.py init_model): trunc-normal
// std 0.02 on every Linear and on the patch projection, zero biases, unit LayerNorms, and no
// sqrt(2 l) residual rescale, because init_model re-draws the Linears after the model applied it.
#include <iostream>
#include <map>
#include <memory>
#include <type_traits>
#include <string>
#include <vector>

#include <jepa/io/npy.hpp>
#include <jepa/io/safetensors.hpp>
#include <jepa/models/vit.hpp>

#include "commands.hpp"
#include "device_flag.hpp"
#include "weights_file.hpp"

namespace jepa::tool {
namespace {

// What fixes an encoder's shapes; 0 or "" means "not given". depth 0 keeps the model's own
// depth (train-ijepa's --depth overrides it, and its checkpoints record it under the same key).
struct EncoderSpec {
  std::string model;
  int64_t patch = 0, img = 0, channels = 0, depth = 0;
};

models::ViTConfig encoder_config(const EncoderSpec& spec) {
  models::ViTConfig config = models::vit_config(spec.model, spec.img, spec.patch, spec.channels);
  if (spec.depth > 0) config.depth = spec.depth;
  config.rescale_residual_init = false;
  return config;
}

std::map<std::string, std::string> spec_metadata(const EncoderSpec& spec) {
  return {{"model", spec.model},
          {"patch", std::to_string(spec.patch)},
          {"img", std::to_string(spec.img)},
          {"channels", std::to_string(spec.channels)},
          {"depth", std::to_string(spec.depth)}};
}

// Fills the fields the user left out from the file's metadata; a given field must agree with it.
// Only depth may be missing from both (the model's own depth then).
EncoderSpec resolve_spec(EncoderSpec spec, const std::map<std::string, std::string>& metadata,
                         const std::string& path) {
  auto resolve = [&](const char* key, auto& value, auto parse) {
    const auto it = metadata.find(key);
    const bool given = value != std::remove_reference_t<decltype(value)>{};
    if (it == metadata.end()) {
      JEPA_CHECK(given || std::string(key) == "depth", "embed", "weights file ", path, " does not record '", key,
                 "' in its metadata: pass --", key);
      return;
    }
    const auto recorded = parse(it->second);
    JEPA_CHECK(!given || value == recorded, "embed", "weights file ", path, " was written for --", key, " ",
               it->second, ", got --", key, " ", value);
    value = recorded;
  };
  const auto as_int = [&](const std::string& text) {
    try {
      return static_cast<int64_t>(std::stoll(text));
    } catch (const std::exception&) {
      fail("embed", "weights file ", path, " has a non-integer metadata value '", text, "'");
    }
  };
  resolve("model", spec.model, [](const std::string& text) { return text; });
  resolve("patch", spec.patch, as_int);
  resolve("img", spec.img, as_int);
  resolve("channels", spec.channels, as_int);
  resolve("depth", spec.depth, as_int);
  return spec;
}

// The prefixes under which the file stores a whole encoder (those of its '*pos_embed' tensors),
// offered when the names the model needs are not there.
std::string prefix_hint(const SafeTensors& file) {
  std::vector<std::string> prefixes;
  const std::string leaf = "pos_embed";
  for (const auto& [name, t] : file.tensors) {
    const size_t size = name.size();
    if (size > leaf.size() && name.compare(size - leaf.size(), leaf.size(), leaf) == 0 &&
        name[size - leaf.size() - 1] == '.')
      prefixes.push_back(name.substr(0, size - leaf.size()));
  }
  return prefixes.empty() ? "" : "; it has encoders under --prefix " + name_list(prefixes);
}

struct InitOptions {
  EncoderSpec spec;
  uint64_t seed = 0;
  std::string out, device = "cpu";
};

// The weights are drawn on the host, so every --device writes the same file.
void run_init(const InitOptions& o) {
  const Device device = use_device(o.device, "init");
  Generator gen(o.seed);
  models::VisionTransformer encoder(encoder_config(o.spec), gen);
  encoder.to(device);
  EncoderSpec written = o.spec;
  written.depth = encoder.config().depth;
  std::map<std::string, std::string> metadata = spec_metadata(written);
  metadata["seed"] = std::to_string(o.seed);
  save_safetensors(o.out, encoder.state_dict(), metadata);
  std::cout << "wrote " << written.model << " (patch " << written.patch << ", " << written.img << " px, channels "
            << written.channels << ", depth " << written.depth << ", " << encoder.num_parameters() << " parameters) to "
            << o.out << "\n";
}

struct EmbedOptions {
  EncoderSpec spec;
  std::string weights, prefix, input, out, device = "cpu";
  int64_t batch_size = 64;
};

void run_embed(EmbedOptions o) {
  const Device device = use_device(o.device, "embed");
  JEPA_CHECK(o.batch_size > 0, "embed", "--batch-size must be positive, got ", o.batch_size);
  if (!o.prefix.empty() && o.prefix.back() != '.') o.prefix += '.';
  const SafeTensors file = load_safetensors(o.weights);
  const EncoderSpec spec = resolve_spec(o.spec, file.metadata, o.weights);
  Generator overwritten_init(0);
  models::VisionTransformer encoder(encoder_config(spec), overwritten_init);
  load_weights(encoder, file, {"embed", o.weights, o.prefix, spec.model + " encoder", prefix_hint(file)});
  encoder.set_training(false);
  encoder.to(device);

  const Tensor images = load_npy(o.input, DType::f32);  // (N, C, H, W)
  JEPA_CHECK(images.dim() == 4 && images.size(1) == spec.channels && images.size(2) == spec.img &&
                 images.size(3) == spec.img,
             "embed", "input ", o.input, " has shape ", images.shape(), "; the encoder expects (N, ", spec.channels,
             ", ", spec.img, ", ", spec.img, ")");
  const int64_t n = images.size(0);
  std::vector<Tensor> batches;  // each (b, tokens, D)
  NoGrad no_grad;
  for (int64_t start = 0; start < n; start += o.batch_size)
    batches.push_back(encoder.forward(images.narrow(0, start, std::min(o.batch_size, n - start)).to(device)));
  const Tensor embeddings = batches.empty() ? zeros({0, encoder.config().num_patches(), encoder.config().dim})
                                            : cat(batches, 0).to(Device::cpu());  // (N, tokens, D)
  save_npy(o.out, embeddings);
  std::cout << "embedded " << n << " images with " << spec.model << " into " << embeddings.shape() << ": " << o.out
            << "\n";
}

void add_spec_options(CLI::App& command, EncoderSpec& spec, bool required) {
  command.add_option("--model", spec.model, "vit_tiny, vit_small, vit_base, vit_large, vit_huge or vit_giant")
      ->required(required);
  command.add_option("--patch", spec.patch, "patch size in pixels")->required(required);
  command.add_option("--img", spec.img, "image height and width in pixels")->required(required);
  command.add_option("--channels", spec.channels, "image channels")->required(required);
  command.add_option("--depth", spec.depth, "encoder blocks, overriding the model's (0 or absent: the model's)");
}

}  // namespace

void register_init_embed(CLI::App& app) {
  auto init = std::make_shared<InitOptions>();
  CLI::App* init_cmd = app.add_subcommand("init", "write freshly initialised encoder weights (official names)");
  add_spec_options(*init_cmd, init->spec, true);
  init_cmd->add_option("--seed", init->seed, "random seed")->required();
  init_cmd->add_option("--out", init->out, "output .safetensors file")->required();
  add_device_flag(init_cmd, init->device);
  init_cmd->callback([init] { run_init(*init); });

  auto embed = std::make_shared<EmbedOptions>();
  CLI::App* embed_cmd = app.add_subcommand(
      "embed", "run an encoder on an (N, C, H, W) float32 .npy; write its (N, tokens, D) output as .npy");
  add_spec_options(*embed_cmd, embed->spec, false);
  embed_cmd->add_option("--weights", embed->weights, "encoder weights (.safetensors, official names)")->required();
  embed_cmd->add_option("--prefix", embed->prefix,
                        "read the encoder stored under this name prefix (e.g. target_encoder.)");
  embed_cmd->add_option("--input", embed->input, "images, (N, C, H, W) .npy")->required();
  embed_cmd->add_option("--out", embed->out, "output .npy, (N, tokens, D) float32")->required();
  embed_cmd->add_option("--batch-size", embed->batch_size, "images per forward pass")->capture_default_str();
  add_device_flag(embed_cmd, embed->device);
  embed_cmd->callback([embed] { run_embed(*embed); });
}

}  // namespace jepa::tool
