#!/usr/bin/env bash
# Installs the Debian packages a task needs, only those that are missing.
# Usage: scripts/install-deps.sh <task>...   tasks: build, test, run, bench, hip, reference
set -euo pipefail

packages=()
for task in "$@"; do
  case "$task" in
    build) packages+=(cmake g++ make zlib1g-dev) ;;
    test) packages+=(cmake g++ make zlib1g-dev doctest-dev libcli11-dev libopenblas-dev libpng-dev dataset-fashion-mnist) ;;
    run) packages+=(cmake g++ make zlib1g-dev libcli11-dev libpng-dev dataset-fashion-mnist) ;;
    bench) packages+=(libopenblas-dev) ;;
    hip) packages+=(hipcc libamdhip64-dev libomp-15-dev) ;;  # libomp: OpenMP for hipcc's clang 15
    reference) packages+=(python3-torch python3-numpy) ;;
    *) echo "install-deps: unknown task '$task'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq || echo "install-deps: apt-get update failed; trying the cached package lists" >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
