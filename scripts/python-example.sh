#!/usr/bin/env bash
# The Python binding's example (bindings/python/examples/paper.py, the notebook
# paper.ipynb in script form): installs what is missing (matplotlib), builds the
# library, gets MNIST-M, then runs the notebook with Jupyter when it is
# installed and the script otherwise. --quick: a subset, in under a minute.
# Figures and the model go to out/python-paper/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  --quick) export DIGITCNN_QUICK=1 ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
build="$DCNN_ROOT/build"
dcnn_ensure_packages $DCNN_BASE_PACKAGES python3-matplotlib curl ca-certificates
mkdir -p "$build"
dcnn_build "$build"
# on its own line, so that a failing get-data.sh stops the script (set -e does not see into `export`)
if [ -z "${DIGITCNN_DATA:-}" ]; then
  DIGITCNN_DATA="$(bash "$DCNN_ROOT/scripts/get-data.sh")"
fi
export DIGITCNN_DATA
export DIGITCNN_LIBRARY="$build/lib/libdigitcnn.so"
export DIGITCNN_OUT="${DIGITCNN_OUT:-$DCNN_ROOT/out/python-paper}"
examples="$DCNN_ROOT/bindings/python/examples"
if command -v jupyter >/dev/null && jupyter nbconvert --version >/dev/null 2>&1; then
  dcnn_log "running the notebook with jupyter nbconvert --execute"
  mkdir -p "$DIGITCNN_OUT"
  PYDEVD_DISABLE_FILE_VALIDATION=1 jupyter nbconvert --to notebook --execute "$examples/paper.ipynb" --output-dir "$DIGITCNN_OUT" \
    --ExecutePreprocessor.timeout=-1
  dcnn_log "executed notebook: $DIGITCNN_OUT/paper.ipynb"
else
  dcnn_log "Jupyter is not installed: running the notebook's script form"
  /usr/bin/python3 "$examples/paper.py"
fi
