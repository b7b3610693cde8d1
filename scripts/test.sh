#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs every test (CTest),
# then prints one summary line "N passed, N failed, N skipped". .ci/run calls exactly this.
# Usage: scripts/test.sh [preset...]   default: cpu emu cuda hip.
#   cpu   builds everything for the CPU and runs all CPU tests;
#   emu   builds the GPU tests for the CPU emulation of a GPU (warp width 32 and 64) and runs them
#         under AddressSanitizer and UBSan: every GPU kernel executes, without a GPU;
#   cuda  builds every CUDA translation unit (tests, the jepa tool, benchmarks) with nvcc and runs
#         the tests labelled cuda, which skip without a GPU; skipped with a message without nvcc;
#   hip   the same with Debian's hipcc (installed when missing), tests labelled hip.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(cpu emu cuda hip)

passed=0 failed=0 skipped=0 status=0
run_preset() {
  local preset=$1 log=build/$1/ctest.log
  echo "== $preset"
  cmake --preset "$preset"
  cmake --build --preset "$preset" -j "$jobs"
  set +e
  ctest --preset "$preset" -j "$jobs" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  local total fail skip
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  fail=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  skip=$(grep -c '\*\*\*Skipped\|Not Run' "$log" || true)
  total=${total:-0} fail=${fail:-0}
  passed=$((passed + total - fail - skip)) failed=$((failed + fail)) skipped=$((skipped + skip))
  [ "$rc" -eq 0 ] || status=$rc
}

for preset in "${presets[@]}"; do
  case $preset in
    hip) scripts/install-deps.sh test hip ;;
    cuda)
      scripts/install-deps.sh test
      if ! command -v nvcc >/dev/null; then export PATH="$PATH:/usr/local/cuda/bin"; fi
      if ! command -v nvcc >/dev/null; then
        echo "== cuda: skipped, no nvcc on PATH or in /usr/local/cuda/bin (install the CUDA toolkit to build it)"
        continue
      fi ;;
    *) scripts/install-deps.sh test ;;
  esac
  run_preset "$preset"
done
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
