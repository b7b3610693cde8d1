#!/usr/bin/env bash
# The check to run whenever a GPU is at hand. Builds the GPU test suite and benchmark for the GPU
# present with plain nvcc and g++ (no CMake, apt or doctest package needed on that machine), runs
# the tests on cuBLAS and on the own GEMM kernel, then under compute-sanitizer memcheck and
# racecheck, then the benchmarks: bench_cuda (GEMM against cuBLAS, fused attention, I-JEPA
# training steps at ViT-S/16 and ViT-B/16, 224x224, batch 64) and, where python3 has torch with
# CUDA, PyTorch on the same work (bench/ref/train_step.py: official attention, SDPA, fused AdamW,
# torch.compile; bench/ref/gpu_ops.py: attention against scaled_dot_product_attention, GEMM
# against torch.matmul). Writes bench/RESULTS.md (date, GPU, commit, the table); every figure
# also stays in the log directory as JSON lines. Sized for 10 minutes of GPU time.
# Usage: scripts/gpu-check.sh [--emulate] [--doctest DIR] [--commit SHA] [--out FILE]
#   --emulate   the plumbing on the emulated GPU instead (what CI runs): the emu preset's programs
#               (built here if missing), a filtered test run, tiny benchmark sizes, PyTorch on the
#               CPU when there is one; no sanitizer.
#   --doctest   directory holding doctest/doctest.h (default: /usr/include, or build/gpu-deps/include)
#   --commit    the commit measured, when the tree has no .git (default: git rev-parse HEAD)
#   --out       where the table goes (default bench/RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
emulate=0 doctest_dir="" commit="" out=bench/RESULTS.md test_filter=""
while [ $# -gt 0 ]; do
  case "$1" in
    --emulate) emulate=1 ;;
    --doctest) doctest_dir=$2; shift ;;
    --commit) commit=$2; shift ;;
    --out) out=$2; shift ;;
    --test-filter) test_filter=$2; shift ;;  # doctest --test-case pattern (CI's plumbing check)
    *) echo "gpu-check: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$commit" ] || commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
log=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
figures=$log/figures.jsonl
: >"$figures"  # the report runs whatever fails
status=()  # one "step: outcome" line per step, for the report
step() { echo "== $*" >&2; }

if [ "$emulate" = 1 ]; then
  build=build/emu
  tests=$build/tests/jepa_emu32_tests bench=$build/bench/bench_emu
  if [ ! -x "$tests" ] || [ ! -x "$bench" ]; then
    cmake --preset emu >/dev/null
    cmake --build --preset emu -j "$(nproc)" --target jepa_emu32_tests bench_emu
  fi
  gpu_name="emulated GPU (warp 32, on $(nproc) CPU cores)"
  torch_device=cpu
else
  export PATH="$PATH:/usr/local/cuda/bin"
  command -v nvcc >/dev/null || { echo "gpu-check: no nvcc on PATH or in /usr/local/cuda/bin" >&2; exit 1; }
  for dir in "$doctest_dir" /usr/include build/gpu-deps/include; do
    if [ -n "$dir" ] && [ -f "$dir/doctest/doctest.h" ]; then doctest_dir=$dir; break; fi
  done
  [ -f "$doctest_dir/doctest/doctest.h" ] || { echo "gpu-check: doctest/doctest.h not found (--doctest DIR)" >&2; exit 1; }
  build=build/gpu-check
  mkdir -p "$build"
  step "build for $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
  includes=(-Iinclude -Ibackends -Imodels)
  printf '#include <jepa/backends/gpu/implementation.hpp>\n' >"$build/kernels.cu"
  nvcc -std=c++20 -O2 -arch=native --expt-relaxed-constexpr --extended-lambda -Xcompiler=-fopenmp,-Wall,-Wextra \
       --diag-suppress=1675 "${includes[@]}" -c "$build/kernels.cu" -o "$build/kernels.o" &
  cxx=(g++ -std=c++20 -O2 -fopenmp -Wall -Wextra "${includes[@]}")
  "${cxx[@]}" -I"$doctest_dir" -c tests/main.cpp -o "$build/main.o" &
  "${cxx[@]}" -I"$doctest_dir" -c tests/test_gpu.cpp -o "$build/test_gpu.o" &
  "${cxx[@]}" -c bench/bench_gpu.cpp -o "$build/bench_gpu.o" &
  wait
  link=(nvcc -Xcompiler=-fopenmp "$build/kernels.o" -lcublas)
  "${link[@]}" "$build/main.o" "$build/test_gpu.o" -o "$build/jepa_cuda_tests"
  "${link[@]}" "$build/bench_gpu.o" -o "$build/bench_cuda"
  tests=$build/jepa_cuda_tests bench=$build/bench_cuda
  gpu_name=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)
  torch_device=cuda
fi

run_tests() {  # label, then environment assignments and tool prefix
  local label=$1
  shift
  local args=()
  [ -z "$test_filter" ] || args=("--test-case=$test_filter")
  step "tests: $label"
  if env "$@" "$tests" "${args[@]}" >"$log/tests-${label// /_}.log" 2>&1; then
    status+=("tests, $label: passed ($(grep -o '[0-9]* passed' "$log/tests-${label// /_}.log" | tail -1))")
  else
    status+=("tests, $label: FAILED (see $log/tests-${label// /_}.log)")
    tail -30 "$log/tests-${label// /_}.log" >&2
  fi
}

if [ "$emulate" = 1 ]; then
  run_tests "own GEMM" JEPA_GPU_GEMM=own
  status+=("compute-sanitizer: not run on the emulated GPU (ASan and UBSan check it in the emu preset)")
else
  run_tests "cuBLAS"
  run_tests "own GEMM" JEPA_GPU_GEMM=own
  sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  run_tests "memcheck" "$sanitizer" --tool memcheck --error-exitcode 1
  # racecheck is slow: the kernels that share memory between threads.
  test_filter="*attention*,*layer_norm*,*softmax*,*sum*,*GEMM*" run_tests "racecheck" "$sanitizer" --tool racecheck \
    --error-exitcode 1
fi

step "bench"
mkdir -p "$log/work"
bench_args=(--dump-dir "$log/work")
[ "$emulate" = 0 ] || bench_args+=(--quick)
if "$bench" "${bench_args[@]}" >"$log/bench.jsonl" 2>"$log/bench.err"; then
  status+=("bench: $(wc -l <"$log/bench.jsonl") figures")
else
  status+=("bench: FAILED ($(tail -1 "$log/bench.err"))")
fi
cat "$log/bench.jsonl" >>"$figures"  # the cases measured before a failure stand

python=$(command -v python3 || true)
if [ -n "$python" ] && "$python" -c "import torch, sys; sys.exit(0 if '$torch_device' == 'cpu' or torch.cuda.is_available() else 1)" 2>/dev/null; then
  step "PyTorch $("$python" -c 'import torch; print(torch.__version__)') on $torch_device"
  variants=(official)
  if "$python" -c "import torch, sys; sys.exit(0 if int(torch.__version__.split('.')[0]) >= 2 else 1)"; then
    variants+=(sdpa sdpa_fused)
    [ "$emulate" = 1 ] || variants+=(sdpa_fused_compile)
  fi
  for work in "$log"/work/*.safetensors; do
    for variant in "${variants[@]}"; do
      "$python" bench/ref/train_step.py "$work" --device "$torch_device" --variant "$variant" >>"$figures" \
        2>>"$log/torch.err" || status+=("PyTorch $variant on $(basename "$work"): FAILED (see $log/torch.err)")
    done
  done
  quick=()
  [ "$emulate" = 0 ] || quick=(--quick)
  "$python" bench/ref/gpu_ops.py --device "$torch_device" "${quick[@]}" >>"$figures" 2>>"$log/torch.err" ||
    status+=("PyTorch ops: FAILED (see $log/torch.err)")
else
  status+=("PyTorch: not installed here (python3 with torch and CUDA), no comparison")
fi

step "report $out"
mkdir -p "$(dirname "$out")"
printf '%s\n' "${status[@]}" >"$log/status.txt"
python3 bench/ref/gpu_report.py --figures "$figures" --status "$log/status.txt" --gpu "$gpu_name" \
  --commit "$commit" --emulated "$emulate" >"$out"
cat "$out"
echo "figures and logs: $log" >&2
! grep -q "FAILED" "$log/status.txt"
