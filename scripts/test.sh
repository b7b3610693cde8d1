#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs every test (CTest),
# then prints one summary line "N passed, N failed, N skipped". .ci/run calls exactly this.
# Usage: scripts/test.sh [preset]   cpu (default), cuda or hip: the cuda and hip presets build every
# GPU translation unit with nvcc or hipcc (no GPU needed) and run the GPU tests, which skip without
# a device. hip installs Debian's hipcc when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
preset=${1:-cpu}

if [ "$preset" = hip ]; then scripts/install-deps.sh test hip; else scripts/install-deps.sh test; fi
if [ "$preset" = cuda ] && ! command -v nvcc >/dev/null; then export PATH="$PATH:/usr/local/cuda/bin"; fi

cmake --preset "$preset"
cmake --build --preset "$preset" -j "$jobs"

log=build/$preset/ctest.log
set +e
ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
skipped=$(grep -c '\*\*\*Skipped\|Not Run' "$log" || true)
total=${total:-0}
failed=${failed:-0}
echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
exit "$status"
