// `jepa surprise --checkpoint DIR`: the intuitive-physics test of V-JEPA (Garrido et al., 2025)
// on the physics world. For each impossible event (a ball vanishes behind the occluder, teleports,
// or reverses without a collision), N scenes are rendered twice: as they happen, and with the
// event at frame e. The twins are identical before e, so the model gets the same context: the
// tubelets wholly before e. Its surprise at a clip is the predictor's L1 error against the layer-
// normed target-encoder features of every later tubelet (VJEPA::prediction_error). The score of a
// kind is the AUC (Mann-Whitney) of telling impossible from possible clips by that error, and the
// fraction of twin pairs where the impossible one is the more surprising; the same for a randomly
// initialised model as the baseline. Three more figures per kind say whether the test can work at
// all: the twin gap (how far the twins' target features are apart after the event, mean L1 per
// feature) against the predictor's error on the possible clips, and the error of a forecast that
// knows no balls: the target features of the possible clip with every ball erased from the first
// predicted frame on (occluder and background only). An impossible event can only stand out when
// the gap is well above the error, since the error of every possible clip is noise the event must
// rise above; and a predictor whose error is not below the ball-free one has not learnt to forecast
// the balls, so its error measures how much ball is in view rather than how surprising it is.
// Ends with {"surprise_auc_vanish":..,"surprise_auc_teleport":..,"surprise_auc_reverse":..,
// ..., "surprise_twin_gap_vanish":..,"surprise_possible_error_vanish":..,
// "surprise_ball_free_error_vanish":..,...,"random_init_auc_vanish":..,...}; a world without an
// occluder has no vanish figures.
#include <numeric>

#include "commands.hpp"
#include "metrics.hpp"
#include "physics_data.hpp"
#include "vjepa_options.hpp"

namespace jepa::tool {
namespace {

struct SurpriseFlags {
  std::string checkpoint;
  int64_t pairs = 200, batch = 32, mask_index = -1, threads = 0;
  std::string device = "cpu";
};

// P(a random impossible error > a random possible one), ties counting one half.
double mann_whitney_auc(const std::vector<double>& impossible, const std::vector<double>& possible) {
  double wins = 0;
  for (const double a : impossible)
    for (const double b : possible) wins += a > b ? 1.0 : a == b ? 0.5 : 0.0;
  return wins / static_cast<double>(impossible.size() * possible.size());
}

// Fraction of twin pairs whose impossible clip is the more surprising, ties counting one half.
double pair_accuracy(const std::vector<double>& impossible, const std::vector<double>& possible) {
  double wins = 0;
  for (size_t i = 0; i < impossible.size(); ++i)
    wins += impossible[i] > possible[i] ? 1.0 : impossible[i] == possible[i] ? 0.5 : 0.0;
  return wins / static_cast<double>(impossible.size());
}

struct Errors {
  std::vector<double> possible, impossible, twin_gap, ball_free;
};

double average(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// The clips with every ball erased from frame first_frame[i] of clip i on: only the background and
// the clip's occluder, drawn by the world's own renderer.
Tensor erase_balls(const ClipBatch& clips, const PhysicsConfig& world, const std::vector<int64_t>& first_frame) {
  Tensor out = clips.frames.clone();
  const int64_t n = out.size(0), T = world.frames, plane = world.height * world.width;
  const std::vector<int64_t> occluder = clips.occluder.to_vector<int64_t>();
  std::vector<float> empty(static_cast<size_t>(plane));
  for (int64_t i = 0; i < n; ++i) {
    const physics::Occluder bar{occluder[static_cast<size_t>(2 * i)], occluder[static_cast<size_t>(2 * i + 1)],
                                world.occluder_grey};
    physics::World(world.height, world.width, 0, bar, {}).render(world.background, empty.data());
    float* clip = out.data<float>() + i * T * plane;
    for (int64_t t = first_frame[static_cast<size_t>(i)]; t < T; ++t)
      std::copy(empty.begin(), empty.end(), clip + t * plane);
  }
  return out;
}

// The surprise of every clip of both sets, and the error of the ball-free forecast. Pairs are
// grouped by their number of context tubelets, so that each batch has rectangular masks.
Errors surprise(const models::VJEPA& model, int64_t mask_index, const Tensor& possible, const Tensor& impossible,
                const Tensor& ball_free, const std::vector<int64_t>& context_steps, int64_t batch) {
  const Device device = possible.device();
  const models::ViTConfig& c = model.config().encoder;
  const int64_t plane = c.grid() * c.grid(), tokens = c.num_patches(), n = possible.size(0);
  const auto per_clip = [n] { return std::vector<double>(static_cast<size_t>(n)); };
  Errors out{per_clip(), per_clip(), per_clip(), per_clip()};
  std::map<int64_t, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i) groups[context_steps[static_cast<size_t>(i)]].push_back(i);
  for (const auto& [steps, members] : groups) {
    const int64_t kept = steps * plane;
    for (size_t first = 0; first < members.size(); first += static_cast<size_t>(batch)) {
      const size_t last = std::min(members.size(), first + static_cast<size_t>(batch));
      const std::vector<int64_t> part(members.begin() + static_cast<std::ptrdiff_t>(first),
                                      members.begin() + static_cast<std::ptrdiff_t>(last));
      const auto b = static_cast<int64_t>(part.size());
      const Tensor idx = from_vector(part, {b}).to(device);
      const Tensor clips = cat({index_select(possible, 0, idx), index_select(impossible, 0, idx)});  // (2b, 1, T, H, W)
      const models::MaskPair masks{
          arange(kept).unsqueeze(0).expand({2 * b, kept}).contiguous().to(device),
          arange(kept, tokens, 1, DType::i64).unsqueeze(0).expand({2 * b, tokens - kept}).contiguous().to(device)};
      const Tensor features = model.target_features(cat({clips, index_select(ball_free, 0, idx)}));  // (3b, N, D)
      const Tensor targets = models::apply_masks(features.narrow(0, 0, 2 * b), {masks.target});    // (2b, Kp, D)
      const Tensor free_targets = models::apply_masks(features.narrow(0, 2 * b, b), {masks.target.narrow(0, 0, b)});
      const std::vector<double> errors = model.prediction_error(clips, masks, mask_index, targets).to_vector<double>();
      const Tensor possible_targets = targets.narrow(0, 0, b);
      const std::vector<double> gaps =
          mean(abs(possible_targets - targets.narrow(0, b, b)), {1, 2}).to_vector<double>();
      const std::vector<double> free = mean(abs(free_targets - possible_targets), {1, 2}).to_vector<double>();
      for (int64_t k = 0; k < b; ++k) {
        const auto at = static_cast<size_t>(part[k]);
        out.possible[at] = errors[static_cast<size_t>(k)];
        out.impossible[at] = errors[static_cast<size_t>(b + k)];
        out.twin_gap[at] = gaps[static_cast<size_t>(k)];
        out.ball_free[at] = free[static_cast<size_t>(k)];
      }
    }
  }
  return out;
}

void surprise_test(const SurpriseFlags& flags) {
  const Device device = use_device(flags.device, "surprise");
  use_threads(flags.threads);
  JEPA_CHECK(flags.pairs > 0 && flags.batch > 0, "surprise", "needs pairs and a batch size > 0, got ", flags.pairs,
             " and ", flags.batch);
  const TrainedVJEPA trained = load_vjepa_run(flags.checkpoint, device);
  const VJEPARunOptions& run = trained.run;
  const int64_t tokens_of_mask = static_cast<int64_t>(run.mask_config().masks.size());
  // The predictor learnt forecasting with the future-prediction mask's token, when the run had one.
  const int64_t mask_index = flags.mask_index >= 0 ? flags.mask_index : run.future_keep > 0 ? 2 : 0;
  JEPA_CHECK(mask_index < tokens_of_mask, "surprise", "--mask-index ", mask_index, " is not one of the run's ",
             tokens_of_mask, " mask tokens");
  const PhysicsConfig world = run.physics_config();
  const PixelStats stats = pixel_stats(world, run.seed);
  const std::vector<uint64_t> seeds = clip_seeds(run.seed, ClipStream::surprise, 0, flags.pairs);
  std::cout << "surprise test of " << trained.path << " (step " << trained.step << "): " << flags.pairs
            << " pairs per event, mask token " << mask_index << "\n";

  const ClipBatch possible_clips = generate_batch(world, seeds);
  const Tensor possible = normalize(possible_clips.frames, stats).to(device);
  std::map<std::string, double> figures;
  std::vector<Event> kinds{Event::teleport, Event::reverse};
  if (world.occluder) kinds.insert(kinds.begin(), Event::vanish);  // a ball can only vanish behind it
  for (const Event kind : kinds) {
    const ClipBatch impossible = generate_batch(world, seeds, kind);
    std::vector<int64_t> context_steps, first_predicted_frame;
    for (const int64_t e : impossible.event_frame.to_vector<int64_t>()) {
      context_steps.push_back(e / run.tubelet);
      first_predicted_frame.push_back(context_steps.back() * run.tubelet);
    }
    const Tensor frames = normalize(impossible.frames, stats).to(device);
    const Tensor ball_free = normalize(erase_balls(possible_clips, world, first_predicted_frame), stats).to(device);
    for (const bool random : {false, true}) {
      const models::VJEPA& model = random ? *trained.random_init : *trained.model;
      const Errors errors = surprise(model, mask_index, possible, frames, ball_free, context_steps, flags.batch);
      const std::string name = event_name(kind), prefix = random ? "random_init_" : "surprise_";
      figures[prefix + "auc_" + name] = mann_whitney_auc(errors.impossible, errors.possible);
      figures[prefix + "pair_acc_" + name] = pair_accuracy(errors.impossible, errors.possible);
      figures[prefix + "twin_gap_" + name] = average(errors.twin_gap);
      figures[prefix + "possible_error_" + name] = average(errors.possible);
      figures[prefix + "ball_free_error_" + name] = average(errors.ball_free);
      std::cout << (random ? "random-init model, " : "V-JEPA, ") << name << ": AUC " << figures[prefix + "auc_" + name]
                << ", impossible twin more surprising in " << figures[prefix + "pair_acc_" + name]
                << " of pairs; the twins' targets differ by " << figures[prefix + "twin_gap_" + name]
                << " after the event, the error on possible clips is " << figures[prefix + "possible_error_" + name]
                << " (a forecast without balls: " << figures[prefix + "ball_free_error_" + name] << ")" << std::endl;
    }
  }

  json::ObjectWriter result;
  for (const char* prefix : {"surprise_", "random_init_"})
    for (const char* measure : {"auc_", "pair_acc_", "twin_gap_", "possible_error_", "ball_free_error_"})
      for (const Event kind : kinds) {
        const std::string key = std::string(prefix) + measure + event_name(kind);
        result.add(key, figures.at(key));
      }
  write_result(fs::path(flags.checkpoint) / "surprise.json", result.add("pairs", flags.pairs).add("step", trained.step),
               "surprise");
}

}  // namespace

void register_surprise(CLI::App& app) {
  auto flags = std::make_shared<SurpriseFlags>();
  CLI::App* cmd = app.add_subcommand("surprise", "intuitive-physics surprise test: AUC of impossible vs possible clips");
  cmd->add_option("--checkpoint", flags->checkpoint, "directory written by train-vjepa")->required();
  cmd->add_option("--pairs", flags->pairs, "possible/impossible clip pairs per event kind")->capture_default_str();
  cmd->add_option("--batch", flags->batch, "pairs per forward pass")->capture_default_str();
  cmd->add_option("--mask-index", flags->mask_index,
                  "predictor mask token (-1: the future-prediction mask's if the run has one, else 0)")
      ->capture_default_str();
  cmd->add_option("--threads", flags->threads, "CPU threads (0: OpenMP's default)");
  add_device_flag(cmd, flags->device);
  cmd->callback([flags] { surprise_test(*flags); });
}

}  // namespace jepa::tool
