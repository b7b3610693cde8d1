// jepa: train and evaluate JEPA world models from the command line.
//   jepa train-ijepa --out DIR        pretrain I-JEPA (Fashion-MNIST quick-start by default)
//   jepa probe --checkpoint DIR       linear probe of the trained encoder vs baselines
//   jepa train-vjepa --out DIR        pretrain V-JEPA on synthetic physics clips
//   jepa probe-video --checkpoint DIR attentive probes of ball positions, velocities and counts
//   jepa surprise --checkpoint DIR    intuitive-physics surprise test (impossible vs possible clips)
//   jepa init / jepa embed            write encoder weights; run an encoder on a .npy batch
//   jepa ac-predict --weights W ...   run a V-JEPA 2-AC predictor on .npy tokens, actions and states
// Run `jepa <command> --help` for the flags of each.
#include <iostream>

#include <jepa/core/error.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"jepa: JEPA world models in C++ (I-JEPA, V-JEPA, V-JEPA 2-AC) on CPU and GPU"};
  app.require_subcommand(1);
  jepa::tool::register_train_ijepa(app);
  jepa::tool::register_probe(app);
  jepa::tool::register_init_embed(app);
  jepa::tool::register_train_vjepa(app);
  jepa::tool::register_probe_video(app);
  jepa::tool::register_surprise(app);
  jepa::tool::register_ac_predict(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const jepa::Error& e) {
    std::cerr << "jepa: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
