#!/usr/bin/env bash
# Times the I-JEPA quick-start training step in jepa-cpp and in PyTorch on the same CPU threads,
# alternating (3 rounds each, medians), and prints one JSON line with both and their ratio.
# Usage: bench/run_train_step.sh [threads]    (needs a cpu build and Debian's python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
scripts/install-deps.sh reference
bin=build/cpu/bench/bench_train_step
[ -x "$bin" ] || cmake --build --preset cpu --target bench_train_step
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ours=() theirs=()
for round in 1 2 3; do
  ours+=("$("$bin" --threads "$threads" --steps 8 --dump "$work/work.safetensors")")
  theirs+=("$(OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
              /usr/bin/python3 bench/ref/train_step.py "$work/work.safetensors" --threads "$threads")")
  echo "round $round: ${ours[-1]}" >&2
  echo "round $round: ${theirs[-1]}" >&2
done
/usr/bin/python3 - "$threads" "${ours[@]}" "${theirs[@]}" <<'PY'
import json, statistics, sys
threads = int(sys.argv[1]); runs = [json.loads(a) for a in sys.argv[2:]]
ours = statistics.median(r["images_per_s"] for r in runs if r["impl"] == "jepa-cpp")
theirs = statistics.median(r["images_per_s"] for r in runs if r["impl"] == "pytorch")
print(json.dumps({"bench": "train_step", "threads": threads, "images_per_s": ours,
                  "pytorch_images_per_s": theirs, "ratio": round(ours / theirs, 3)}))
PY
