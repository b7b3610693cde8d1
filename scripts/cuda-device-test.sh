#!/usr/bin/env bash
# Builds and runs the CUDA tests (and, with --bench, bench_cuda) on a GPU machine that has nvcc
# but neither CMake's doctest package nor apt: one nvcc command per program, for the architecture
# of the GPU present. The tests run twice: with cuBLAS, then with JEPA_GPU_GEMM=own.
# Usage: scripts/cuda-device-test.sh DOCTEST_INCLUDE_DIR [--bench] [--sanitize]
#   DOCTEST_INCLUDE_DIR contains doctest/doctest.h (copy /usr/include/doctest from a Debian machine).
#   --sanitize runs the tests under compute-sanitizer (memcheck) as well.
set -euo pipefail
cd "$(dirname "$0")/.."
doctest_dir=$1
shift
bench=0 sanitize=0
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    --sanitize) sanitize=1 ;;
    *) echo "cuda-device-test: unknown option '$arg'" >&2; exit 2 ;;
  esac
done
out=build/cuda-device
mkdir -p "$out"
flags=(-std=c++20 -O2 --expt-relaxed-constexpr --extended-lambda -Xcompiler=-fopenmp --diag-suppress=1675 -arch=native
       -Iinclude -Ibackends -Imodels -lcublas -lgomp)
nvcc "${flags[@]}" -I"$doctest_dir" tests/test_cuda.cu tests/main.cpp -o "$out/jepa_cuda_tests" &
tests_build=$!
if [ "$bench" = 1 ]; then nvcc "${flags[@]}" bench/bench_cuda.cu -o "$out/bench_cuda"; fi
wait "$tests_build"
"$out/jepa_cuda_tests"
JEPA_GPU_GEMM=own "$out/jepa_cuda_tests"  # every matmul on the own tiled GEMM kernel (the HIP default)
if [ "$sanitize" = 1 ]; then compute-sanitizer --tool memcheck --error-exitcode 1 "$out/jepa_cuda_tests"; fi
if [ "$bench" = 1 ]; then "$out/bench_cuda"; fi
