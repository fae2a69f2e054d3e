#!/bin/sh
# digitcnn-paper's test-set evaluation under mpirun is sharded over the ranks
# (batch b on rank b mod size) and reassembled with one all-reduce: 2 ranks
# must write the same metrics.json, confusion.csv and roc.csv as 1 process,
# byte for byte, for the same weights (a model trained for 1 quick epoch and
# resumed after it, so only the evaluation runs: a copy of its checkpoint
# without the identity.txt beside it, since the process count is part of a
# run's identity and 2 ranks refuse to continue 1 process's run, which is
# checked too). Skips (77) without MNIST-M.
#   paper_evaluate.sh MPIRUN DIGITCNN_PAPER DATA WORK
set -u
mpirun="$1"; paper="$2"; data="$3"; work="$4"
if [ ! -f "$data/mnist_m_test_labels.txt" ]; then
  echo "MNIST-M not found in $data (run scripts/get-data.sh): skipped"
  exit 77
fi
. "$(dirname "$0")/env.sh"
rm -rf "$work"; mkdir -p "$work"
common="--quick --epochs 1 --threads 1 --progress none --data $data"
"$paper" $common --out "$work/trained" >"$work/trained.log" 2>&1 || { cat "$work/trained.log"; exit 1; }
"$paper" $common --resume "$work/trained/checkpoints/last.dcnn" --out "$work/one" >"$work/one.log" 2>&1 \
  || { cat "$work/one.log"; exit 1; }
timeout 600 "$mpirun" -np 2 --oversubscribe --allow-run-as-root "$paper" $common \
  --resume "$work/trained/checkpoints/last.dcnn" --out "$work/refused" >"$work/refused.log" 2>&1
status=$?
[ "$status" -eq 2 ] && grep -q "this command gives 'processes=2'" "$work/refused.log" ||
  { cat "$work/refused.log"; echo "FAIL: 2 ranks continuing 1 process's run: status $status, not 2 naming processes"; exit 1; }
mkdir -p "$work/weights" && cp "$work/trained/checkpoints/last.dcnn" "$work/weights/"
timeout 600 "$mpirun" -np 2 --oversubscribe --allow-run-as-root "$paper" $common \
  --resume "$work/weights/last.dcnn" --out "$work/two" >"$work/two.log" 2>&1 || { cat "$work/two.log"; exit 1; }
for f in metrics.json confusion.csv roc.csv; do
  cmp "$work/one/$f" "$work/two/$f" || { echo "FAIL: $f of 2 ranks differs from 1 process"; exit 1; }
done
grep -m1 "Test Accuracy" "$work/two.log"
echo "ok: the test set evaluated by 2 ranks gives 1 process's metrics.json, confusion.csv and roc.csv"
