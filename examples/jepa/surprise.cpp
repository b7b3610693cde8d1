// `jepa surprise --checkpoint DIR`: the intuitive-physics test of V-JEPA (models/surprise.hpp) on
// the physics world of a train-vjepa run: for each impossible event (a ball vanishes behind the
// occluder, teleports, or reverses without a collision), the AUC of telling impossible twins from
// possible clips by the predictor's error, the fraction of twin pairs where the impossible one is
// the more surprising, and the figures that say whether the test can work (the twins' gap, the
// error on possible clips, the error of a forecast without balls); the same for a randomly
// initialised model as the baseline.
// Ends with {"surprise_auc_vanish":..,"surprise_auc_teleport":..,"surprise_auc_reverse":..,
// ..., "surprise_twin_gap_vanish":..,"surprise_possible_error_vanish":..,
// "surprise_ball_free_error_vanish":..,...,"random_init_auc_vanish":..,...}; a world without an
// occluder has no vanish figures.
#include <jepa/models/surprise.hpp>

#include "commands.hpp"
#include "metrics.hpp"
#include "vjepa_options.hpp"

namespace jepa::tool {
namespace {

struct SurpriseFlags {
  std::string checkpoint;
  int64_t pairs = 200, batch = 32, mask_index = -1, threads = 0;
  std::string device = "cpu";
};

void surprise_test(const SurpriseFlags& flags) {
  const Device device = use_device(flags.device, "surprise");
  use_threads(flags.threads);
  const TrainedVJEPA trained = load_vjepa_run(flags.checkpoint, device);
  const VJEPARunOptions& run = trained.run;
  // The predictor learnt forecasting with the future-prediction mask's token, when the run had one.
  const int64_t mask_index = flags.mask_index >= 0 ? flags.mask_index : run.future_keep > 0 ? 2 : 0;
  std::cout << "surprise test of " << trained.path << " (step " << trained.step << "): " << flags.pairs
            << " pairs per event, mask token " << mask_index << "\n";
  const std::vector<models::SurpriseClips> clips =
      models::surprise_clips(run.physics_config(), run.seed, flags.pairs, run.tubelet);

  std::map<std::string, double> figures;
  for (const bool random : {false, true}) {
    const models::VJEPA& model = random ? *trained.random_init : *trained.model;
    const std::string prefix = random ? "random_init_" : "surprise_";
    for (const models::EventSurprise& e : models::evaluate_surprise(model, clips, mask_index, flags.batch)) {
      const std::string name = event_name(e.kind);
      figures[prefix + "auc_" + name] = e.auc;
      figures[prefix + "pair_acc_" + name] = e.pair_accuracy;
      figures[prefix + "twin_gap_" + name] = e.twin_gap;
      figures[prefix + "possible_error_" + name] = e.possible_error;
      figures[prefix + "ball_free_error_" + name] = e.ball_free_error;
      std::cout << (random ? "random-init model, " : "V-JEPA, ") << name << ": AUC " << e.auc
                << ", impossible twin more surprising in " << e.pair_accuracy
                << " of pairs; the twins' targets differ by " << e.twin_gap << " after the event, the error on possible clips is "
                << e.possible_error << " (a forecast without balls: " << e.ball_free_error << ")" << std::endl;
    }
  }

  json::ObjectWriter result;
  for (const char* prefix : {"surprise_", "random_init_"})
    for (const char* measure : {"auc_", "pair_acc_", "twin_gap_", "possible_error_", "ball_free_error_"})
      for (const models::SurpriseClips& twins : clips) {
        const std::string key = std::string(prefix) + measure + event_name(twins.kind);
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
