#!/bin/sh
# The paper example twice with the same seed and thread count: the metrics
# must be identical to the last digit. Skips (exit 77) without MNIST-M.
set -eu
paper="$1"; data="$2"; work="$3"
if [ ! -f "$data/mnist_m_test_labels.txt" ]; then
  echo "MNIST-M not found in $data (run scripts/get-data.sh): skipped"
  exit 77
fi
rm -rf "$work"
for run in a b; do
  "$paper" --quick --epochs 1 --threads 2 --seed 7 --progress none --data "$data" --out "$work/$run" >"$work.$run.log" 2>&1 \
    || { cat "$work.$run.log"; exit 1; }
done
for f in metrics.json confusion.csv roc.csv model.dcnn; do
  cmp "$work/a/$f" "$work/b/$f" || { echo "$f differs between two runs with the same seed"; exit 1; }
done
cut -d, -f1,3- "$work/a/history.csv" >"$work/a.history" # all but the seconds column
cut -d, -f1,3- "$work/b/history.csv" >"$work/b.history"
cmp "$work/a.history" "$work/b.history" || { echo "history differs between two runs"; exit 1; }
grep "Test Accuracy" "$work.a.log" | head -n 1
echo "two runs with seed 7 and 2 threads: identical metrics.json, confusion.csv, roc.csv, model.dcnn (weights) and history"
