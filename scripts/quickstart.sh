#!/usr/bin/env bash
# The main job: pretrain I-JEPA on Fashion-MNIST on the CPU, then linear-probe the encoder against
# a random-init encoder and raw pixels. Installs what is missing, builds the `jepa` tool, and
# prints where the checkpoint, metrics, loss plot and probe result are.
# Usage: scripts/quickstart.sh [output dir] [extra train-ijepa flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/quickstart}
shift || true

scripts/install-deps.sh run
cmake -S . -B build/quickstart -DCMAKE_BUILD_TYPE=Release -DJEPA_BUILD_TESTS=OFF -DJEPA_BUILD_BENCH=OFF >/dev/null
cmake --build build/quickstart --target jepa_tool -j "$(nproc)"
jepa=build/quickstart/examples/jepa

start=$(date +%s)
"$jepa" train-ijepa --out "$out" "$@"
"$jepa" probe --checkpoint "$out"
echo "quick-start finished in $(( $(date +%s) - start )) s; results in $out (probe.json, loss.png, metrics.jsonl)"
