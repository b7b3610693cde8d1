// The subcommands of the `jepa` tool; each lives in its own source file and registers itself on
// the CLI11 app with its flags and the function that runs it.
#pragma once
#include <CLI/CLI.hpp>

namespace jepa::tool {

void register_train_ijepa(CLI::App& app);  // train_ijepa.cpp
void register_probe(CLI::App& app);        // probe.cpp
void register_init_embed(CLI::App& app);   // init_embed.cpp: `jepa init` and `jepa embed`
void register_train_vjepa(CLI::App& app);  // train_vjepa.cpp
void register_probe_video(CLI::App& app);  // probe_video.cpp
void register_surprise(CLI::App& app);     // surprise.cpp
void register_ac_predict(CLI::App& app);   // ac_predict.cpp

}  // namespace jepa::tool
