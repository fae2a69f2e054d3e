#!/usr/bin/env bash
# The main job of the quick start: installs what is missing, builds, gets
# MNIST-M (scripts/get-data.sh) and reproduces the paper with digitcnn-paper,
# writing the report to out/paper/ (out/paper-quick/ with --quick). Arguments go to digitcnn-paper
# (e.g. --quick for a check in a few minutes, --help for all options).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build="$DCNN_ROOT/build"
dcnn_ensure_packages $DCNN_BASE_PACKAGES curl ca-certificates
mkdir -p "$build"
# Only the program the job runs (the tests' targets are scripts/test.sh's): the first run compiles a
# third of the project.
DCNN_BUILD_TARGETS=digitcnn-paper dcnn_build "$build"
# A quick check writes its own report (out/paper-quick), never over the main job's. --help, --version and
# --print-settings need no data, --data names it, and so does $DIGITCNN_DATA (digitcnn-paper reads it):
# MNIST-M is fetched only otherwise. Option prefixes are matched as digitcnn-paper matches them.
out="$DCNN_ROOT/out/paper"
fetch=1
[ -n "${DIGITCNN_DATA:-}" ] && fetch=0
for arg in "$@"; do
  case "$arg" in
    --) break ;;
    -h | --h | --he* | --v | --ve* | --pri* | --d | --da*) fetch=0 ;;
    --q | --qu*) out="$DCNN_ROOT/out/paper-quick" ;;
  esac
done
if [ "$fetch" = 0 ]; then
  exec "$build/examples/digitcnn-paper" --out "$out" "$@"
fi
data=$(bash "$DCNN_ROOT/scripts/get-data.sh")
exec "$build/examples/digitcnn-paper" --data "$data" --out "$out" "$@"
