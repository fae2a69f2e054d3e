#!/usr/bin/env bash
# The main job of the quick start: installs what is missing, builds, gets
# MNIST-M (scripts/get-data.sh) and reproduces the paper with digitcnn-paper,
# writing the report to out/paper/. Arguments go to digitcnn-paper
# (e.g. --quick for a check in a few minutes, --help for all options).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build="$DCNN_ROOT/build"
dcnn_ensure_packages $DCNN_BASE_PACKAGES curl ca-certificates
mkdir -p "$build"
dcnn_build "$build"
# --help and --version need no data, and --data names it: MNIST-M is fetched only otherwise
for arg in "$@"; do
  case "$arg" in
    --help | --version | --data | --data=*) exec "$build/examples/digitcnn-paper" --out "$DCNN_ROOT/out/paper" "$@" ;;
  esac
done
data=$(bash "$DCNN_ROOT/scripts/get-data.sh")
exec "$build/examples/digitcnn-paper" --data "$data" --out "$DCNN_ROOT/out/paper" "$@"
