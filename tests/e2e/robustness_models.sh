#!/bin/sh
# digitcnn-robustness --model on models saved under one file name (model.dcnn,
# as digitcnn-paper and digitcnn-table1 both write): each gets a name of its
# own in the CSV, the tables and the charts ("runA-model", "runB-model"; both
# were "model"), and samples.png is drawn for the first model whatever its
# input shape (a 32x32 RGB model once failed there after the evaluations,
# leaving the previous run's picture). Skips (exit 77) without MNIST-M.
set -u
robustness="$1"; tiny="$2"; data="$3"; work="$4"
if [ ! -f "$data/mnist_m_test_labels.txt" ]; then
  echo "MNIST-M not found in $data (run scripts/get-data.sh): skipped"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work/runA" "$work/runB"
"$tiny" "$work/runA/model.dcnn" "$work/image.png" >/dev/null || fail "cli_tiny_model"
cp "$work/runA/model.dcnn" "$work/runB/model.dcnn"
"$robustness" --quick --pgd-images 10 --progress none --threads 2 --model "$work/runA/model.dcnn" --model "$work/runB/model.dcnn" \
  --data "$data" --out "$work/out" >"$work/log" 2>&1 || { cat "$work/log"; fail "status $?"; }
for name in runA-model runB-model; do
  grep -q "^$name,clean," "$work/out/robustness.csv" || fail "no CSV rows for $name"
done
grep -q "^model,clean," "$work/out/robustness.csv" && fail "a model is still called 'model'"
[ -s "$work/out/samples.png" ] || fail "no samples.png"
echo "two model.dcnn files: named runA-model and runB-model; samples.png written"
