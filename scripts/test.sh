#!/usr/bin/env bash
# The test command of the quick start: installs what is missing, builds, runs
# the whole test suite. `--sanitize` builds and runs it under ASan + UBSan.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build="$DCNN_ROOT/build"
cmake_args=(-DDCNN_WERROR=ON)
if [ "${1:-}" = "--sanitize" ]; then
  build="$DCNN_ROOT/build-sanitize"
  cmake_args+=(-DDCNN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi

dcnn_ensure_packages $DCNN_BASE_PACKAGES
# Real-data tests use MNIST-M from a local mirror (../shared/data or
# DIGITCNN_DATA_MIRROR) when there is one; they skip, saying so, when there is none.
if [ -n "${DIGITCNN_DATA_MIRROR:-}" ] || [ -f "$DCNN_ROOT/../shared/data/mnist_m.tar.gz" ]; then
  bash "$DCNN_ROOT/scripts/get-data.sh" >/dev/null
fi
mkdir -p "$build"
dcnn_build "$build" "${cmake_args[@]}"
dcnn_log "running the tests in $build"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
