#!/usr/bin/env bash
# The test command of the quick start: installs what is missing, builds, runs
# the whole test suite. `--sanitize` builds and runs it under ASan + UBSan;
# `--clang` builds with clang (warnings are errors) and runs the quick tests
# and the install test; `--avx2` builds the library's kernels no wider than
# AVX2 and runs the quick and MPI tests; `--portable` does the same with the
# kernels every x86-64 CPU runs (SSE2, as on a CPU without AVX2);
# `--tsan` builds with clang and ThreadSanitizer (library threads 1: libomp is
# not instrumented) and runs the tests labelled `concurrency`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build="$DCNN_ROOT/build"
cmake_args=(-DDCNN_WERROR=ON)
packages="$DCNN_BASE_PACKAGES"
ctest_args=()
if [ $# -gt 1 ]; then
  echo "$0: one build at a time, got $*" >&2
  echo "usage: $0 [--sanitize | --clang | --avx2 | --portable | --tsan]" >&2
  exit 2
fi
case "${1:-}" in
  -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --sanitize)
    build="$DCNN_ROOT/build-sanitize"
    cmake_args+=(-DDCNN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  --clang)
    build="$DCNN_ROOT/build-clang"
    packages="$packages clang libomp-14-dev"
    cmake_args+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
    # and the install test (label toolchain): gcc links the clang-built static library
    ctest_args+=(-L 'quick|toolchain') ;;
  --avx2)
    # What an AVX2-only CPU runs, on any CPU: the tolerances of the quick and MPI
    # tests hold there too. OpenBLAS picks its own kernels: Haswell's are its AVX2
    # ones, which would fault if forced on a CPU without AVX2.
    build="$DCNN_ROOT/build-avx2"
    cmake_args+=(-DDCNN_CPU_CEILING=avx2)
    if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
      export OPENBLAS_CORETYPE=Haswell
    else
      dcnn_log "this CPU has no AVX2: the capped build runs what the default build runs"
    fi
    # anchored: ctest -L takes a regular expression and matches it inside labels
    ctest_args+=(-L '^(quick|mpi)$' --no-tests=error) ;;
  --portable)
    # What a CPU without AVX2 runs: the library's portable kernels, and
    # OpenBLAS's Prescott (SSE3) ones, which every x86-64 CPU it supports runs.
    build="$DCNN_ROOT/build-portable"
    cmake_args+=(-DDCNN_CPU_CEILING=portable)
    export OPENBLAS_CORETYPE=Prescott
    ctest_args+=(-L '^(quick|mpi)$' --no-tests=error) ;;
  --tsan)
    build="$DCNN_ROOT/build-tsan"
    packages="$packages clang libclang-rt-14-dev libomp-14-dev"
    cmake_args+=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DDCNN_TSAN=ON
                 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDCNN_BUILD_EXAMPLES=OFF)
    ctest_args+=(-L concurrency --no-tests=error)
    # Any report fails the test; libomp (serial regions only, at 1 thread) is
    # not instrumented, so its own accesses are not checked (libomp's advice).
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1 ${TSAN_OPTIONS:-}" ;;
  "")
    # test python_notebook executes the quick-start notebook (it skips without these);
    # test_onnx_opencv and test_onnx_torch run a second runtime and PyTorch's exporter
    packages="$packages jupyter-nbconvert python3-ipykernel python3-opencv python3-torch"
    # cli_mnistm_overlap reads MNIST-M's PNGs with PIL (it skips without it)
    packages="$packages python3-pil"
    # test_onnx_ort needs npm: Debian's nodejs and npm unless the machine has a
    # Node.js of its own (NodeSource's nodejs bundles npm and conflicts with Debian's).
    command -v npm >/dev/null || packages="$packages nodejs npm" ;;
  *) echo "usage: $0 [--sanitize | --clang | --avx2 | --portable | --tsan]" >&2; exit 2 ;;
esac

dcnn_ensure_packages $packages
# test_model_file saves under a decimal-comma locale and loads under C (and the
# reverse); it generates the locale privately when it is missing, this only saves it the time.
if [ "$(id -u)" -eq 0 ] && ! grep -qi '^de_DE\.utf-\?8$' <<< "$(locale -a 2>/dev/null || true)"; then
  localedef -i de_DE -f UTF-8 de_DE.UTF-8 || dcnn_log "could not generate de_DE.UTF-8; test_model_file generates it itself"
fi
# Real-data tests use MNIST-M from a local mirror (../shared/data or
# DIGITCNN_DATA_MIRROR) when there is one; they skip, saying so, when there is none.
if [ -n "${DIGITCNN_DATA_MIRROR:-}" ] || [ -f "$DCNN_ROOT/../shared/data/mnist_m.tar.gz" ]; then
  bash "$DCNN_ROOT/scripts/get-data.sh" >/dev/null
fi
mkdir -p "$build"
# test_onnx_ort runs the ONNX exports in ONNX Runtime: the npm package
# onnxruntime-node ships its CPU binaries (the install step that would fetch the
# CUDA ones from elsewhere is skipped). The test skips, saying so, without it.
if [ -z "${1:-}" ] && command -v npm >/dev/null && [ ! -d "$build/npm/node_modules/onnxruntime-node" ]; then
  ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$build/npm" --no-audit --no-fund --loglevel=error \
    onnxruntime-node@1.30.0 >/dev/null || dcnn_log "could not install onnxruntime-node; test_onnx_ort will skip"
fi
dcnn_build "$build" "${cmake_args[@]}"
dcnn_log "running the tests in $build"
cd "$build"
run=()
if [ "${1:-}" = --tsan ]; then
  # clang 14's TSan runtime cannot map its shadow memory on kernels with many
  # ASLR bits ("unexpected memory mapping"): run without ASLR when allowed.
  if setarch "$(uname -m)" -R true 2>/dev/null; then run=(setarch "$(uname -m)" -R); fi
fi
"${run[@]}" ctest --output-on-failure -j "$(nproc)" "${ctest_args[@]}"
