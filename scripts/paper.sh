#!/usr/bin/env bash
# The main job of the quick start: installs what is missing, builds, gets the
# data and runs the paper reproduction. Arguments are passed to the example.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build="$DCNN_ROOT/build"
dcnn_ensure_packages $DCNN_BASE_PACKAGES
mkdir -p "$build"
dcnn_build "$build"
# Until the paper example lands this runs the smallest example; the command stays the same.
"$build/examples/digitcnn-hello" "$@"
