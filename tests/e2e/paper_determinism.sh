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

# The saved model classifies PNG files named on standard input with digitcnn-classify
# (preprocessing from the model's metadata): its top-1 accuracy on 200 test images agrees with
# the accuracy the paper example measured on its test subset (sampling noise: SD about 0.03).
classify="$(dirname "$paper")/digitcnn-classify"
head -n 200 "$data/mnist_m_test_labels.txt" >"$work/labels"
sed "s|^\([^ ]*\) .*|$data/mnist_m_test/\1|" "$work/labels" | "$classify" "$work/a/model.dcnn" >"$work/classified" \
  || { echo "digitcnn-classify failed"; exit 1; }
[ "$(wc -l <"$work/classified")" -eq 200 ] || { echo "digitcnn-classify printed $(wc -l <"$work/classified") lines for 200 images"; exit 1; }
correct=$(paste -d' ' "$work/labels" "$work/classified" | awk '{ split($4, top, " "); if ($2 == $4) n++ } END { print n + 0 }')
echo "digitcnn-classify: $correct of 200 test images right (top-1)"
measured=$(grep -m1 "Test Accuracy" "$work.a.log" | sed 's/.*: *//')
awk -v c="$correct" -v m="$measured" 'BEGIN { d = c / 200 - m; exit !(d < 0.12 && d > -0.12) }' \
  || { echo "digitcnn-classify: accuracy $correct/200 is far from the measured $measured"; exit 1; }
printf 'not a png' >"$work/broken.png"
if "$classify" "$work/a/model.dcnn" "$work/broken.png" 2>"$work/broken.err"; then
  echo "digitcnn-classify accepted a broken PNG"; exit 1
fi
grep -q "not a readable PNG" "$work/broken.err" || { cat "$work/broken.err"; exit 1; }

# --validation-only never loads the test set: it runs on a copy of MNIST-M without one, and
# writes the validation accuracy (plain and with the recipe's shifted copies) and the model.
mkdir -p "$work/train-only"
ln -s "$data/mnist_m_train" "$work/train-only/mnist_m_train"
ln -s "$data/mnist_m_train_labels.txt" "$work/train-only/mnist_m_train_labels.txt"
"$paper" --quick --epochs 1 --threads 2 --progress none --recipe best --set "tta=5" --validation-only --data "$work/train-only" \
  --out "$work/validation" >"$work.validation.log" 2>&1 || { cat "$work.validation.log"; exit 1; }
for key in accuracy accuracy_plain train_seconds; do
  grep -q "^$key=0*[0-9.]*[1-9]" "$work/validation/validation.txt" || { echo "validation.txt lacks $key"; exit 1; }
done
grep -q "^tta=5$" "$work/validation/validation.txt" || { echo "validation.txt: not the recipe's 5 copies"; exit 1; }
[ -f "$work/validation/model.dcnn" ] && [ -f "$work/validation/history.csv" ] || { echo "--validation-only wrote no model"; exit 1; }
if grep -q "Test Accuracy" "$work.validation.log"; then echo "--validation-only printed a test accuracy"; exit 1; fi
echo "--validation-only: $(grep -m1 '^Validation' "$work.validation.log")"

# --val-fraction 0 trains on every training image (the training and validation images of
# the runs above together), holds no validation split out, keeps the last epoch's weights
# and still writes the report.
"$paper" --quick --epochs 1 --threads 2 --progress none --val-fraction 0 --data "$data" --out "$work/all" \
  >"$work.all.log" 2>&1 || { cat "$work.all.log"; exit 1; }
every=$(sed -n 's/^data: \([0-9]*\) training, \([0-9]*\) validation.*/\1 + \2/p' "$work.a.log" | head -n 1)
grep -q "^data: $(($every)) training, 0 validation" "$work.all.log" \
  || { echo "--val-fraction 0 did not train on all $every images"; grep '^data:' "$work.all.log"; exit 1; }
grep -q "last epoch's weights" "$work.all.log" || { echo "--val-fraction 0: not the last epoch's weights"; exit 1; }
grep -q "Test Accuracy" "$work.all.log" || { echo "--val-fraction 0 printed no test accuracy"; exit 1; }
grep -q "no validation split" "$work/all/index.html" || { echo "--val-fraction 0: the report claims a validation split"; exit 1; }
if grep -q ">validation<" "$work/all/accuracy.svg"; then echo "--val-fraction 0: an empty validation curve"; exit 1; fi
echo "--val-fraction 0: $(grep -m1 '^data:' "$work.all.log")"
