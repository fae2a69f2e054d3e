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
mkdir -p "$build"
dcnn_build "$build" "${cmake_args[@]}"
dcnn_log "running the tests in $build"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
