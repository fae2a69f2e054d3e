#!/bin/sh
# digitcnn-robustness --model on models saved under one file name (model.dcnn,
# as digitcnn-paper and digitcnn-table1 both write): each gets a name of its
# own in the CSV, the tables and the charts ("runA-model", "runB-model"; both
# were "model"; a third file whose stem is one of those names gets a number; a relative path is named from
# the directory it resolves to), and samples.png is drawn for the first model whatever its
# input shape (a 32x32 RGB model once failed there after the evaluations,
# leaving the previous run's picture). Loaded models are reported as loaded
# (they were "trained in 0 s"); a model whose preprocessing standardises is
# refused before any evaluation (it failed after the first model's clean
# figures). Skips (exit 77) without MNIST-M.
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
mkdir -p "$work/x" && cp "$work/runA/model.dcnn" "$work/x/runA-model.dcnn" # its stem is runA/model.dcnn's new name
# runA's model by a relative path from runA itself: named from its real directory (it was ".-model")
(cd "$work/runA" && "$robustness" --quick --pgd-images 10 --progress none --threads 2 --model model.dcnn \
  --model "$work/runB/model.dcnn" --model "$work/x/runA-model.dcnn" --data "$data" --out "$work/out") >"$work/log" 2>&1 ||
  { cat "$work/log"; fail "status $?"; }
for name in runA-model runB-model runA-model-2; do
  [ "$(grep -c "^$name,clean," "$work/out/robustness.csv")" = 1 ] || fail "not exactly one clean row for $name"
done
grep -q "^model,clean," "$work/out/robustness.csv" && fail "a model is still called 'model'"
[ -s "$work/out/samples.png" ] || fail "no samples.png"
[ -e "$work/out/models" ] && fail "--model left an OUT/models directory (nothing is trained to save there)"
grep -q "trained in 0 s" "$work/out/robustness.md" "$work/log" && fail "a loaded model was reported as trained in 0 s"
grep -q "^- \*\*runB-model\*\*: .* (loaded)$" "$work/out/robustness.md" || fail "robustness.md does not say runB-model was loaded"
grep -q "PGD on a stratified subset of [0-9]*):" "$work/log" || fail "the table does not say PGD ran on a subset"
# a standardising model after a plain one: refused before the plain one is evaluated
"$tiny" --standardize "$work/std.dcnn" "$work/image.png" >/dev/null || fail "cli_tiny_model --standardize"
"$robustness" --quick --pgd-images 10 --progress none --threads 2 --model "$work/runB/model.dcnn" --model "$work/std.dcnn" \
  --data "$data" --out "$work/std" >"$work/std.log" 2>&1
status=$?
[ "$status" -eq 1 ] && grep -q -- "--model $work/std.dcnn: .*standardises its output" "$work/std.log" ||
  { cat "$work/std.log"; fail "a standardising model: status $status, expected 1 naming the file"; }
grep -q "^clean:" "$work/std.log" && fail "a standardising model was found only after an evaluation"
# digitcnn-proxy --evaluate with a model of 20 outputs for the 10 digits: refused before the proxy is made and
# written (it wrote every proxy image, then failed in the metrics)
"$tiny" --classes20 "$work/c20.dcnn" "$work/image20.png" >/dev/null || fail "cli_tiny_model --classes20"
"$(dirname "$robustness")/digitcnn-proxy" --data "$data" --split test --limit 20 --threads 1 --out "$work/proxy20" \
  --evaluate "$work/c20.dcnn" >"$work/proxy20.log" 2>&1
status=$?
[ "$status" -eq 1 ] && grep -q "c20.dcnn gives (20) per image; the test images have 10 classes" "$work/proxy20.log" ||
  { cat "$work/proxy20.log"; fail "a 20-output model: status $status, expected 1 naming it"; }
[ -n "$(ls "$work/proxy20" 2>/dev/null | grep -v '^\.lock$')" ] && fail "the proxy was written for a model it cannot evaluate"
echo "two model.dcnn files and a runA-model.dcnn: named runA-model, runB-model and runA-model-2; samples.png written"
