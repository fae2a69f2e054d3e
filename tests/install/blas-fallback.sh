#!/bin/sh
# The package files of a build that found OpenBLAS without its pkg-config file
# (FindBLAS, as on a system whose OpenBLAS ships no openblas.pc): configured
# with pkg-config unable to see any module, then installed and consumed (C and
# C++, shared and static, CMake and pkg-config) as test_install_consumer does.
# Its static library once named a target of the build in its exported links,
# and install(EXPORT) failed at configure time.
# Usage: sh tests/install/blas-fallback.sh [WORK_DIR] (default build-blas-fallback)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$src/build-blas-fallback}
rm -rf "$work"
mkdir -p "$work/no-modules"
PKG_CONFIG_LIBDIR="$work/no-modules" cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DDCNN_BUILD_EXAMPLES=OFF -DDCNN_BUILD_TESTS=OFF -DDCNN_MPI=OFF -DDCNN_ONNX=OFF >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; exit 1; }
grep -q 'BLAS = OpenBLAS via FindBLAS' "$work/configure.log" ||
  { echo "FAIL: the configure did not take the FindBLAS path:"; grep 'BLAS =' "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 || { tail -n 30 "$work/build.log"; exit 1; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$work/build/CMakeCache.txt")
sh "$src/tests/install/run.sh" "$work/build" "$src/tests/install/consumer" "$work/install" cmake "$version"
echo "ok: a FindBLAS build installs and its consumers link"
