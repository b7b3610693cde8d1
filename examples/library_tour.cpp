// The library in one page: trains a tiny V-JEPA for a few steps on physics clips, saves a
// checkpoint, resumes it into a model initialised differently, and probes the resumed encoder.
//   library_tour [DIR]   (default: library_tour_run)
// Prints {"saved_step":4,"resumed_step":4,"resumed_equal":true,"next_loss_equal":true,"count_acc":..,
// "position_r2":..}; exits 1 unless the resumed run equals the saved one and takes the same next step.
#include <filesystem>
#include <iostream>

#include <jepa/data/physics_clips.hpp>
#include <jepa/io/json.hpp>
#include <jepa/models/checkpoint.hpp>
#include <jepa/models/video_probes.hpp>
#include <jepa/models/vjepa.hpp>

using namespace jepa;

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : "library_tour_run";
  PhysicsConfig world;  // 16 frames of 16 x 16 pixels
  world.height = world.width = 16;
  models::VJEPAConfig config;
  config.encoder = models::vit_config("vit_tiny", 16, 4, 1);
  config.encoder.dim = 32, config.encoder.heads = 2, config.encoder.depth = 1;
  config.encoder.frames = world.frames, config.encoder.tubelet = 2;
  config.predictor = models::predictor_for(config.encoder, 16, 1);
  const int64_t batch = 4, tokens = config.encoder.num_patches();  // 8 x 4 x 4 tubelets
  // Forecasting: the first half of the clip's tubelets predict the second half.
  const auto rows = [&](int64_t from, int64_t to) {  // (B, to - from): the same tokens in every clip
    return arange(from, to, 1, DType::i64).unsqueeze(0).expand({batch, to - from}).contiguous();
  };
  const models::MaskPair mask{rows(0, tokens / 2), rows(tokens / 2, tokens)};
  const PixelStats stats = pixel_stats(world, 0);
  const auto clips = [&](int64_t step) {  // (B, 1, T, H, W)
    return normalize_clips(generate_batch(world, clip_seeds(0, ClipStream::train, step * batch, batch)).frames, stats);
  };
  models::TrainRecipe recipe;
  recipe.iterations_per_epoch = 5;

  Generator init(0), other_init(1);
  models::VJEPA model(config, init), resumed(config, other_init);
  models::JepaTrainer trainer(model.encoder, model.predictor, model.target_encoder, recipe);
  for (int64_t step = 0; step < 4; ++step) trainer.step([&] { return model.loss(clips(step), {mask}); });
  std::filesystem::create_directories(dir);
  models::save_checkpoint(models::checkpoint_in(dir), trainer, {models::kVJEPACheckpointFormat, {{"seed", "0"}}, ""});

  models::JepaTrainer continued(resumed.encoder, resumed.predictor, resumed.target_encoder, recipe);
  const models::Checkpoint saved = models::load_checkpoint(models::checkpoint_in(dir), models::kVJEPACheckpointFormat);
  models::resume(continued, saved);
  const int64_t resumed_step = continued.steps_taken();
  const nn::NamedTensors a = models::training_state(trainer), b = models::training_state(continued);
  bool equal = a.size() == b.size();
  for (size_t i = 0; equal && i < a.size(); ++i) equal = a[i].second.to_vector<double>() == b[i].second.to_vector<double>();
  const double next = trainer.step([&] { return model.loss(clips(4), {mask}); }).loss;
  const double next_resumed = continued.step([&] { return resumed.loss(clips(4), {mask}); }).loss;

  const models::VideoProbeScores probe = models::evaluate_video_probes(
      *resumed.target_encoder, models::video_probe_clips(world, 0, ClipStream::probe_train, 32),
      models::video_probe_clips(world, 0, ClipStream::probe_test, 16), {2, 8, 1e-3, 0.01, 0});
  std::cout << json::ObjectWriter()
                   .add("saved_step", saved.step)
                   .add("resumed_step", resumed_step)
                   .add("resumed_equal", equal)
                   .add("next_loss_equal", next == next_resumed)
                   .add("count_acc", probe.count_accuracy)
                   .add("position_r2", probe.position_r2)
                   .str()
            << std::endl;
  return equal && next == next_resumed ? 0 : 1;
}
